//! A content store for file bodies: memory up to a budget, a temporary file beyond it.
//!
//! Real rootfs tarballs are hundreds of megabytes and list files in any order, while a layer is
//! written in walk order. The unpack model therefore keeps each regular file's bytes here and hands
//! out a [`ContentRef`] (length + sha256). Bodies are appended once and read back any number of
//! times; nothing is ever rewritten in place.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::FileExt;

use sha2::{Digest, Sha256};

/// Default in-memory budget: 64 MiB (issue 7 keeps total RSS under 128 MiB).
pub const DEFAULT_MEMORY_BUDGET: u64 = 64 << 20;

/// What a store keeps of each body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bodies {
    /// The bytes (memory up to the budget, then the spill file), length and sha256: a tree
    /// that can be written out.
    #[default]
    Keep,
    /// Length and sha256 only: a tree that can be compared by [`crate::skeleton`] but not
    /// written out.
    Digests,
    /// Length only (the digest is all zeros): for a caller that binds bodies another way, by
    /// their [`ContentRef::id`] (a verifier that hashes the bodies in layer order as they
    /// stream past, see [`crate::source::add_tapped`]).
    Lengths,
}

/// A handle to one stored body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ContentRef {
    /// Index into the store.
    pub id: u32,
    /// Body length in bytes.
    pub len: u64,
    /// sha256 of the body (all zeros in a [`Bodies::Lengths`] store).
    #[serde(serialize_with = "ser_hex")]
    pub sha256: [u8; 32],
}

fn ser_hex<S: serde::Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(v))
}

impl ContentRef {
    /// The digest of the body.
    pub fn digest(&self) -> crate::Digest {
        crate::Digest::from_bytes(self.sha256)
    }
}

#[derive(Debug, Clone, Copy)]
enum Location {
    /// `memory[start..start+len]`.
    Memory { start: usize },
    /// `spill[offset..offset+len]`.
    Spilled { offset: u64 },
    /// Not kept: a digest-only store (see [`ContentStore::digest_only`]).
    Dropped,
}

/// Errors from the content store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the body from its source failed (the source names the entry upstream).
    #[error("reading file body: {0}")]
    Source(#[source] io::Error),
    /// The body ended before its declared length.
    #[error("file body ended after {got} of {expected} bytes")]
    Short {
        /// Bytes received.
        got: u64,
        /// Bytes the header declared.
        expected: u64,
    },
    /// The spill file could not be created, written or read.
    #[error("content spill file: {0}")]
    Spill(#[source] io::Error),
    /// More than `u32::MAX` bodies.
    #[error("more than {} file bodies", u32::MAX)]
    TooMany,
}

/// The error a digest-only store gives when a body is read back.
fn dropped() -> io::Error {
    io::Error::other("file body not kept (the content store keeps digests only)")
}

/// Bodies in memory up to a budget, then in an anonymous temporary file — or, for a store made
/// with [`ContentStore::digest_only`], only their lengths and digests.
#[derive(Debug)]
pub struct ContentStore {
    budget: u64,
    keep: bool,
    hash: bool,
    memory: Vec<u8>,
    spill: Option<File>,
    spill_len: u64,
    entries: Vec<(Location, u64)>,
    scratch: Vec<u8>,
}

impl Default for ContentStore {
    fn default() -> Self {
        Self::new(DEFAULT_MEMORY_BUDGET)
    }
}

impl ContentStore {
    /// A store that keeps up to `budget` bytes in memory.
    pub fn new(budget: u64) -> Self {
        ContentStore {
            budget,
            keep: true,
            hash: true,
            memory: Vec::new(),
            spill: None,
            spill_len: 0,
            entries: Vec::new(),
            scratch: vec![0; 64 << 10],
        }
    }

    /// A store that hashes every body and keeps nothing else: enough to compare a layer with
    /// another by digests ([`crate::skeleton`]), not to write it. Reading a body back fails.
    pub fn digest_only() -> Self {
        ContentStore {
            keep: false,
            ..Self::new(0)
        }
    }

    /// A store for `bodies`, keeping up to `budget` bytes in memory when it keeps them.
    pub fn for_bodies(bodies: Bodies, budget: u64) -> Self {
        match bodies {
            Bodies::Keep => Self::new(budget),
            Bodies::Digests => Self::digest_only(),
            Bodies::Lengths => ContentStore {
                hash: false,
                ..Self::digest_only()
            },
        }
    }

    /// Number of bodies stored so far; the next body gets this [`ContentRef::id`].
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no body was stored.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Length of body `id`, if there is one.
    pub fn body_len(&self, id: u32) -> Option<u64> {
        self.entries.get(id as usize).map(|(_, len)| *len)
    }

    /// Whether bodies are kept (false for [`ContentStore::digest_only`]).
    pub fn keeps_bodies(&self) -> bool {
        self.keep
    }

    /// Bytes held in memory.
    pub fn memory_bytes(&self) -> u64 {
        self.memory.len() as u64
    }

    /// Bytes written to the spill file.
    pub fn spilled_bytes(&self) -> u64 {
        self.spill_len
    }

    /// Store exactly `len` bytes read from `src`, hashing as they stream.
    pub fn put(&mut self, src: &mut dyn Read, len: u64) -> Result<ContentRef, Error> {
        let id = u32::try_from(self.entries.len()).map_err(|_| Error::TooMany)?;
        let mut hasher = self.hash.then(Sha256::new);
        let location = if self.keep && self.memory.len() as u64 + len <= self.budget {
            let start = self.memory.len();
            let mut limited = src.take(len);
            let got = limited
                .read_to_end(&mut self.memory)
                .map_err(Error::Source)? as u64;
            if got != len {
                self.memory.truncate(start);
                return Err(Error::Short { got, expected: len });
            }
            if let Some(h) = &mut hasher {
                h.update(&self.memory[start..]);
            }
            Location::Memory { start }
        } else if self.keep {
            let offset = self.spill_len;
            let file = Self::spill_file(&mut self.spill)?;
            let spill_len = &mut self.spill_len;
            pump(src, len, &mut self.scratch, &mut hasher, |chunk| {
                file.write_all_at(chunk, *spill_len).map_err(Error::Spill)?;
                *spill_len += chunk.len() as u64;
                Ok(())
            })?;
            Location::Spilled { offset }
        } else {
            pump(src, len, &mut self.scratch, &mut hasher, |_| Ok(()))?;
            Location::Dropped
        };
        Ok(self.record(id, location, len, hasher))
    }

    /// Store everything `src` yields, to its end: for a body whose length is not known up
    /// front (a file copied as it is). Like [`ContentStore::put`], it stays in memory while it
    /// fits the budget and goes to the spill file once it does not, so memory stays bounded
    /// however long the stream is.
    pub fn put_to_end(&mut self, src: &mut dyn Read) -> Result<ContentRef, Error> {
        let id = u32::try_from(self.entries.len()).map_err(|_| Error::TooMany)?;
        let mut hasher = self.hash.then(Sha256::new);
        let start = self.memory.len();
        let mut spilled_at: Option<u64> = None;
        let mut len = 0u64;
        loop {
            let n = match src.read(&mut self.scratch) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    if spilled_at.is_none() {
                        self.memory.truncate(start);
                    }
                    return Err(Error::Source(e));
                }
            };
            let chunk = &self.scratch[..n];
            if let Some(h) = &mut hasher {
                h.update(chunk);
            }
            len += n as u64;
            if !self.keep {
                continue;
            }
            if spilled_at.is_none() && self.memory.len() as u64 + n as u64 <= self.budget {
                self.memory.extend_from_slice(chunk);
                continue;
            }
            let file = Self::spill_file(&mut self.spill)?;
            if spilled_at.is_none() {
                // over the budget: what this body had in memory moves to the spill file
                spilled_at = Some(self.spill_len);
                file.write_all_at(&self.memory[start..], self.spill_len)
                    .map_err(Error::Spill)?;
                self.spill_len += (self.memory.len() - start) as u64;
                self.memory.truncate(start);
            }
            file.write_all_at(chunk, self.spill_len)
                .map_err(Error::Spill)?;
            self.spill_len += n as u64;
        }
        let location = match (self.keep, spilled_at) {
            (false, _) => Location::Dropped,
            (true, Some(offset)) => Location::Spilled { offset },
            (true, None) => Location::Memory { start },
        };
        Ok(self.record(id, location, len, hasher))
    }

    /// Note body `id` stored at `location`; its digest is `hasher`'s, or zeros in a store that
    /// does not hash.
    fn record(
        &mut self,
        id: u32,
        location: Location,
        len: u64,
        hasher: Option<Sha256>,
    ) -> ContentRef {
        self.entries.push((location, len));
        ContentRef {
            id,
            len,
            sha256: hasher.map_or([0; 32], |h| h.finalize().into()),
        }
    }

    /// The spill file, created on first use.
    fn spill_file(spill: &mut Option<File>) -> Result<&File, Error> {
        if spill.is_none() {
            *spill = Some(tempfile::tempfile().map_err(Error::Spill)?);
        }
        Ok(spill.as_ref().expect("spill file was just created"))
    }

    /// Store a body given as bytes.
    pub fn put_bytes(&mut self, bytes: &[u8]) -> Result<ContentRef, Error> {
        self.put(&mut &bytes[..], bytes.len() as u64)
    }

    /// A reader over one stored body.
    pub fn open(&self, r: &ContentRef) -> ContentReader<'_> {
        let (location, len) = self.entries[r.id as usize];
        ContentReader {
            store: self,
            location,
            pos: 0,
            len,
        }
    }

    /// Copy one stored body into `out`.
    pub fn copy_to(&self, r: &ContentRef, out: &mut dyn Write) -> io::Result<()> {
        let (location, len) = self.entries[r.id as usize];
        match location {
            Location::Memory { start } => out.write_all(&self.memory[start..start + len as usize]),
            Location::Spilled { .. } => {
                io::copy(&mut self.open(r), out)?;
                Ok(())
            }
            Location::Dropped => Err(dropped()),
        }
    }
}

/// Read exactly `len` bytes from `src` through `scratch`, hashing each chunk and handing it to
/// `sink`.
fn pump(
    src: &mut dyn Read,
    len: u64,
    scratch: &mut [u8],
    hasher: &mut Option<Sha256>,
    mut sink: impl FnMut(&[u8]) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut remaining = len;
    while remaining > 0 {
        let want = remaining.min(scratch.len() as u64) as usize;
        let n = match src.read(&mut scratch[..want]) {
            Ok(0) => {
                return Err(Error::Short {
                    got: len - remaining,
                    expected: len,
                });
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::Source(e)),
        };
        if let Some(h) = hasher {
            h.update(&scratch[..n]);
        }
        sink(&scratch[..n])?;
        remaining -= n as u64;
    }
    Ok(())
}

/// Reads one stored body.
#[derive(Debug)]
pub struct ContentReader<'a> {
    store: &'a ContentStore,
    location: Location,
    pos: u64,
    len: u64,
}

impl Read for ContentReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let remaining = self.len - self.pos;
        let n = (buf.len() as u64).min(remaining) as usize;
        if n == 0 {
            return Ok(0);
        }
        match self.location {
            Location::Memory { start } => {
                let from = start + self.pos as usize;
                buf[..n].copy_from_slice(&self.store.memory[from..from + n]);
            }
            Location::Spilled { offset } => {
                let file = self
                    .store
                    .spill
                    .as_ref()
                    .ok_or_else(|| io::Error::other("content spill file missing"))?;
                file.read_exact_at(&mut buf[..n], offset + self.pos)?;
            }
            Location::Dropped => return Err(dropped()),
        }
        self.pos += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_then_spill_round_trip() {
        let mut store = ContentStore::new(10);
        let a = store.put_bytes(b"hello").unwrap();
        let b = store.put_bytes(b"world, this spills").unwrap();
        let c = store.put_bytes(b"ok").unwrap();
        assert_eq!(store.memory_bytes(), 7);
        assert_eq!(store.spilled_bytes(), 18);
        for (r, want) in [(a, &b"hello"[..]), (b, b"world, this spills"), (c, b"ok")] {
            let mut got = Vec::new();
            store.open(&r).read_to_end(&mut got).unwrap();
            assert_eq!(got, want);
            let mut copied = Vec::new();
            store.copy_to(&r, &mut copied).unwrap();
            assert_eq!(copied, want);
            assert_eq!(r.sha256, <[u8; 32]>::from(Sha256::digest(want)));
        }
    }

    #[test]
    fn digest_only_store_hashes_and_refuses_reads() {
        let mut store = ContentStore::digest_only();
        assert!(!store.keeps_bodies());
        let r = store.put_bytes(b"hello").unwrap();
        assert_eq!(r.len, 5);
        assert_eq!(r.sha256, <[u8; 32]>::from(Sha256::digest(b"hello")));
        assert_eq!(store.memory_bytes() + store.spilled_bytes(), 0);
        assert!(store.copy_to(&r, &mut Vec::new()).is_err());
        assert!(store.open(&r).read(&mut [0u8; 4]).is_err());
        assert!(matches!(
            store.put(&mut &b"ab"[..], 3),
            Err(Error::Short {
                got: 2,
                expected: 3
            })
        ));
    }

    #[test]
    fn lengths_only_store_counts_without_hashing() {
        let mut store = ContentStore::for_bodies(Bodies::Lengths, 1 << 20);
        assert!(store.is_empty());
        let a = store.put_bytes(b"hello").unwrap();
        let b = store.put_bytes(b"").unwrap();
        assert_eq!((a.id, a.len, a.sha256), (0, 5, [0; 32]));
        assert_eq!((b.id, b.len), (1, 0));
        assert_eq!(store.len(), 2);
        assert_eq!(store.body_len(0), Some(5));
        assert_eq!(store.body_len(2), None);
        assert!(store.copy_to(&a, &mut Vec::new()).is_err());
        let keep = ContentStore::for_bodies(Bodies::Keep, 1 << 20);
        assert!(keep.keeps_bodies());
        let mut digests = ContentStore::for_bodies(Bodies::Digests, 1 << 20);
        assert_eq!(
            digests.put_bytes(b"hello").unwrap().sha256,
            <[u8; 32]>::from(Sha256::digest(b"hello"))
        );
    }

    #[test]
    fn a_stream_of_unknown_length_stays_within_the_budget() {
        let mut store = ContentStore::new(100);
        store.scratch = vec![0; 7]; // several chunks per body
        let small = store.put_to_end(&mut &b"hello"[..]).unwrap();
        let long: Vec<u8> = (0..250u32).map(|i| i as u8).collect();
        let big = store.put_to_end(&mut &long[..]).unwrap();
        let after = store.put_to_end(&mut &b"ok"[..]).unwrap();
        assert_eq!(store.memory_bytes(), 7, "the long body left memory");
        assert_eq!(store.spilled_bytes(), 250);
        for (r, want) in [(small, &b"hello"[..]), (big, &long[..]), (after, b"ok")] {
            let mut got = Vec::new();
            store.copy_to(&r, &mut got).unwrap();
            assert_eq!(got, want);
            assert_eq!(r.len, want.len() as u64);
            assert_eq!(r.sha256, <[u8; 32]>::from(Sha256::digest(want)));
        }
        let mut lengths = ContentStore::for_bodies(Bodies::Lengths, 0);
        let r = lengths.put_to_end(&mut &long[..]).unwrap();
        assert_eq!((r.len, r.sha256), (250, [0; 32]));
        assert_eq!(lengths.memory_bytes() + lengths.spilled_bytes(), 0);
    }

    #[test]
    fn short_body_is_an_error() {
        let mut store = ContentStore::new(0);
        let err = store.put(&mut &b"abc"[..], 5).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Short {
                    got: 3,
                    expected: 5
                }
            ),
            "{err}"
        );
        let mut store = ContentStore::new(100);
        let err = store.put(&mut &b"abc"[..], 5).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Short {
                    got: 3,
                    expected: 5
                }
            ),
            "{err}"
        );
        assert_eq!(store.memory_bytes(), 0);
    }
}
