//! Checking a published Go gzip blob on several threads.
//!
//! [`GzipWriter`](super::GzipWriter) is sequential: each hash-chain search depends on every
//! byte before it, and the matcher walks 38 MB/s at level 6 — the whole cost of proving a
//! registry blob. But proving a *given* blob is not the same task as producing one: the blob
//! tells where its blocks start, and at some of those starts the lazy matcher (levels 4–9)
//! carries nothing over but the data itself.
//!
//! **Resume points.** Go ends a block after its 16 384th token. When that token is a
//! back-reference, the main loop continues at the byte right after the match with nothing
//! pending and no match held, an empty token list, and the new block starting there. What
//! remains of the state is the buffer (which 64 KiB of the stream it holds follows from the
//! offset alone: see [`ChainMatcher::slides_before`]) and the hash chains, which inserting
//! every position of the preceding 32 KiB window rebuilds: entries older than the window are
//! never followed. [`fingerprint`](crate::compress::fingerprint) records such blocks
//! ([`ResumePoint`]) while it decodes the blob.
//!
//! **The check.** Cut the stream at resume points into chunks of about [`CHUNK_TARGET`]
//! bytes. Each chunk's encoder is started from the rebuilt state at its first point, runs until
//! it ends a block at the next point, and its bits must equal the blob's bits between the two
//! points. By induction over the chunks this equals one sequential run: if chunks `0..k`
//! reproduced the blob up to point `k`, the sequential encoder made exactly the blob's tokens
//! so far, so its state at point `k` is the rebuilt one, and chunk `k` is what it does next.
//! The header (Go's, for the level), the final empty stored block, and the CRC-32 and length
//! trailer are checked as well, so [`Outcome::Identical`] means the whole blob is what
//! [`GzipWriter`](super::GzipWriter) would write.
//!
//! A blob that is not Go's output fails in some chunk; which one says only roughly where the
//! first difference lies, so callers that report a digest re-encode sequentially then.
//!
//! Memory: the chunks in flight (about two per thread), each [`CHUNK_TARGET`] plus 96 KiB of
//! data and its part of the blob.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use super::bits::BitWriter;
use super::block::{BlockEncoder, stored_block};
use super::chain::{ChainMatcher, Params};
use super::{BEST_COMPRESSION, DEFAULT_COMPRESSION};
use crate::compress::fingerprint::ResumePoint;

/// Uncompressed bytes per chunk aimed at.
pub const CHUNK_TARGET: u64 = 4 << 20;
/// The matcher's buffer.
const BUF: u64 = 1 << 16;
/// Go's gzip header length (no optional fields).
const HEADER_LEN: usize = 10;

/// What [`check_parallel`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every byte of the blob is what Go's `compress/gzip` writes for the data at this level.
    Identical {
        /// `sha256:<hex>` of the blob as read.
        digest: String,
        /// Chunks checked.
        chunks: usize,
    },
    /// It is not; `what` says where the first difference was seen.
    Differs {
        /// E.g. `the block ending at offset 4194304 …`.
        what: String,
    },
}

/// Why [`check_parallel`] did not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    /// Only the lazy levels (4–9 and the default) are resumable.
    #[error("level {0} is not a lazy-matching level")]
    Level(i32),
    /// Too little data, too few resume points, or a single thread.
    #[error("nothing to split: {0}")]
    Small(&'static str),
}

/// One chunk of the plan.
#[derive(Clone, Copy, Debug)]
struct Chunk {
    /// Stream offset where the chunk's first block starts.
    start: u64,
    /// Bit offset of that block in the blob.
    bit: u64,
    /// Stream offset of the matcher's buffer at `start`.
    origin: u64,
    /// The next chunk's start and bit offset (`None`: this chunk runs to the end).
    next: Option<(u64, u64)>,
    /// Data the chunk's encoder needs: `origin..data_end`.
    data_end: u64,
}

struct Job {
    index: usize,
    chunk: Chunk,
    /// Stream bytes `origin..data_end`.
    data: Vec<u8>,
    /// Blob bytes from `bit / 8` to the byte holding the next chunk's first bit (last chunk:
    /// to the start of the trailer).
    blob: Vec<u8>,
    /// The data reaches the end of the stream.
    at_end: bool,
}

/// Cut `total` stream bytes into chunks at `points` (sorted by offset).
fn plan(points: &[ResumePoint], total: u64, target: u64) -> Vec<Chunk> {
    let mut starts = vec![(0u64, (HEADER_LEN * 8) as u64)];
    for p in points {
        let last = starts.last().map_or(0, |s| s.0);
        if p.pos >= last + target && p.pos < total {
            starts.push((p.pos, p.bit));
        }
    }
    // a short tail is better folded into the chunk before it
    if starts.len() > 1 && starts.last().is_some_and(|s| total - s.0 < target / 4) {
        starts.pop();
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &(start, bit))| {
            let next = starts.get(i + 1).copied();
            let origin = (1 << 15) * ChainMatcher::slides_before(start, total);
            // enough data that the loop runs past the next start: the buffer is matched up to
            // 262 bytes before its end once more input follows, and it ends within 32 KiB
            // after any offset
            let data_end = next.map_or(total, |(s, _)| (s + BUF).min(total));
            Chunk {
                start,
                bit,
                origin,
                next,
                data_end,
            }
        })
        .collect()
}

/// Check that Go's `compress/gzip` at `level` turns the bytes `produce` writes into exactly
/// the bytes `blob` reads, using up to `threads` encoders at once on chunks of about
/// `chunk` bytes ([`CHUNK_TARGET`] unless testing).
///
/// `points` and `total` come from the blob's [fingerprint](crate::compress::fingerprint)
/// (its resume points and uncompressed size). `produce` runs on the calling thread; the bytes
/// it writes must be the blob's uncompressed stream, or the check fails (it is never trusted).
/// An error from `produce` or `blob` is returned as is.
pub fn check_parallel(
    level: i32,
    points: &[ResumePoint],
    total: u64,
    threads: usize,
    chunk: u64,
    blob: &mut dyn Read,
    produce: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> Result<io::Result<Outcome>, NotApplicable> {
    let lvl = if level == DEFAULT_COMPRESSION {
        6
    } else {
        level
    };
    let params = Params::for_level(lvl)
        .filter(|p| p.is_lazy())
        .ok_or(NotApplicable::Level(level))?;
    if threads < 2 {
        return Err(NotApplicable::Small("one thread"));
    }
    let chunks = plan(points, total, chunk.max(1));
    if chunks.len() < 2 {
        return Err(NotApplicable::Small("fewer than two chunks"));
    }
    let xfl = if level == BEST_COMPRESSION { 2 } else { 0 };
    let header = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 0xff];
    Ok(run(params, &chunks, total, threads, &header, blob, produce))
}

fn run(
    params: Params,
    chunks: &[Chunk],
    total: u64,
    threads: usize,
    header: &[u8; HEADER_LEN],
    blob: &mut dyn Read,
    produce: &mut dyn FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<Outcome> {
    let stop = AtomicBool::new(false);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(1);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<(usize, Result<(), String>)>();
    let mut feeder = Feeder {
        chunks,
        total,
        next: 0,
        data: Vec::new(),
        data_start: 0,
        written: 0,
        crc: crc32fast::Hasher::new(),
        blob,
        blob_buf: Vec::new(),
        blob_start: 0,
        sha: Sha256::new(),
        jobs: job_tx,
        stop: &stop,
        differs: None,
    };
    feeder.read_blob(Some(HEADER_LEN as u64))?;
    if feeder.blob_buf[..] != header[..] {
        return Ok(Outcome::Differs {
            what: format!(
                "the gzip header is {}, Go writes {}",
                hex::encode(&feeder.blob_buf),
                hex::encode(header)
            ),
        });
    }
    let fed = std::thread::scope(|s| {
        for _ in 0..threads {
            let (job_rx, res_tx, stop) = (&job_rx, res_tx.clone(), &stop);
            s.spawn(move || {
                loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    let r = if stop.load(Ordering::Relaxed) {
                        Ok(())
                    } else {
                        check_chunk(params, &job)
                    };
                    if r.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    if res_tx.send((job.index, r)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(res_tx);
        let produced = produce(&mut feeder);
        let fed = match produced {
            Ok(()) => feeder.finish(),
            // the feeder refused more data: a worker found a difference, or too much data
            Err(_) if stop.load(Ordering::Relaxed) || feeder.differs.is_some() => {
                Ok(Fed::Differs(feeder.differs.take().unwrap_or_default()))
            }
            Err(e) => Err(e),
        };
        // dropping the feeder closes the job channel: the workers drain it and return
        drop(feeder);
        fed
    });
    let mut first_failure: Option<(usize, String)> = None;
    let mut checked = 0;
    for (index, r) in res_rx {
        checked += 1;
        if let Err(what) = r
            && first_failure.as_ref().is_none_or(|(i, _)| index < *i)
        {
            first_failure = Some((index, what));
        }
    }
    if let Some((_, what)) = first_failure {
        return Ok(Outcome::Differs { what });
    }
    match fed? {
        Fed::Differs(what) => Ok(Outcome::Differs { what }),
        Fed::Digest(_) if checked != chunks.len() => Err(io::Error::other(format!(
            "parallel check: {checked} of {} chunks checked",
            chunks.len()
        ))),
        Fed::Digest(digest) => Ok(Outcome::Identical {
            digest,
            chunks: chunks.len(),
        }),
    }
}

/// How the feeding ended.
enum Fed {
    /// The whole blob was read; its digest.
    Digest(String),
    /// Something outside the chunks differs (length, trailer).
    Differs(String),
}

/// Re-encode one chunk from its resume point and compare its bits with the blob's.
fn check_chunk(params: Params, job: &Job) -> Result<(), String> {
    let c = job.chunk;
    let window = job.data.len().min(BUF as usize);
    let mut m = ChainMatcher::resume(params, c.origin, &job.data[..window], c.start)
        .ok_or_else(|| format!("cannot resume at offset {}", c.start))?;
    let off = (c.bit % 8) as u32;
    let mut w = BitWriter::new();
    w.put(0, off);
    let mut enc = BlockEncoder::new();
    m.write(&job.data[window..], &mut enc, &mut w);
    if job.at_end {
        m.finish(&mut enc, &mut w);
    }
    let flushes = m.take_flushes();
    let end_bit = match c.next {
        Some((next, next_bit)) => {
            let want = u64::from(off) + (next_bit - c.bit);
            match flushes.iter().find(|f| f.0 >= next) {
                Some(&(at, bits)) if at == next && bits == want => bits,
                Some(&(at, bits)) => {
                    return Err(format!(
                        "the blocks from offset {} on differ: Go ends a block at offset {at} \
                         after {} bits, the blob at offset {next} after {} bits",
                        c.start,
                        bits - u64::from(off),
                        want - u64::from(off)
                    ));
                }
                None => {
                    return Err(format!(
                        "the blocks from offset {} on differ: Go ends no block at offset \
                         {next}",
                        c.start
                    ));
                }
            }
        }
        None => {
            stored_block(&mut w, &[], true);
            w.align();
            if w.out.len() != job.blob.len() {
                return Err(format!(
                    "the deflate stream from offset {} on is {} bytes long in the blob, {} \
                     bytes from Go",
                    c.start,
                    job.blob.len(),
                    w.out.len()
                ));
            }
            w.bit_len()
        }
    };
    w.align();
    match first_bit_difference(&w.out, &job.blob, off as u64, end_bit) {
        None => Ok(()),
        Some(bit) => Err(format!(
            "the blocks from offset {} on differ from Go's output at blob byte {}",
            c.start,
            (c.bit - u64::from(off) + bit) / 8
        )),
    }
}

/// The first bit in `from..to` where `a` and `b` differ (LSB-first within bytes).
fn first_bit_difference(a: &[u8], b: &[u8], from: u64, to: u64) -> Option<u64> {
    let bytes = to.div_ceil(8) as usize;
    if a.len() < bytes || b.len() < bytes {
        return Some(from);
    }
    for i in (from / 8) as usize..bytes {
        let mut mask = 0xffu8;
        if i as u64 == from / 8 {
            mask &= 0xff << (from % 8);
        }
        if i + 1 == bytes && !to.is_multiple_of(8) {
            mask &= (1u8 << (to % 8)) - 1;
        }
        let x = (a[i] ^ b[i]) & mask;
        if x != 0 {
            return Some(i as u64 * 8 + u64::from(x.trailing_zeros()));
        }
    }
    None
}

/// The writer `produce` writes into: cuts the stream and the blob into jobs.
struct Feeder<'a> {
    chunks: &'a [Chunk],
    total: u64,
    next: usize,
    /// Stream bytes from `data_start`.
    data: Vec<u8>,
    data_start: u64,
    written: u64,
    crc: crc32fast::Hasher,
    blob: &'a mut dyn Read,
    /// Blob bytes from `blob_start`.
    blob_buf: Vec<u8>,
    blob_start: u64,
    sha: Sha256,
    jobs: mpsc::SyncSender<Job>,
    stop: &'a AtomicBool,
    /// A difference found outside the chunks (length, trailer).
    differs: Option<String>,
}

impl Feeder<'_> {
    /// Read the blob up to byte `to` (all of it when `None`).
    fn read_blob(&mut self, to: Option<u64>) -> io::Result<()> {
        let old = self.blob_buf.len();
        let have = self.blob_start + old as u64;
        match to {
            Some(to) if to > have => {
                self.blob_buf.resize(old + (to - have) as usize, 0);
                if let Err(e) = self.blob.read_exact(&mut self.blob_buf[old..]) {
                    self.blob_buf.truncate(old);
                    return Err(e);
                }
            }
            Some(_) => {}
            None => {
                self.blob.read_to_end(&mut self.blob_buf)?;
            }
        }
        self.sha.update(&self.blob_buf[old..]);
        Ok(())
    }

    /// Hand chunk `self.next` to the workers.
    fn ship(&mut self) -> io::Result<()> {
        let c = self.chunks[self.next];
        let from = c.bit / 8;
        let blob = match c.next {
            Some((_, next_bit)) => {
                let to = next_bit.div_ceil(8);
                self.read_blob(Some(to))?;
                self.blob_buf[(from - self.blob_start) as usize..(to - self.blob_start) as usize]
                    .to_vec()
            }
            None => {
                self.read_blob(None)?;
                let end = self.blob_buf.len().saturating_sub(8);
                self.blob_buf
                    .get((from - self.blob_start) as usize..end)
                    .unwrap_or_default()
                    .to_vec()
            }
        };
        let data = self.data
            [(c.origin - self.data_start) as usize..(c.data_end - self.data_start) as usize]
            .to_vec();
        let job = Job {
            index: self.next,
            chunk: c,
            data,
            blob,
            at_end: c.data_end == self.total,
        };
        self.next += 1;
        // keep only what later chunks need
        if let Some(n) = self.chunks.get(self.next) {
            self.data.drain(..(n.origin - self.data_start) as usize);
            self.data_start = n.origin;
            let keep_from = n.bit / 8;
            self.blob_buf
                .drain(..(keep_from - self.blob_start) as usize);
            self.blob_start = keep_from;
        }
        self.jobs
            .send(job)
            .map_err(|_| io::Error::other("parallel check: the workers stopped"))
    }

    /// After the last write: ship the last chunk, check the length and the trailer.
    fn finish(&mut self) -> io::Result<Fed> {
        if self.written != self.total {
            return Ok(Fed::Differs(format!(
                "the data is {} bytes, the blob's is {}",
                self.written, self.total
            )));
        }
        while self.next < self.chunks.len() {
            self.ship()?;
        }
        // the last chunk read the blob to its end; its last 8 bytes are the trailer
        let tail = self.blob_buf.len().saturating_sub(8);
        let mut want = self.crc.clone().finalize().to_le_bytes().to_vec();
        want.extend_from_slice(&(self.total as u32).to_le_bytes());
        if self.blob_buf.get(tail..) != Some(&want[..]) {
            return Ok(Fed::Differs(
                "the gzip trailer (CRC-32 and length) differs".into(),
            ));
        }
        Ok(Fed::Digest(format!(
            "sha256:{}",
            hex::encode(std::mem::take(&mut self.sha).finalize())
        )))
    }
}

impl Write for Feeder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("parallel check: a chunk differs"));
        }
        if self.written + buf.len() as u64 > self.total {
            self.differs = Some(format!(
                "the data is longer than the blob's {} bytes",
                self.total
            ));
            return Err(io::Error::other("parallel check: too much data"));
        }
        self.crc.update(buf);
        self.written += buf.len() as u64;
        self.data.extend_from_slice(buf);
        // the last chunk waits for `finish`, which reads the blob to its end
        while let Some(c) = self.chunks.get(self.next)
            && c.next.is_some()
            && c.data_end <= self.written
        {
            self.ship()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
