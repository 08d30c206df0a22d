//! Content digests and readers that verify them while bytes stream.
use std::fmt;
use std::io::{self, Read};

use sha2::{Digest as _, Sha256};

use crate::error::Error;

/// A verified-format `sha256:<64 lowercase hex>` content digest.
///
/// Other algorithms (`sha512:` …) are refused with [`Error::UnsupportedDigest`] rather than
/// trusted unverified.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    hex: String,
}

impl Digest {
    /// Parses `sha256:<hex>`.
    pub fn parse(input: &str) -> Result<Digest, Error> {
        let Some((alg, hex)) = input.split_once(':') else {
            return Err(Error::MalformedDigest {
                input: input.to_string(),
                reason: "missing ':'",
            });
        };
        let alg_ok = !alg.is_empty()
            && alg
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"+._-".contains(&b));
        if !alg_ok {
            return Err(Error::MalformedDigest {
                input: input.to_string(),
                reason: "bad algorithm name",
            });
        }
        if hex.is_empty()
            || !hex
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"=_-".contains(&b))
        {
            return Err(Error::MalformedDigest {
                input: input.to_string(),
                reason: "bad encoded part",
            });
        }
        if alg != "sha256" {
            return Err(Error::UnsupportedDigest {
                digest: input.to_string(),
            });
        }
        if hex.len() != 64
            || !hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::MalformedDigest {
                input: input.to_string(),
                reason: "sha256 needs 64 lowercase hex digits",
            });
        }
        Ok(Digest {
            hex: hex.to_string(),
        })
    }

    /// The sha256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest {
            hex: hex::encode(Sha256::digest(bytes)),
        }
    }

    /// The hex part (64 characters), as used in `blobs/sha256/<hex>`.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The algorithm (always `sha256`).
    pub fn algorithm(&self) -> &'static str {
        "sha256"
    }

    /// Checks that `bytes` hash to this digest.
    pub fn verify(&self, bytes: &[u8], what: &str) -> Result<(), Error> {
        let actual = Digest::of(bytes);
        if &actual != self {
            return Err(Error::DigestMismatch {
                what: what.to_string(),
                expected: self.clone(),
                actual,
            });
        }
        Ok(())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex)
    }
}

impl std::str::FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An incremental sha256 + byte counter.
#[derive(Clone, Default)]
pub struct Hasher {
    sha: Sha256,
    len: u64,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Hasher {
        Hasher::default()
    }
    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }
    /// Bytes fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }
    /// Whether no bytes were fed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest {
            hex: hex::encode(self.sha.finalize()),
        }
    }
}

/// A reader that hashes and counts every byte it passes on, and **never reports end of stream
/// unless the digest and size matched**.
///
/// * More bytes than the expected size: the read that would exceed it fails (nothing extra is
///   passed on).
/// * At end of stream the sha256 and the length are compared; a mismatch turns the final
///   `read` into an error ([`std::io::ErrorKind::InvalidData`] carrying an [`Error`]; recover it
///   with [`Error::from_io`]).
///
/// So a caller that reads to `Ok(0)` has seen only verified bytes; a caller that must not act on
/// any byte before verification (the registry transport does this) spools first.
pub struct VerifiedReader<R> {
    inner: R,
    what: String,
    expected: Digest,
    size: Option<u64>,
    hasher: Hasher,
    done: bool,
}

impl<R: Read> VerifiedReader<R> {
    /// Wraps `inner`, expecting `digest` and (when known) `size`; `what` names the stream in errors.
    pub fn new(inner: R, digest: Digest, size: Option<u64>, what: impl Into<String>) -> Self {
        VerifiedReader {
            inner,
            what: what.into(),
            expected: digest,
            size,
            hasher: Hasher::new(),
            done: false,
        }
    }

    /// The digest this reader verifies.
    pub fn digest(&self) -> &Digest {
        &self.expected
    }

    /// The size this reader expects, when known.
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// What the stream is (for messages).
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Reads everything (at most `limit` bytes) into memory, verified.
    pub fn read_all(mut self, limit: u64) -> Result<Vec<u8>, Error> {
        if let Some(size) = self.size
            && size > limit
        {
            return Err(Error::TooLarge {
                what: self.what.clone(),
                limit,
            });
        }
        let mut buf = Vec::new();
        let what = self.what.clone();
        (&mut self)
            .take(limit.saturating_add(1))
            .read_to_end(&mut buf)
            .map_err(|e| Error::from_io(e, &what))?;
        if buf.len() as u64 > limit {
            return Err(Error::TooLarge { what, limit });
        }
        // a short read from take() above means EOF was reached and verified
        Ok(buf)
    }

    fn fail(&self, err: Error) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, err)
    }
}

impl<R: Read> Read for VerifiedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let room = match self.size {
            // allow one byte past the size so that an overlong stream is detected
            Some(size) => (size.saturating_sub(self.hasher.len()).saturating_add(1))
                .min(buf.len() as u64) as usize,
            None => buf.len(),
        };
        let n = self.inner.read(&mut buf[..room])?;
        if n == 0 {
            let actual_len = self.hasher.len();
            if let Some(size) = self.size
                && actual_len != size
            {
                return Err(self.fail(Error::SizeMismatch {
                    what: self.what.clone(),
                    expected: size,
                    actual: actual_len,
                    truncated: actual_len < size,
                }));
            }
            let actual = self.hasher.clone().finish();
            if actual != self.expected {
                return Err(self.fail(Error::DigestMismatch {
                    what: self.what.clone(),
                    expected: self.expected.clone(),
                    actual,
                }));
            }
            self.done = true;
            return Ok(0);
        }
        if let Some(size) = self.size
            && self.hasher.len() + n as u64 > size
        {
            return Err(self.fail(Error::SizeMismatch {
                what: self.what.clone(),
                expected: size,
                actual: self.hasher.len() + n as u64,
                truncated: false,
            }));
        }
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        let d = Digest::of(b"");
        assert_eq!(
            d.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(Digest::parse(&d.to_string()).unwrap(), d);
        assert!(matches!(
            Digest::parse("sha512:abcd"),
            Err(Error::UnsupportedDigest { .. })
        ));
        assert!(matches!(
            Digest::parse("sha256:ABC"),
            Err(Error::MalformedDigest { .. })
        ));
        assert!(matches!(
            Digest::parse("nocolon"),
            Err(Error::MalformedDigest { .. })
        ));
        assert!(matches!(
            Digest::parse("sha256:"),
            Err(Error::MalformedDigest { .. })
        ));
        assert!(Digest::parse("sha256:../../etc/passwd").is_err());
    }

    fn read_through(data: &[u8], d: Digest, size: Option<u64>) -> Result<Vec<u8>, Error> {
        let mut r = VerifiedReader::new(data, d, size, "test");
        let mut out = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            match r.read(&mut buf) {
                Ok(0) => return Ok(out),
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) => return Err(Error::from_io(e, "test")),
            }
        }
    }

    #[test]
    fn verified_reader() {
        let data = b"hello world";
        let d = Digest::of(data);
        assert_eq!(read_through(data, d.clone(), Some(11)).unwrap(), data);
        assert_eq!(read_through(data, d.clone(), None).unwrap(), data);
        let e = read_through(b"hello worle", d.clone(), Some(11)).unwrap_err();
        assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");
        let e = read_through(b"hello", d.clone(), Some(11)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::SizeMismatch {
                    truncated: true,
                    ..
                }
            ),
            "{e}"
        );
        let e = read_through(b"hello world!!", d, Some(11)).unwrap_err();
        assert!(
            matches!(
                e,
                Error::SizeMismatch {
                    truncated: false,
                    ..
                }
            ),
            "{e}"
        );
    }
}
