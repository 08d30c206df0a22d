//! The streamed comparison: our layer's diff_id from one pass over the source, with the
//! published layer read for its headers only.
//!
//! A published layer that is stored uncompressed on disk (a `docker save` of Docker ≥ 25, an
//! OCI layout with `tar` layers) has its diff_id in the image config and its blob digest in the
//! manifest. To prove that our rebuild is that layer it is enough to show that the layer we
//! would write hashes to that digest — the published file's bodies never need to be read.
//!
//! 1. The published layer's [`Shape`] is read: every byte outside file bodies, and where each
//!    body sits (a few megabytes for a rootfs; bodies are skipped unread).
//! 2. The source is unpacked once with a [`Streamer`] tapping every file body as it streams
//!    past ([`layerproof_archive::source::add_tapped`]). The streamer hashes the published
//!    bytes outside bodies with, in each body's place, the source body destined for the same
//!    path, and notes which stored body ([`layerproof_archive::ContentRef::id`]) went where.
//!    Bodies that arrive before their turn wait in memory, up to a budget.
//! 3. After the unpack, each candidate profile encodes the headers of its layer and
//!    [`ShapeCheck`] compares them with the published bytes, and every body with the one the
//!    streamer put in its place (by content id).
//!
//! When the headers match and the bodies are the ones the tree holds at those paths, the bytes
//! the streamer hashed *are* our layer: its digest is our diff_id. Anything unusual — a body
//! that does not fit its slot, a path met twice, bodies far out of order — gives up the
//! streamed comparison ([`Streamed::failed`]) and the verifier falls back to reading both
//! layers whole.

use std::collections::{BTreeMap, HashMap};

use layerproof_archive::hashing::Hasher;
use layerproof_archive::skeleton::Shape;
use layerproof_archive::source::Tap;
use layerproof_archive::tar::{Header, typeflag};
use layerproof_archive::tree::Tree;
use layerproof_archive::{ContentRef, Digest};
use layerproof_layer::{Error as LayerError, LayerSink, Profile};

use std::io::{Read, Seek};

use layerproof_archive::Bodies;
use layerproof_archive::compression::{self, Compression};
use layerproof_archive::source;

use crate::blob::Match;
use crate::layerscan::{self, Scan, normalise};
use crate::rebuild::{self, Prepared, Treatment, Unpacked};
use crate::report::{Candidate, CandidateOutcome, Compared, LayerReport, RebuiltLayer};
use crate::verify::layer::{LayerJob, published_layer, rank, treatment_text};
use crate::verify::sources::{Setup, SourceDigests, source_digests};
use crate::verify::{Error, ProfileChoice, Run, joined};
use crate::{digest, infer};

/// Where each published body goes, by path.
#[derive(Debug)]
pub struct Plan {
    shape: Shape,
    /// Path → body slot; a hard link's path leads to its target's slot.
    slot_of: HashMap<Vec<u8>, usize>,
    /// Path of each slot, for messages.
    paths: Vec<Vec<u8>>,
}

impl Plan {
    /// The plan for a published layer (the parts of its [`crate::layerscan::ShapeScan`]), or
    /// why there is none (a path stored twice, bodies that cannot be placed).
    pub fn new(shape: Shape, body_entries: &[usize], scan: &Scan) -> Result<Plan, String> {
        if body_entries.len() != shape.bodies.len() {
            return Err("the published layer's bodies could not be placed".into());
        }
        let mut slot_of = HashMap::with_capacity(body_entries.len());
        let mut paths = Vec::with_capacity(body_entries.len());
        for (slot, &e) in body_entries.iter().enumerate() {
            let path = scan.entries[e].path.clone();
            if slot_of.insert(path.clone(), slot).is_some() {
                return Err(format!(
                    "the published layer stores {} twice",
                    crate::layerscan::display_path(&path)
                ));
            }
            paths.push(path);
        }
        for e in &scan.entries {
            if let Some(target) = &e.hardlink_to
                && let Some(&slot) = slot_of.get(target)
                && slot_of.insert(e.path.clone(), slot).is_some()
            {
                return Err(format!(
                    "the published layer stores {} twice",
                    e.display_path()
                ));
            }
        }
        Ok(Plan {
            shape,
            slot_of,
            paths,
        })
    }

    /// Number of bodies.
    pub fn bodies(&self) -> usize {
        self.shape.bodies.len()
    }
}

/// Where the data of the entry being applied goes.
enum Current {
    /// Nowhere: not a file body, or the comparison gave up.
    Nothing,
    /// Straight into the hash: this body's turn has come.
    Direct { slot: usize, got: u64 },
    /// Into memory: a later slot's body, arriving early.
    Early { slot: usize, bytes: Vec<u8> },
}

/// The [`Tap`] of the streamed comparison: hashes the published layer's bytes outside bodies
/// with the source's bodies in their places.
pub struct Streamer<'p> {
    plan: &'p Plan,
    /// The layer's digest, taken on the unpacking thread: a hashing thread of its own would copy
    /// every body and gain nothing on two cores, where decompression is the longest thread.
    hasher: Hasher,
    /// Next slot to hash.
    cursor: usize,
    /// Raw bytes hashed so far.
    raw_done: usize,
    /// Content id of the body put in each slot.
    ids: Vec<Option<u32>>,
    /// Bodies that arrived before their turn, with their content ids.
    early: BTreeMap<usize, Vec<u8>>,
    early_bytes: u64,
    budget: u64,
    current: Current,
    failed: Option<String>,
}

/// What a [`Streamer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// The digest of the bytes hashed: the published bytes outside bodies with the source's
    /// bodies in their places.
    pub diff_id: Digest,
    /// Length of those bytes.
    pub size: u64,
    /// The content id put in each body slot.
    pub ids: Vec<u32>,
}

impl<'p> Streamer<'p> {
    /// A streamer for `plan`, holding at most `budget` bytes of early bodies.
    pub fn new(plan: &'p Plan, budget: u64) -> Streamer<'p> {
        Streamer {
            plan,
            hasher: Hasher::new(),
            cursor: 0,
            raw_done: 0,
            ids: vec![None; plan.bodies()],
            early: BTreeMap::new(),
            early_bytes: 0,
            budget,
            current: Current::Nothing,
            failed: None,
        }
    }

    fn fail(&mut self, why: String) {
        if self.failed.is_none() {
            self.failed = Some(why);
        }
        self.current = Current::Nothing;
        self.early.clear();
        self.early_bytes = 0;
    }

    /// Hash raw bytes up to the start of `slot`'s body.
    fn raw_to(&mut self, slot: usize) {
        let to = self.plan.shape.bodies[slot].0 as usize;
        let raw = &self.plan.shape.raw;
        self.hasher.update(&raw[self.raw_done..to]);
        self.raw_done = to;
    }

    /// Hash the early bodies whose turn has come.
    fn drain(&mut self) {
        while let Some(bytes) = self.early.remove(&self.cursor) {
            self.raw_to(self.cursor);
            self.hasher.update(&bytes);
            self.early_bytes -= bytes.len() as u64;
            self.cursor += 1;
        }
    }

    /// The digest of the bytes hashed, or why the comparison gave up.
    pub fn finish(mut self) -> Result<Streamed, String> {
        if let Some(why) = self.failed.take() {
            return Err(why);
        }
        if self.cursor < self.plan.bodies() {
            return Err(format!(
                "the published body of {} has no source body in its place",
                crate::layerscan::display_path(&self.plan.paths[self.cursor])
            ));
        }
        let raw = &self.plan.shape.raw;
        self.hasher.update(&raw[self.raw_done..]);
        let Streamer { hasher, ids, .. } = self;
        let (diff_id, size) = hasher.finish();
        Ok(Streamed {
            diff_id,
            size,
            ids: ids.into_iter().map(|i| i.unwrap_or(u32::MAX)).collect(),
        })
    }
}

impl Tap for Streamer<'_> {
    fn entry(&mut self, _index: u64, header: &Header) {
        self.current = Current::Nothing;
        if self.failed.is_some()
            || !matches!(
                header.typeflag,
                typeflag::REG | typeflag::REGA | typeflag::CONT
            )
        {
            return;
        }
        let path = normalise(&header.name);
        let Some(&slot) = self.plan.slot_of.get(&path) else {
            // an empty file has no body in either layer
            if header.size != 0 {
                self.fail(format!(
                    "{} has no body in the published layer",
                    crate::layerscan::display_path(&path)
                ));
            }
            return;
        };
        if self.ids[slot].is_some() || slot < self.cursor {
            self.fail(format!(
                "{} is in the source more than once",
                crate::layerscan::display_path(&path)
            ));
            return;
        }
        if slot == self.cursor {
            self.raw_to(slot);
            self.current = Current::Direct { slot, got: 0 };
        } else {
            self.current = Current::Early {
                slot,
                bytes: Vec::new(),
            };
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        match &mut self.current {
            Current::Nothing => {}
            Current::Direct { got, .. } => {
                *got += bytes.len() as u64;
                self.hasher.update(bytes);
            }
            Current::Early { bytes: held, .. } => {
                held.extend_from_slice(bytes);
                self.early_bytes += bytes.len() as u64;
                if self.early_bytes > self.budget {
                    let budget = self.budget;
                    self.fail(format!(
                        "the source's bodies are further out of layer order than {} MiB",
                        budget >> 20
                    ));
                }
            }
        }
    }

    fn applied(&mut self, stored: Option<(u32, u64)>) {
        let current = std::mem::replace(&mut self.current, Current::Nothing);
        let (slot, got) = match &current {
            Current::Nothing => return,
            Current::Direct { slot, got } => (*slot, *got),
            Current::Early { slot, bytes } => (*slot, bytes.len() as u64),
        };
        let want = self.plan.shape.bodies[slot].1;
        let Some((id, _)) = stored.filter(|&(_, len)| len == got && len == want) else {
            self.fail(format!(
                "the source body of {} ({got} bytes) does not fit the published one ({want} bytes)",
                crate::layerscan::display_path(&self.plan.paths[slot])
            ));
            return;
        };
        self.ids[slot] = Some(id);
        match current {
            Current::Direct { .. } => self.cursor += 1,
            Current::Early { bytes, .. } => {
                self.early.insert(slot, bytes);
            }
            Current::Nothing => {}
        }
        self.drain();
    }
}

/// A [`LayerSink`] that compares the layer a profile would write with the published shape and
/// the bodies the [`Streamer`] put in each place, without producing it.
pub struct ShapeCheck<'a> {
    plan: &'a Plan,
    ids: &'a [u32],
    raw_pos: usize,
    slot: usize,
    same: bool,
}

impl<'a> ShapeCheck<'a> {
    /// A check against `plan`, whose slots hold the bodies `ids`.
    pub fn new(plan: &'a Plan, ids: &'a [u32]) -> ShapeCheck<'a> {
        ShapeCheck {
            plan,
            ids,
            raw_pos: 0,
            slot: 0,
            same: true,
        }
    }

    /// Whether everything emitted matched, and nothing of the published layer is left over.
    pub fn same(&self) -> bool {
        self.same && self.raw_pos == self.plan.shape.raw.len() && self.slot == self.plan.bodies()
    }
}

impl LayerSink for ShapeCheck<'_> {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        if self.same {
            let raw = &self.plan.shape.raw;
            let end = self.raw_pos + bytes.len();
            if raw.get(self.raw_pos..end) == Some(bytes) {
                self.raw_pos = end;
            } else {
                self.same = false;
            }
        }
        Ok(())
    }

    fn body(&mut self, _tree: &Tree, body: &ContentRef, _path: &[u8]) -> Result<(), LayerError> {
        if self.same {
            let here = (self.raw_pos as u64, body.len);
            if self.plan.shape.bodies.get(self.slot) == Some(&here)
                && self.ids.get(self.slot) == Some(&body.id)
            {
                self.slot += 1;
            } else {
                self.same = false;
            }
        }
        Ok(())
    }
}

// ---- the streamed comparison of one layer ----

/// Bytes outside file bodies the streamed comparison keeps of a published layer: a rootfs of
/// 10⁵ files has some 100 MB of headers at most, a Debian minbase 6 MB.
const SHAPE_LIMIT: usize = 64 << 20;

/// How far (in [`layerproof_archive::ahead::CHUNK`]s, 24 MiB) a source's decompression may
/// run ahead while the published layer's headers are read before the unpack: about what
/// zlib inflates of a rootfs in the time the headers of a large layer take.
const EARLY_DEPTH: usize = 96;

/// How the streamed comparison of a layer ended.
pub(crate) enum StreamedAttempt {
    /// It reproduced the layer.
    Reproduced(Box<LayerReport>),
    /// It does not apply (a compressed or remote blob, a refused source, a broken layer): the
    /// full comparison decides and reports.
    NotApplicable,
    /// It gave up, for this reason; the full comparison decides.
    GaveUp(String),
}

impl Run<'_> {
    /// The streamed comparison of a published layer stored uncompressed on disk: its headers
    /// are read, the source is unpacked once with its bodies hashed in layer order, and each
    /// candidate's headers are compared with the published ones. The source's digests come
    /// back when they were taken (`known` when given).
    pub(crate) fn verify_streamed(
        &self,
        job: &LayerJob<'_>,
        setup: &Setup<'_>,
        known: Option<&SourceDigests>,
    ) -> Result<(StreamedAttempt, Option<SourceDigests>), Error> {
        let published = job.published;
        let blob_digest = published.blob.digest.to_string();
        // a layer stored uncompressed has its diff_id for blob digest
        if !self.req.streamed
            || published
                .diff_id
                .as_ref()
                .is_some_and(|d| d.to_string() != blob_digest)
        {
            return Ok((StreamedAttempt::NotApplicable, None));
        }
        let Some(mut layer) = self.src.blob_unverified(&published.blob)? else {
            return Ok((StreamedAttempt::NotApplicable, None));
        };
        let mut magic = Vec::with_capacity(16);
        let sniffed = (&mut layer)
            .take(compression::PEEK_LEN as u64)
            .read_to_end(&mut magic)
            .and_then(|_| layer.rewind());
        if sniffed.is_err() || compression::detect(&magic) != Compression::Identity {
            return Ok((StreamedAttempt::NotApplicable, None));
        }
        // The source's decompression starts now, on the other core, while the published
        // headers are read (up to EARLY_DEPTH ahead). The source's own digest waits for the
        // headers: on two cores it would slow both down, and the unpack leaves room for it.
        std::thread::scope(|s| {
            let (go, wait) = std::sync::mpsc::channel::<()>();
            let mut hash_thread = Some(s.spawn(move || {
                let _ = wait.recv();
                crate::pipeline::yield_to_pipeline();
                source_digests(job.source, setup.ctx_perm, job.builder, known)
            }));
            // a source that cannot be opened here fails again, with its error, when the unpack
            // opens it
            let started = setup.open().ok().and_then(|src| {
                source::Started::spawn(s, src, &self.req.limits.decompress, EARLY_DEPTH).ok()
            });
            let mut digests = None;
            let mut hashed = || -> Result<(), Error> {
                if let Some(t) = hash_thread.take() {
                    digests = Some(joined(t, "hash")?);
                }
                Ok(())
            };
            let attempt = self.stream_compare(
                job,
                setup,
                layer,
                started,
                &|| {
                    let _ = go.send(());
                },
                &mut hashed,
            );
            drop(go);
            hashed()?;
            Ok((attempt?, digests))
        })
    }

    /// [`Run::verify_streamed`] once the published layer is known to be a plain tar on disk:
    /// its headers, the plan, the unpack with the streamer, each candidate's headers.
    fn stream_compare(
        &self,
        job: &LayerJob<'_>,
        setup: &Setup<'_>,
        layer: Box<dyn layerproof_image::source::SeekRead>,
        started: Option<source::Started>,
        headers_read: &dyn Fn(),
        hashed: &mut dyn FnMut() -> Result<(), Error>,
    ) -> Result<StreamedAttempt, Error> {
        let blob_digest = job.published.blob.digest.to_string();
        let (scan, plan) = match published_plan(layer, &self.req.limits.read) {
            Ok(p) => p,
            Err(attempt) => return Ok(attempt),
        };
        // the published headers rank the profiles before the source is read: unpack as the
        // most plausible one does
        let candidates = rank(self.req.profile, &scan, job.version, job.builder);
        let Some(&unpack_as) = candidates.first() else {
            return Ok(StreamedAttempt::NotApplicable);
        };
        let mut params = setup.params(unpack_as);
        params.bodies = Bodies::Lengths;
        headers_read();
        let mut streamer = Streamer::new(&plan, self.memory_budget);
        let unpacked = rebuild::unpack_started(started, &|| setup.open(), &params, &mut streamer);
        let streamed = streamer.finish();
        // the report names the source's digest
        hashed()?;
        let unpacked = unpacked.map_err(|e| setup.error(e))?;
        // a refusal, or a source copied as it is, is for the full comparison
        let mut prepared = match unpacked {
            Unpacked::Tree(p) if matches!(p.treatment, Treatment::Unpacked(_)) => p,
            _ => return Ok(StreamedAttempt::NotApplicable),
        };
        let streamed = match streamed {
            Ok(s) if Some(s.diff_id) == digest::published(&job.published.blob.digest) => s,
            Ok(s) => {
                return Ok(StreamedAttempt::GaveUp(format!(
                    "the source's bodies in the published layer's places hash to {}, not {blob_digest}",
                    s.diff_id
                )));
            }
            Err(why) => return Ok(StreamedAttempt::GaveUp(why)),
        };
        // candidates that unpack differently need the source again: the full comparison
        let key = rebuild::unpack_key(unpack_as);
        let same_unpack = candidates
            .iter()
            .copied()
            .filter(|p| rebuild::unpack_key(p) == key);
        let (tried, matched) =
            match_headers(same_unpack, &mut prepared, &plan, &streamed, setup, &scan);
        let Some((profile, entries)) = matched else {
            return Ok(StreamedAttempt::GaveUp(
                "no profile's headers match the published ones".into(),
            ));
        };
        let rebuilt = RebuiltLayer {
            diff_id: streamed.diff_id.to_string(),
            blob_digest: None,
            size: streamed.size,
            entries,
            treatment: treatment_text(&prepared.treatment),
        };
        let inferred = infer::describe(
            &scan.published,
            profile,
            job.source.name.as_bytes(),
            Some(&prepared),
            matches!(self.req.profile, ProfileChoice::Auto),
        );
        // the shape scan hashed nothing: no computed diff_id
        let published_info = published_layer(job.published, Compression::Identity, &scan);
        let notes = vec![
            "compared streamed: the published layer's headers were read and its bodies \
             skipped; our layer, hashed as the source streamed past, has the digest the \
             manifest lists"
                .to_string(),
        ];
        let m = Match {
            index: job.index,
            step: job.source.info.clone(),
            published: job.published,
            published_info,
            compression: Compression::Identity,
            profile,
            rebuilt,
            inferred,
            candidates: tried,
            notes,
            hazards: prepared.hazards.clone(),
        };
        self.reproduced(m, job.platform)
            .map(|r| StreamedAttempt::Reproduced(Box::new(r)))
    }
}

/// The published layer's headers and the plan of its bodies, or how the streamed comparison
/// ends without them. A broken published layer is not applicable: the full scan reports it.
fn published_plan(
    layer: Box<dyn layerproof_image::source::SeekRead>,
    limits: &layerproof_archive::read::Options,
) -> Result<(Scan, Plan), StreamedAttempt> {
    let shaped = match layerscan::scan_shape(layer, limits.clone(), SHAPE_LIMIT) {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(StreamedAttempt::GaveUp(format!(
                "the published layer has over {} MiB of headers",
                SHAPE_LIMIT >> 20
            )));
        }
        Err(_) => return Err(StreamedAttempt::NotApplicable),
    };
    let layerscan::ShapeScan {
        scan,
        shape,
        body_entries,
    } = shaped;
    match Plan::new(shape, &body_entries, &scan) {
        Ok(plan) => Ok((scan, plan)),
        Err(why) => Err(StreamedAttempt::GaveUp(why)),
    }
}

/// Each of `candidates` encodes the headers of its layer from `prepared`, compared with the
/// published ones, until one matches: the candidates tried, and the match with its entry count.
fn match_headers(
    candidates: impl Iterator<Item = &'static Profile>,
    prepared: &mut Prepared,
    plan: &Plan,
    streamed: &Streamed,
    setup: &Setup<'_>,
    scan: &Scan,
) -> (Vec<Candidate>, Option<(&'static Profile, u64)>) {
    let mut tried = Vec::new();
    for profile in candidates {
        let params = setup.params_for(profile, scan);
        let mut check = ShapeCheck::new(plan, &streamed.ids);
        let entries = rebuild::emit(prepared, &params, &mut check).ok();
        let same = entries.is_some() && check.same();
        tried.push(Candidate {
            profile: profile.name,
            outcome: if same {
                CandidateOutcome::Match
            } else {
                CandidateOutcome::Differs
            },
            diff_id: same.then_some(streamed.diff_id),
            compared: Some(Compared::Streamed),
            detail: None,
        });
        if let (true, Some(entries)) = (same, entries) {
            return (tried, Some((profile, entries)));
        }
    }
    (tried, None)
}

#[cfg(test)]
mod tests;
