//! The stream under the reader: a buffered source that counts the bytes consumed, reports the
//! bytes outside file bodies to the reader's [`Observer`], and skips forward by reading or by
//! seeking.

use std::io::{self, BufRead, BufReader, Read};

use super::{Error, ErrorKind, Reader, Result};
use crate::skeleton::Observer;
use crate::tar::BLOCK;

/// Moves a buffered stream forward by that many bytes.
pub(super) type SeekBy<R> = fn(&mut BufReader<R>, i64) -> io::Result<()>;

/// The underlying stream, with the count of bytes consumed.
pub(super) struct Source<R, O> {
    pub(super) r: BufReader<R>,
    pub(super) pos: u64,
    /// The observer, if any ([`Reader::observe`]).
    pub(super) tap: Option<O>,
    /// Bytes read now are outside file bodies (fed to `tap` as raw bytes).
    pub(super) raw_pass: bool,
    /// Skips forward without reading, when the stream can seek ([`Reader::skip_by_seeking`]).
    pub(super) seek: Option<SeekBy<R>>,
}

impl<R: Read, O: Observer> Source<R, O> {
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

impl<R: Read + io::Seek, O: Observer> Reader<R, O> {
    /// Skip the bodies an observer leaves unread ([`Observer::SKIPS_BODIES`]) by seeking
    /// instead of reading: reading a layer's headers then costs the headers.
    ///
    /// Headers then come in small reads between seeks: give the reader a small buffer
    /// ([`Reader::with_capacity`]), or each read fetches that much of the next body.
    pub fn skip_by_seeking(&mut self) {
        self.src.seek = Some(|r, by| r.seek_relative(by));
    }
}

/// Observing the stream.
impl<R: Read, O: Observer> Reader<R, O> {
    /// Report the stream to `observer` from here on: every byte outside regular files' data
    /// as it passes, and each regular file's body either by the sha256 the caller reads it for
    /// and gives to [`Reader::body_digest`], or, for an observer that skips bodies
    /// ([`Observer::SKIPS_BODIES`]), skipped unread by the next [`Reader::next_header`] and
    /// reported by its length. Call before the first header, or [`Reader::finish_observer`]
    /// returns `None`.
    pub fn observe<T: Observer>(self, observer: T) -> Reader<R, T> {
        Reader {
            skeleton_broken: self.skeleton_broken | (self.src.pos > 0),
            src: Source {
                r: self.src.r,
                pos: self.src.pos,
                tap: Some(observer),
                raw_pass: self.src.raw_pass,
                seek: self.src.seek,
            },
            options: self.options,
            physical: self.physical,
            pad: self.pad,
            sparse: self.sparse,
            err: self.err,
            done: self.done,
            returned: self.returned,
            ctx_name: self.ctx_name,
            ctx_offset: self.ctx_offset,
            split_len: self.split_len,
        }
    }

    /// The sha256 of the current entry's body, which the caller read whole. Ignored unless
    /// the stream is observed and the entry is a regular file with data (not sparse).
    pub fn body_digest(&mut self, sha256: &[u8; 32]) {
        let Some(len) = self.split_len.take() else {
            return;
        };
        match &mut self.src.tap {
            Some(tap) if self.physical == 0 => tap.body(len, sha256),
            _ => self.skeleton_broken = true,
        }
    }

    /// After the end of the archive: read the rest of the stream into the observer and
    /// return it (`None` unless it observed the stream from the start, with every body's
    /// digest given when it does not skip bodies).
    pub fn finish_observer(&mut self) -> Result<Option<O>, Error> {
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
        let tap = self.src.tap.take();
        Ok(tap.filter(|_| !self.skeleton_broken))
    }

    /// Whether the current entry's data counts as a file body for the observer (a regular
    /// file with data, not sparse). Meaningful right after
    /// [`Reader::next_header`].
    pub fn splits_body(&self) -> bool {
        self.split_len.is_some()
    }
}
