//! Small helpers shared by subcommands.
use std::io::{self, Read};

use sha2::{Digest, Sha256};

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable text.
    #[value(alias = "text")]
    Human,
    /// Machine-readable JSON (a versioned schema).
    Json,
}

/// A reader that hashes (sha256) and counts everything read through it.
#[derive(Debug)]
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R> HashingReader<R> {
    /// Wrap a reader.
    pub fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// The hex sha256 and byte count of everything read so far.
    pub fn finish(self) -> (String, u64) {
        (hex::encode(self.hasher.finalize()), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// `--build-arg` values as `docker build` takes them: `KEY=VALUE`, or `KEY` alone for the value
/// of the environment variable of that name.
pub fn parse_build_args(
    args: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => match std::env::var(a) {
                // `--build-arg NAME` takes the value from the environment, as docker build
                Ok(v) if !a.is_empty() => {
                    out.insert(a.clone(), v);
                }
                _ => anyhow::bail!(
                    "--build-arg {a:?}: expected KEY=VALUE (or KEY set in the environment)"
                ),
            },
        }
    }
    Ok(out)
}
