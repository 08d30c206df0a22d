//! Blob level: re-encode our layer the way the published blob was compressed and compare
//! digests.
//!
//! The published gzip blob is fingerprinted (header fields, member and block structure; see
//! [`layerproof_compress::fingerprint`]), and the likeliest compressors we can reproduce
//! exactly — Go's `compress/gzip` (what Docker engines push), pigz (debuerreotype's
//! `pigz --best --no-time`), GNU gzip `-n`, a plain zlib stream behind the blob's own header
//! (Python's `gzip`) — re-encode our layer. The compressor's own
//! parameters that the header records (pigz's stored name and mtime, the piece size) are taken
//! from the published blob and reported; the bytes compressed are always ours.

use std::io::{self, Read, Write};

use layerproof_archive::compression::{self, Compression};
use layerproof_archive::unpack::Hazard;
use layerproof_compress::fingerprint::{self, Compressor, Fingerprint};
use layerproof_compress::{gnu_gzip, go, pigz, zlib};
use layerproof_image::chain;
use layerproof_layer::{HashingWriter, Profile};
use serde::Serialize;

use crate::report::{
    Candidate, Inferred, LayerReport, Level, PublishedLayer, RebuiltLayer, StepInfo, Verdict,
};
use crate::verify::{Error, Run};

/// At most this many compressors are tried (each is a full compression of the layer).
pub const MAX_TRIES: usize = 2;

/// One re-encoding tried.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// The compressor and its settings, e.g. `Go compress/gzip, default level`.
    pub compressor: String,
    /// The digest our re-encoding produced.
    pub digest: String,
    /// Whether it is the published blob digest.
    pub matched: bool,
    /// Go's encoder was checked against the blob in this many chunks at once
    /// ([`go::check_parallel`]) instead of re-encoding the layer in one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_chunks: Option<usize>,
}

/// What the blob level found.
#[derive(Debug, Clone, Serialize)]
pub struct BlobReport {
    /// What the published blob's structure says about its compressor (likeliest first).
    pub fingerprint: Vec<String>,
    /// Evidence for the likeliest compressor.
    pub evidence: Vec<String>,
    /// Header fields taken from the published blob (pigz's stored name and mtime).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub header_fields: Vec<String>,
    /// Re-encodings tried, in order.
    pub attempts: Vec<Attempt>,
    /// What the parallel check of Go's encoder found when it did not prove the blob: where
    /// the first differing chunk starts, or why it gave up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel_check: Option<String>,
}

impl BlobReport {
    /// The matching attempt, if any.
    pub fn matched(&self) -> Option<&Attempt> {
        self.attempts.iter().find(|a| a.matched)
    }
}

/// A producer of our uncompressed layer bytes (called once per attempt).
pub type LayerBytes<'a> = &'a (dyn Fn(&mut dyn Write) -> io::Result<()> + Sync);

/// Opens the published blob again (for a parallel check to compare with).
pub type OpenBlob<'a> = &'a (dyn Fn() -> io::Result<Box<dyn Read + Send>> + Sync);

/// Go's gzip header for a lazy level: the level to check (`-1` = default, or 9; levels 2–8
/// write the default's header).
fn go_header_level(header: &[u8]) -> Option<i32> {
    [go::DEFAULT_COMPRESSION, go::BEST_COMPRESSION]
        .into_iter()
        .find(|&l| go::gzip_header(l) == header)
}

/// What [`fingerprint_and_check`] checked: Go's level and the outcome.
type GoCheck = Option<(i32, io::Result<go::Outcome>)>;

/// Fingerprint `blob`; when its header is Go's and `threads > 1`, check Go's encoder against
/// it in the same pass, on all cores ([`go::check_parallel`] fed by
/// [`fingerprint::fingerprint_streaming`]). The check is `None` when none ran.
fn fingerprint_and_check(
    blob: impl Read,
    open: OpenBlob<'_>,
    threads: usize,
) -> Result<(Fingerprint, GoCheck), fingerprint::Error> {
    // One more read of the blob, which the check compares with: its header says the level.
    let go_blob = (threads > 1)
        .then(open)
        .and_then(Result::ok)
        .and_then(|mut r| {
            let mut header = [0u8; 10];
            r.read_exact(&mut header).ok()?;
            Some((go_header_level(&header)?, io::Cursor::new(header).chain(r)))
        });
    let Some((level, mut compare)) = go_blob else {
        return Ok((fingerprint::fingerprint(blob)?, None));
    };
    let mut blob = Some(blob);
    let mut fp = None;
    let outcome = go::check_parallel(
        level,
        threads,
        go::CHUNK_TARGET,
        &mut compare,
        &mut |sink| {
            if let Some(b) = blob.take() {
                fp = Some(fingerprint::fingerprint_streaming(b, sink));
            }
            Ok(())
        },
    );
    let fp = match (fp, blob) {
        (Some(fp), _) => fp?,
        // the check stopped before reading the blob (at the header)
        (None, Some(b)) => fingerprint::fingerprint(b)?,
        (None, None) => {
            return Err(fingerprint::Error::Io(io::Error::other(
                "the blob was taken but not fingerprinted",
            )));
        }
    };
    Ok((fp, outcome.ok().map(|o| (level, o))))
}

fn digest_of(h: HashingWriter<io::Sink>) -> String {
    h.finish().1.to_string()
}

/// Re-encode `layer` with one compressor; the digest of the result.
fn encode(c: &Compressor, fp: &Fingerprint, layer: LayerBytes<'_>) -> Option<io::Result<String>> {
    Some(match c {
        Compressor::GoGzip { level } => {
            let level = level.map_or(-1, |l| l as i32);
            (|| {
                let mut w = go::GzipWriter::new(HashingWriter::new(io::sink()), level)
                    .map_err(|e| io::Error::other(e.to_string()))?;
                layer(&mut w)?;
                Ok(digest_of(w.finish()?))
            })()
        }
        // `gzip --rsyncable` resets its blocks on content; not re-encoded
        Compressor::GnuGzip {
            rsyncable: true, ..
        } => return None,
        Compressor::GnuGzip { level, .. } => piped(layer, |r| {
            gnu_gzip::compress(r, HashingWriter::new(io::sink()), level.unwrap_or(6))
        }),
        Compressor::Pigz { level, block_size } => {
            let opts = pigz::Options {
                level: level.unwrap_or(6),
                block_size: usize::try_from(*block_size).ok()?,
                mtime: fp.header.mtime,
                name: fp.header.name.clone(),
                comment: fp.header.comment.clone(),
                ..pigz::Options::default()
            };
            piped(layer, |r| {
                pigz::compress(r, HashingWriter::new(io::sink()), &opts)
            })
        }
        // one plain zlib stream behind the blob's own header (Python's gzip module, …)
        Compressor::Zlib { level } => {
            let header = fp.header.to_bytes();
            piped(layer, |r| {
                zlib::compress_gzip(
                    r,
                    HashingWriter::new(io::sink()),
                    level.unwrap_or(6),
                    &header,
                )
            })
        }
        Compressor::Unknown => return None,
    })
}

/// Run a reader-driven compressor over the layer bytes, produced on another thread.
fn piped(
    layer: LayerBytes<'_>,
    compress: impl FnOnce(&mut dyn Read) -> io::Result<HashingWriter<io::Sink>>,
) -> io::Result<String> {
    let (mut reader, writer) = io::pipe()?;
    std::thread::scope(|s| {
        let producer = s.spawn(move || {
            let mut w = io::BufWriter::with_capacity(1 << 16, writer);
            layer(&mut w)?;
            w.flush()
        });
        let out = compress(&mut reader);
        // unblock the producer if the compressor stopped early
        drop(reader);
        let produced = producer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("layer writer thread failed")));
        let out = out?;
        produced?;
        Ok(digest_of(out))
    })
}

/// Fingerprint the published gzip `blob` and try to reproduce `published_digest` by
/// re-encoding `layer` (`open` reads the blob again for a parallel check on up to `threads`
/// threads).
///
/// Go's lazy levels are first checked on all cores from the blob's resume points
/// ([`go::check_parallel`]); a difference found that way is confirmed, and its digest
/// reported, by the sequential re-encoding.
pub fn reproduce(
    blob: impl Read,
    open: OpenBlob<'_>,
    published_digest: &str,
    layer: LayerBytes<'_>,
    threads: usize,
) -> Result<BlobReport, fingerprint::Error> {
    let (fp, checked) = fingerprint_and_check(blob, open, threads)?;
    let mut report = BlobReport {
        fingerprint: fp
            .candidates
            .iter()
            .map(|c| c.compressor.to_string())
            .collect(),
        evidence: fp
            .candidates
            .first()
            .map(|c| c.evidence.clone())
            .unwrap_or_default(),
        header_fields: Vec::new(),
        attempts: Vec::new(),
        parallel_check: None,
    };
    if let Some(n) = &fp.header.name {
        report
            .header_fields
            .push(format!("stored name {:?}", String::from_utf8_lossy(n)));
    }
    if fp.header.mtime != 0 {
        report
            .header_fields
            .push(format!("stored mtime {}", fp.header.mtime));
    }
    // The parallel check of Go's encoder, done while fingerprinting: identical is the proof;
    // a difference (or giving up) leaves Go to the sequential re-encoding below, whose
    // digest is then reported.
    if let Some((level, outcome)) = checked {
        let compressor = Compressor::GoGzip {
            level: u32::try_from(level).ok(),
        };
        match outcome {
            Ok(go::Outcome::Identical { digest, chunks }) => {
                let matched = digest == published_digest;
                report.attempts.push(Attempt {
                    compressor: compressor.to_string(),
                    digest,
                    matched,
                    parallel_chunks: Some(chunks),
                });
                if matched {
                    return Ok(report);
                }
            }
            Ok(go::Outcome::Differs { what }) => {
                report.parallel_check = Some(format!("{compressor}: {what}"));
            }
            Ok(go::Outcome::Declined { why }) => {
                report.parallel_check = Some(format!("not run in parallel: {why}"));
            }
            Err(e) => report.parallel_check = Some(format!("failed: {e}")),
        }
    }
    for c in fp
        .candidates
        .iter()
        .map(|c| &c.compressor)
        .filter(|c| !matches!(c, Compressor::Unknown))
        .take(MAX_TRIES)
    {
        let Some(result) = encode(c, &fp, layer) else {
            continue;
        };
        let digest = match result {
            Ok(d) => d,
            Err(e) => format!("(re-encoding failed: {e})"),
        };
        let matched = digest == published_digest;
        report.attempts.push(Attempt {
            compressor: c.to_string(),
            digest,
            matched,
            parallel_chunks: None,
        });
        if matched {
            break;
        }
    }
    Ok(report)
}

// ---- the blob level of a reproduced layer ----

/// What the report of a reproduced layer is made of.
pub(crate) struct Match<'a> {
    pub(crate) index: usize,
    pub(crate) step: StepInfo,
    pub(crate) published: &'a chain::Layer,
    pub(crate) published_info: PublishedLayer,
    pub(crate) compression: Compression,
    pub(crate) profile: &'static Profile,
    pub(crate) rebuilt: RebuiltLayer,
    pub(crate) inferred: Vec<Inferred>,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) notes: Vec<String>,
    pub(crate) hazards: Vec<Hazard>,
}

impl Run<'_> {
    /// The report of a reproduced layer, with its blob level settled.
    pub(crate) fn reproduced(&self, m: Match<'_>, platform: &str) -> Result<LayerReport, Error> {
        // The bytes, for re-encoding. Ours equal the published layer's (equal skeletons or
        // diff_ids), so they are read back from the published blob — a stream, where
        // writing our tree would need the source unpacked again with its bodies.
        let layer = |w: &mut dyn io::Write| -> io::Result<()> {
            let blob = self.src.blob(&m.published.blob).map_err(io::Error::other)?;
            let mut layer = compression::open(blob, &self.req.limits.decompress)?;
            io::copy(&mut layer, w).map(|_| ())
        };
        let mut notes = m.notes;
        let mut rebuilt = m.rebuilt;
        let (level, blob_digest, blob_report) = self.blob_level(
            m.published,
            m.compression,
            &rebuilt.diff_id,
            &layer,
            &format!("layer {}", m.index + 1),
            platform,
            &mut notes,
        )?;
        rebuilt.blob_digest = blob_digest;
        let mut report = LayerReport::new(m.index, m.step, Verdict::Reproduced, m.published_info);
        report.level = Some(level);
        report.rebuilt = Some(rebuilt);
        report.profile = Some(m.profile.name);
        report.inferred = m.inferred;
        report.candidates = m.candidates;
        report.blob = blob_report;
        report.notes = notes;
        report.hazards = m.hazards;
        Ok(report)
    }

    /// The level of a reproduced layer, our blob digest, and the blob report: `blob` when the
    /// published blob is the tar itself, or when re-encoding `layer` with the fingerprinted
    /// compressor gives the published digest; else `diff_id`, with a note saying why.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn blob_level(
        &self,
        published: &chain::Layer,
        compression: Compression,
        diff_id: &str,
        layer: LayerBytes<'_>,
        what: &str,
        platform: &str,
        notes: &mut Vec<String>,
    ) -> Result<(Level, Option<String>, Option<BlobReport>), Error> {
        let published_digest = published.blob.digest.to_string();
        if compression == Compression::Identity && published_digest == diff_id {
            return Ok((Level::Blob, Some(diff_id.to_string()), None));
        }
        if compression != Compression::Gzip || !self.req.blob_level {
            notes.push(format!(
                "the published blob is {} compressed; its digest was not re-encoded{}",
                compression.as_str(),
                if self.req.blob_level {
                    " (no exact re-encoder for this format)"
                } else {
                    " (--skip-blob)"
                }
            ));
            return Ok((Level::DiffId, None, None));
        }
        self.progress.step(
            platform,
            &format!("{what}: re-encoding for the blob digest"),
        );
        let blob = self.src.blob(&published.blob)?;
        let open = || -> io::Result<Box<dyn Read + Send>> {
            let blob = self.src.blob(&published.blob).map_err(io::Error::other)?;
            Ok(Box::new(blob))
        };
        let report = reproduce(blob, &open, &published_digest, layer, self.encode_threads).ok();
        Ok(match report.as_ref().and_then(|r| r.matched()) {
            Some(a) => (Level::Blob, Some(a.digest.clone()), report),
            None => {
                notes.push(format!(
                    "the diff_id matches; the blob was compressed by {} and our re-encoding \
                     does not give its digest",
                    report
                        .as_ref()
                        .and_then(|r| r.fingerprint.first().cloned())
                        .unwrap_or_else(|| "an unrecognised compressor".into())
                ));
                (Level::DiffId, None, report)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compressible, not trivially: numbered lines with some repetition.
    fn data() -> Vec<u8> {
        let mut d = Vec::new();
        for i in 0..60_000u32 {
            d.extend_from_slice(format!("line {i} of {} items\n", i % 977).as_bytes());
        }
        d
    }

    fn run(blob: &[u8], data: &[u8], threads: usize) -> BlobReport {
        let digest = layerproof_archive::Digest::of(blob).to_string();
        let owned = blob.to_vec();
        let open = move || -> io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(io::Cursor::new(owned.clone())))
        };
        let layer = |w: &mut dyn Write| w.write_all(data);
        reproduce(blob, &open, &digest, &layer, threads).expect("fingerprint")
    }

    #[test]
    fn go_blob_is_checked_in_parallel_or_in_one_run() {
        let d = data();
        let blob = go::gzip(go::DEFAULT_COMPRESSION, &d);
        let r = run(&blob, &d, 2);
        let a = r.matched().expect("matched");
        assert!(a.parallel_chunks.is_some(), "{r:?}");
        assert_eq!(r.parallel_check, None);
        let r = run(&blob, &d, 1);
        let a = r.matched().expect("matched");
        assert_eq!(a.parallel_chunks, None, "{r:?}");
    }

    /// Level 5 writes Go's default header too: the parallel check says where it differs, the
    /// sequential re-encoding gives its digest.
    #[test]
    fn another_go_level_is_reported_where_it_differs() {
        let d = data();
        let blob = go::gzip(5, &d);
        let r = run(&blob, &d, 2);
        assert!(r.matched().is_none(), "{r:?}");
        let why = r.parallel_check.as_deref().unwrap_or_default();
        assert!(why.contains("differ"), "{why}");
        assert_eq!(r.attempts[0].compressor, "Go compress/gzip, default level");
        assert!(r.attempts[0].digest.starts_with("sha256:"), "{r:?}");
    }
}
