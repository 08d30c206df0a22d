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
//! offset alone: see [`ChainMatcher::buffer_origin`]) and the hash chains, which inserting
//! every position of the preceding 32 KiB window rebuilds: entries older than the window are
//! never followed. [`fingerprint`](crate::fingerprint) records such blocks
//! ([`ResumePoint`]) while it decodes the blob.
//!
//! **The check.** Cut the stream at resume points into chunks of about [`CHUNK_TARGET`]
//! bytes, as the points arrive: they can come from the same pass that decodes the blob and
//! produces the stream
//! ([`fingerprint_streaming`](crate::fingerprint::fingerprint_streaming)). Each
//! chunk's encoder is started from the rebuilt state at its first point, runs until it ends a
//! block at the next point, and its bits must equal the blob's bits between the two
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
//! Memory: the chunks in flight (one per thread, one queued, one filling), each
//! [`CHUNK_TARGET`] plus up to 128 KiB of data and its part of the blob. A stream that goes on
//! for more than 16 MiB without a resume point (stored blocks of incompressible data) is not
//! held: the check gives up ([`Outcome::Declined`]) and the caller re-encodes sequentially.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};

use sha2::{Digest, Sha256};

use super::bits::BitWriter;
use super::block::{BlockEncoder, stored_block};
use super::chain::{ChainMatcher, Params};
use super::{DEFAULT_COMPRESSION, gzip_header};
use crate::fingerprint::ResumePoint;

/// Uncompressed bytes per chunk aimed at.
pub const CHUNK_TARGET: u64 = 4 << 20;
/// The matcher's buffer.
const BUF: u64 = 1 << 16;
/// Stream bytes held without a resume point before the check gives up: this many chunk
/// targets, at least [`MIN_PENDING`].
const MAX_PENDING_CHUNKS: u64 = 4;
/// See [`MAX_PENDING_CHUNKS`].
const MIN_PENDING: u64 = 8 << 20;
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
    /// The stream went on too long without a resume point (e.g. stored blocks of
    /// incompressible data) to hold it in memory; nothing was decided.
    Declined {
        /// Where.
        why: String,
    },
}

/// Why [`check_parallel`] did not run.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotApplicable {
    /// Only the lazy levels (4–9 and the default) are resumable.
    #[error("level {0} is not a lazy-matching level")]
    Level(i32),
}

/// One chunk: from its start to the next chunk's.
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

/// Where the stream and the blob's resume points go; see [`check_parallel`].
pub trait ResumeSink: Write {
    /// A resume point of the blob, in stream order.
    fn resume_point(&mut self, p: ResumePoint);
}

/// Check that Go's `compress/gzip` at `level` turns the bytes `produce` writes into exactly
/// the bytes `blob` reads, using up to `threads` encoders at once on chunks of about
/// `chunk` bytes ([`CHUNK_TARGET`] unless testing).
///
/// `produce` runs on the calling thread. It writes the blob's uncompressed stream and tells
/// the blob's resume points (see the module docs) in stream order: all of them first, or as a
/// decoder meets them (data may run ahead of them). Nothing it says is trusted: wrong data
/// or wrong points make the check fail, never pass. With no resume points the check is one sequential run.
/// An error from `produce` or `blob` is returned as is; once a chunk differs, writes fail and
/// `produce` may stop early.
pub fn check_parallel(
    level: i32,
    threads: usize,
    chunk: u64,
    blob: &mut dyn Read,
    produce: &mut dyn FnMut(&mut dyn ResumeSink) -> io::Result<()>,
) -> Result<io::Result<Outcome>, NotApplicable> {
    let lvl = if level == DEFAULT_COMPRESSION {
        6
    } else {
        level
    };
    let params = Params::for_level(lvl)
        .filter(|p| p.is_lazy())
        .ok_or(NotApplicable::Level(level))?;
    let header = gzip_header(level);
    Ok(run(
        params,
        threads.max(1),
        chunk.max(1),
        &header,
        blob,
        produce,
    ))
}

fn run(
    params: Params,
    threads: usize,
    target: u64,
    header: &[u8; HEADER_LEN],
    blob: &mut dyn Read,
    produce: &mut dyn FnMut(&mut dyn ResumeSink) -> io::Result<()>,
) -> io::Result<Outcome> {
    let stop = AtomicBool::new(false);
    let (job_tx, job_rx) = mpsc::sync_channel::<Job>(1);
    let job_rx = Mutex::new(job_rx);
    let (res_tx, res_rx) = mpsc::channel::<(usize, Result<(), String>)>();
    let mut feeder = Feeder {
        target,
        starts: vec![Start {
            pos: 0,
            bit: (HEADER_LEN * 8) as u64,
            origin: 0,
        }],
        shipped: 0,
        done: false,
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
        declined: None,
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
        // The feeder refuses data once a worker found a difference or it gave up; `produce`
        // may pass that on or carry on without it.
        let fed = if stop.load(Ordering::Relaxed) {
            Ok(Fed::Differs(String::new()))
        } else if let Some(why) = feeder.declined.take() {
            Ok(Fed::Declined(why))
        } else {
            produced.and_then(|()| feeder.finish())
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
        Fed::Declined(why) => Ok(Outcome::Declined { why }),
        Fed::Digest(_, shipped) if checked != shipped => Err(io::Error::other(format!(
            "parallel check: {checked} of {shipped} chunks checked"
        ))),
        Fed::Digest(digest, chunks) => Ok(Outcome::Identical { digest, chunks }),
    }
}

/// How the feeding ended.
enum Fed {
    /// The whole blob was read; its digest, and the chunks shipped.
    Digest(String, usize),
    /// Something outside the chunks differs (length, trailer).
    Differs(String),
    /// Gave up.
    Declined(String),
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
                    "the deflate stream from offset {} on differs: {} bytes in the blob, {} \
                     from Go",
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

/// A chunk start: a resume point taken, with its buffer origin.
#[derive(Clone, Copy, Debug)]
struct Start {
    pos: u64,
    bit: u64,
    origin: u64,
}

/// The sink `produce` writes into: plans chunks as resume points arrive and cuts the stream
/// and the blob into jobs.
struct Feeder<'a> {
    target: u64,
    /// Chunk starts so far; chunk `i` runs from `starts[i]` to `starts[i + 1]`.
    starts: Vec<Start>,
    /// Chunks handed to the workers.
    shipped: usize,
    /// `produce` has returned: the stream's length is `written`.
    done: bool,
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
    /// Why the check gave up (too long without a resume point).
    declined: Option<String>,
}

impl Feeder<'_> {
    /// Read the blob up to byte `to` (all of it when `None`).
    fn read_blob(&mut self, to: Option<u64>) -> io::Result<()> {
        let old = self.blob_buf.len();
        let have = self.blob_start + old as u64;
        match to {
            Some(to) if to > have => {
                // grows with what the blob holds, not with what a resume point claims
                let want = to - have;
                let got = (&mut *self.blob)
                    .take(want)
                    .read_to_end(&mut self.blob_buf)?;
                if (got as u64) < want {
                    self.blob_buf.truncate(old);
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        format!("the blob ends before byte {to}"),
                    ));
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

    /// The stream length if known; until then, a bound no slide count depends on (chunks are
    /// only shipped early once 64 KiB past their end are written).
    fn total(&self) -> u64 {
        if self.done { self.written } else { u64::MAX }
    }

    /// Hand the next chunk to the workers.
    fn ship(&mut self) -> io::Result<()> {
        let i = self.shipped;
        let s = self.starts[i];
        let total = self.total();
        let next = self.starts.get(i + 1).map(|n| (n.pos, n.bit));
        let c = Chunk {
            start: s.pos,
            bit: s.bit,
            origin: s.origin,
            next,
            data_end: next.map_or(self.written, |(p, _)| p.saturating_add(BUF).min(total)),
        };
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
            index: i,
            chunk: c,
            data,
            blob,
            at_end: self.done && c.data_end == self.written,
        };
        self.shipped += 1;
        // keep only what later chunks need
        if let Some(n) = self.starts.get(self.shipped) {
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

    /// Ship every chunk whose end and the 64 KiB after it are written.
    fn ship_ready(&mut self) -> io::Result<()> {
        while let Some(n) = self.starts.get(self.shipped + 1)
            && n.pos.saturating_add(BUF) <= self.written
        {
            self.ship()?;
        }
        Ok(())
    }

    /// After the last write: ship the rest, check the trailer.
    fn finish(&mut self) -> io::Result<Fed> {
        self.done = true;
        // No chunk shipped so far ends at such a start (they end 64 KiB before `written`).
        while self.starts.len() > self.shipped.max(1)
            && self
                .starts
                .last()
                .is_some_and(|s| s.pos.saturating_add(262) > self.written)
        {
            self.starts.pop();
        }
        while self.shipped < self.starts.len() {
            self.ship()?;
        }
        // the last chunk read the blob to its end; its last 8 bytes are the trailer
        let tail = self.blob_buf.len().saturating_sub(8);
        let mut want = self.crc.clone().finalize().to_le_bytes().to_vec();
        want.extend_from_slice(&(self.written as u32).to_le_bytes());
        if self.blob_buf.get(tail..) != Some(&want[..]) {
            return Ok(Fed::Differs(
                "the gzip trailer (CRC-32 and length) differs from the data's".into(),
            ));
        }
        Ok(Fed::Digest(
            format!(
                "sha256:{}",
                hex::encode(std::mem::take(&mut self.sha).finalize())
            ),
            self.shipped,
        ))
    }
}

impl ResumeSink for Feeder<'_> {
    fn resume_point(&mut self, p: ResumePoint) {
        let Some(last) = self.starts.last() else {
            return;
        };
        // points must advance in both the stream and the blob; others are ignored
        if p.pos >= last.pos.saturating_add(self.target) && p.bit > last.bit {
            // Counted as if the stream went on: a start within 262 bytes of the end, where
            // that is wrong, is dropped by `finish` before it is used.
            let origin = ChainMatcher::buffer_origin(p.pos, u64::MAX);
            self.starts.push(Start {
                pos: p.pos,
                bit: p.bit,
                origin,
            });
        }
    }
}

impl Write for Feeder<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("parallel check: a chunk differs"));
        }
        if self.declined.is_some() {
            return Err(io::Error::other("parallel check: declined"));
        }
        self.crc.update(buf);
        self.written += buf.len() as u64;
        self.data.extend_from_slice(buf);
        self.ship_ready()?;
        if self.data.len() as u64 > (MAX_PENDING_CHUNKS * self.target).max(MIN_PENDING) + 2 * BUF {
            self.declined = Some(format!(
                "no resume point in {} bytes from offset {}",
                self.data.len(),
                self.data_start
            ));
            return Err(io::Error::other("parallel check: declined"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
