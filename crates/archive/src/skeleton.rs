//! A tar stream's skeleton: everything but its file bodies, which count by digest.
//!
//! Two tar streams are byte-identical exactly when their skeletons are equal (short of a
//! SHA-256 collision): the skeleton hashes every byte outside regular files' data (headers,
//! extended headers, padding, the end-of-archive blocks and anything after them) in one
//! stream, and the offset, length and digest of every body in another. Put the raw bytes back
//! and each body at its offset and the whole stream is determined.
//!
//! This lets a verifier compare the layer it would write with a published one without keeping
//! (or spilling) the source's file bodies and without hashing its own 170 MB of output: the
//! bodies were hashed once while the source was read, the published layer's once while it was
//! scanned, and only the few megabytes of headers are encoded and hashed per candidate.

use sha2::{Digest as _, Sha256};

/// What a [`crate::read::Reader`] reports of the stream it passes
/// ([`crate::read::Reader::observe`]): every byte outside regular files' data, in order, and
/// each regular file's body by its length and sha256.
pub trait Observer {
    /// Whether the reader skips bodies unread (and reports them with a zero digest) instead of
    /// waiting for the caller to read each whole and give its digest.
    const SKIPS_BODIES: bool = false;

    /// Bytes outside file bodies.
    fn raw(&mut self, bytes: &[u8]);

    /// A file body of `len` bytes with this sha256, at the current position.
    fn body(&mut self, len: u64, sha256: &[u8; 32]);
}

/// The observer of a reader that reports nothing: it cannot be made, so a reader without an
/// observer holds none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unobserved {}

impl Observer for Unobserved {
    fn raw(&mut self, _: &[u8]) {
        match *self {}
    }

    fn body(&mut self, _: u64, _: &[u8; 32]) {
        match *self {}
    }
}

/// The skeleton of a finished stream. Equal skeletons mean equal streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Skeleton {
    /// sha256 of every byte outside file bodies, in stream order.
    pub raw: [u8; 32],
    /// sha256 of (offset, length, body digest) for every body, in stream order.
    pub bodies: [u8; 32],
    /// Length of the whole stream.
    pub size: u64,
}

/// Builds a [`Skeleton`] from raw bytes and body digests, in stream order.
#[derive(Debug, Clone, Default)]
pub struct SkeletonHasher {
    raw: Sha256,
    bodies: Sha256,
    pos: u64,
}

impl SkeletonHasher {
    /// An empty skeleton.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes outside file bodies.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.raw.update(bytes);
        self.pos += bytes.len() as u64;
    }

    /// A file body of `len` bytes with this sha256, at the current position.
    pub fn body(&mut self, len: u64, sha256: &[u8; 32]) {
        self.bodies.update(self.pos.to_le_bytes());
        self.bodies.update(len.to_le_bytes());
        self.bodies.update(sha256);
        self.pos += len;
    }

    /// Bytes seen so far, bodies included.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The skeleton of everything given.
    pub fn finish(self) -> Skeleton {
        Skeleton {
            raw: self.raw.finalize().into(),
            bodies: self.bodies.finalize().into(),
            size: self.pos,
        }
    }
}

/// A stream's bytes outside file bodies, kept, and where its bodies sit: what a verifier needs
/// to hash a stream made of these bytes and bodies of its own (see
/// [`crate::read::Reader::observe`] with a [`ShapeRecorder`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    /// Every byte outside file bodies, in stream order.
    pub raw: Vec<u8>,
    /// Each body in stream order: how many raw bytes precede it, and its length.
    pub bodies: Vec<(u64, u64)>,
}

impl Shape {
    /// Length of the stream: raw bytes and bodies.
    pub fn size(&self) -> u64 {
        self.raw.len() as u64 + self.bodies.iter().map(|b| b.1).sum::<u64>()
    }
}

/// Hashes the stream as it passes; the caller reads every body and gives its digest.
impl Observer for SkeletonHasher {
    #[inline]
    fn raw(&mut self, bytes: &[u8]) {
        SkeletonHasher::raw(self, bytes);
    }

    #[inline]
    fn body(&mut self, len: u64, sha256: &[u8; 32]) {
        SkeletonHasher::body(self, len, sha256);
    }
}

/// Records a [`Shape`], up to a limit on the raw bytes kept.
#[derive(Debug, Clone)]
pub struct ShapeRecorder {
    shape: Shape,
    limit: usize,
    over: bool,
}

impl ShapeRecorder {
    /// A recorder keeping at most `limit` raw bytes; past it the recording is lost.
    pub fn new(limit: usize) -> Self {
        ShapeRecorder {
            shape: Shape::default(),
            limit,
            over: false,
        }
    }

    /// Bytes outside file bodies.
    pub fn raw(&mut self, bytes: &[u8]) {
        if self.over || self.shape.raw.len() + bytes.len() > self.limit {
            self.over = true;
            self.shape.raw = Vec::new();
            return;
        }
        self.shape.raw.extend_from_slice(bytes);
    }

    /// A body of `len` bytes at the current position.
    pub fn body(&mut self, len: u64) {
        if !self.over {
            self.shape.bodies.push((self.shape.raw.len() as u64, len));
        }
    }

    /// The shape, or `None` when the raw bytes went over the limit.
    pub fn finish(self) -> Option<Shape> {
        (!self.over).then_some(self.shape)
    }
}

/// Keeps the bytes outside bodies; the reader skips bodies unread.
impl Observer for ShapeRecorder {
    const SKIPS_BODIES: bool = true;

    #[inline]
    fn raw(&mut self, bytes: &[u8]) {
        ShapeRecorder::raw(self, bytes);
    }

    #[inline]
    fn body(&mut self, len: u64, _sha256: &[u8; 32]) {
        ShapeRecorder::body(self, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skeleton(parts: &[(&[u8], bool)]) -> Skeleton {
        let mut h = SkeletonHasher::new();
        for (bytes, body) in parts {
            if *body {
                h.body(bytes.len() as u64, &Sha256::digest(bytes).into());
            } else {
                h.raw(bytes);
            }
        }
        h.finish()
    }

    #[test]
    fn same_stream_same_skeleton_however_raw_bytes_are_chunked() {
        let a = skeleton(&[
            (b"head", false),
            (b"er", false),
            (b"body", true),
            (b"pad", false),
        ]);
        let b = skeleton(&[
            (b"header", false),
            (b"body", true),
            (b"p", false),
            (b"ad", false),
        ]);
        assert_eq!(a, b);
        assert_eq!(a.size, 13);
    }

    #[test]
    fn shape_keeps_raw_bytes_and_body_places_within_its_limit() {
        let mut r = ShapeRecorder::new(10);
        r.raw(b"head");
        r.body(7);
        r.raw(b"pad");
        r.body(2);
        let shape = r.finish().unwrap();
        assert_eq!(shape.raw, b"headpad");
        assert_eq!(shape.bodies, vec![(4, 7), (7, 2)]);
        assert_eq!(shape.size(), 16);
        let mut r = ShapeRecorder::new(5);
        r.raw(b"head");
        r.body(1);
        r.raw(b"pa");
        r.raw(b"d");
        assert_eq!(r.finish(), None);
    }

    #[test]
    fn a_moved_or_changed_body_changes_the_skeleton() {
        let base = skeleton(&[(b"header", false), (b"body", true), (b"pad", false)]);
        // same raw bytes, same body, other offset
        let moved = skeleton(&[(b"head", false), (b"body", true), (b"erpad", false)]);
        let changed = skeleton(&[(b"header", false), (b"bodY", true), (b"pad", false)]);
        let split = skeleton(&[
            (b"header", false),
            (b"bo", true),
            (b"dy", true),
            (b"pad", false),
        ]);
        assert_ne!(base, moved);
        assert_ne!(base, changed);
        assert_ne!(base, split);
    }
}
