//! The stream under the reader: a buffered source that counts the bytes consumed, feeds the
//! bytes outside file bodies to the tracked skeleton or shape, and skips forward by reading or
//! by seeking.

use std::io::{self, BufRead, BufReader, Read};

use super::{Error, ErrorKind, Reader, Result};
use crate::skeleton::{Shape, ShapeRecorder, Skeleton, SkeletonHasher};
use crate::tar::BLOCK;

/// What a reader tracks of the bytes outside file bodies.
pub(super) enum Split {
    /// Their hash ([`Reader::track_skeleton`]).
    Skeleton(SkeletonHasher),
    /// The bytes themselves ([`Reader::track_shape`]).
    Shape(ShapeRecorder),
}

impl Split {
    pub(super) fn raw(&mut self, bytes: &[u8]) {
        match self {
            Split::Skeleton(h) => h.raw(bytes),
            Split::Shape(r) => r.raw(bytes),
        }
    }

    pub(super) fn body(&mut self, len: u64, sha256: &[u8; 32]) {
        match self {
            Split::Skeleton(h) => h.body(len, sha256),
            Split::Shape(r) => r.body(len),
        }
    }
}

/// Moves a buffered stream forward by that many bytes.
pub(super) type SeekBy<R> = fn(&mut BufReader<R>, i64) -> io::Result<()>;

/// The underlying stream, with the count of bytes consumed.
pub(super) struct Source<R> {
    pub(super) r: BufReader<R>,
    pub(super) pos: u64,
    /// The skeleton or shape, when tracked.
    pub(super) tap: Option<Split>,
    /// Bytes read now are outside file bodies (fed to `tap` as raw bytes).
    pub(super) raw_pass: bool,
    /// Skips forward without reading, when the stream can seek ([`Reader::skip_by_seeking`]).
    pub(super) seek: Option<SeekBy<R>>,
}

impl<R: Read> Source<R> {
    pub(super) fn read(&mut self, buf: &mut [u8]) -> Result<usize> {
        loop {
            match self.r.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    if self.raw_pass
                        && let Some(tap) = &mut self.tap
                    {
                        tap.raw(&buf[..n]);
                    }
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(ErrorKind::from_io(&e)),
            }
        }
    }

    /// Fill `buf` unless EOF comes first; returns the number of bytes read.
    pub(super) fn read_full(&mut self, buf: &mut [u8]) -> Result<usize> {
        let mut n = 0;
        while n < buf.len() {
            match self.read(&mut buf[n..])? {
                0 => break,
                k => n += k,
            }
        }
        Ok(n)
    }

    /// Skip `n` bytes outside the tracked split: by seeking when the stream can (a body
    /// skipped past the end shows as a short read at the next header), else by reading.
    pub(super) fn skip(&mut self, n: u64) -> Result<u64> {
        if n > 0
            && let (Some(seek), Ok(by)) = (self.seek, i64::try_from(n - 1))
        {
            // seek to the last byte and read it: a stream that ends before it is short
            seek(&mut self.r, by).map_err(|e| ErrorKind::from_io(&e))?;
            self.pos += n - 1;
            let at_end = loop {
                match self.r.fill_buf() {
                    Ok(b) => break b.is_empty(),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(ErrorKind::from_io(&e)),
                }
            };
            if at_end {
                return Ok(n - 1);
            }
            self.r.consume(1);
            self.pos += 1;
            return Ok(n);
        }
        self.discard(n)
    }

    /// Skip up to `n` bytes; returns how many were skipped (fewer only at EOF).
    pub(super) fn discard(&mut self, n: u64) -> Result<u64> {
        let mut left = n;
        while left > 0 {
            let avail = match self.r.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(ErrorKind::from_io(&e)),
            };
            if avail.is_empty() {
                break;
            }
            let k = usize::try_from(left).unwrap_or(usize::MAX).min(avail.len());
            if self.raw_pass
                && let Some(tap) = &mut self.tap
            {
                tap.raw(&avail[..k]);
            }
            self.r.consume(k);
            self.pos += k as u64;
            left -= k as u64;
        }
        Ok(n - left)
    }
}

impl<R: Read + io::Seek> Reader<R> {
    /// Skip the bodies a tracked [`Shape`] leaves unread by seeking instead of reading
    /// ([`Reader::track_shape`]): reading a layer's headers then costs the headers.
    ///
    /// Headers then come in small reads between seeks: give the reader a small buffer
    /// ([`Reader::with_capacity`]), or each read fetches that much of the next body.
    pub fn skip_by_seeking(&mut self) {
        self.src.seek = Some(|r, by| r.seek_relative(by));
    }
}

/// Tracking the skeleton or shape.
impl<R: Read> Reader<R> {
    /// Track the stream's [`Skeleton`]: every byte outside regular files' data is hashed as
    /// it passes; the caller reads each regular file's body whole (through [`Reader::body`])
    /// and hands its sha256 to [`Reader::body_digest`]. Call before the first header.
    pub fn track_skeleton(&mut self) {
        self.skeleton_broken |= self.src.pos > 0;
        self.src.tap = Some(Split::Skeleton(SkeletonHasher::new()));
    }

    /// Track the stream's [`Shape`]: every byte outside regular files' data is kept (up to
    /// `limit` bytes), and each regular file's body is skipped unread by the next
    /// [`Reader::next_header`] and noted by its place and length. Call before the first header.
    pub fn track_shape(&mut self, limit: usize) {
        self.skeleton_broken |= self.src.pos > 0;
        self.src.tap = Some(Split::Shape(ShapeRecorder::new(limit)));
    }

    /// The sha256 of the current entry's body, which the caller read whole. Ignored unless
    /// the skeleton is tracked and the entry is a regular file with data (not sparse).
    pub fn body_digest(&mut self, sha256: &[u8; 32]) {
        let Some(len) = self.split_len.take() else {
            return;
        };
        match &mut self.src.tap {
            Some(tap) if self.physical == 0 => tap.body(len, sha256),
            _ => self.skeleton_broken = true,
        }
    }

    /// After the end of the archive: read the rest of the stream and return its skeleton
    /// (`None` unless tracked from the start with every body's digest given).
    pub fn finish_skeleton(&mut self) -> Result<Option<Skeleton>, Error> {
        Ok(match self.finish_split()? {
            Some(Split::Skeleton(h)) => Some(h.finish()),
            _ => None,
        })
    }

    /// After the end of the archive: read the rest of the stream and return its shape (`None`
    /// unless tracked from the start, or when the raw bytes went over the limit).
    pub fn finish_shape(&mut self) -> Result<Option<Shape>, Error> {
        Ok(match self.finish_split()? {
            Some(Split::Shape(r)) => r.finish(),
            _ => None,
        })
    }

    fn finish_split(&mut self) -> Result<Option<Split>, Error> {
        if self.src.tap.is_none() {
            return Ok(None);
        }
        if !self.done {
            self.skeleton_broken = true;
        }
        self.src.raw_pass = true;
        let mut buf = [0u8; BLOCK * 16];
        loop {
            match self.src.read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(kind) => return Err(self.fail(kind, self.returned)),
            }
        }
        let tap = self.src.tap.take().expect("checked above");
        Ok((!self.skeleton_broken).then_some(tap))
    }

    /// Whether the current entry's data counts as a file body in the tracked skeleton or
    /// shape (a regular file with data, not sparse). Meaningful right after
    /// [`Reader::next_header`].
    pub fn splits_body(&self) -> bool {
        self.split_len.is_some()
    }
}
