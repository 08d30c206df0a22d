//! What Docker's `ADD` would make of a tarball, as a report (JSON schema
//! `layerproof.inspect/v1`): the compression it detects, the tar formats seen, entry counts,
//! and every reproducibility hazard — or why it is copied as a plain file, or refused.
//!
//! Field names and values are a stable format: add fields, do not rename or remove them.
use std::collections::BTreeMap;
use std::io::{self, Read};

use serde::Serialize;

use crate::hashing::HashingReader;
use crate::source::{self, Added};
use crate::unpack::{Hazard, Refusal};

/// The schema name written in [`Inspection::schema`].
pub const SCHEMA: &str = "layerproof.inspect/v1";

/// What `ADD` does with one file.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// Always [`SCHEMA`].
    pub schema: &'static str,
    /// The file, as the caller names it.
    pub file: String,
    /// sha256 of the whole file, hex.
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// Unpacked, copied or refused.
    pub result: Treatment,
    /// The compression Docker detects.
    pub compression: String,
    /// The tar header formats seen (`v7`, `ustar`, `pax`, `gnu`, `star`).
    pub formats: Vec<&'static str>,
    /// Decompressed tar bytes.
    pub tar_bytes: u64,
    /// Entries seen.
    pub entries: u64,
    /// Entries by type.
    pub by_type: BTreeMap<String, u64>,
    /// Whether Docker can build it.
    pub buildable: bool,
    /// Why Docker would refuse it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<Refusal>,
    /// Why it is not an archive (with [`Treatment::PlainFile`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_archive_reason: Option<String>,
    /// Every reproducibility hazard met while unpacking.
    pub hazards: Vec<Hazard>,
}

/// What `ADD` does with the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Treatment {
    /// It is unpacked as an archive.
    Archive,
    /// It is not an archive: Docker copies it as it is.
    PlainFile,
    /// Docker would fail the build.
    Refused,
}

/// Failures of our own input (a refusal is an [`Inspection`]).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or unpacking failed, or a limit was reached.
    #[error(transparent)]
    Source(#[from] source::Error),
    /// Reading the rest of the file failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Inspects the file `reader` reads (named `file` in the report) under `opts`. The whole file
/// is hashed, the bytes after the end-of-archive marker included.
pub fn inspect(
    file: &str,
    reader: impl Read + Send,
    opts: &source::Options,
) -> Result<Inspection, Error> {
    let mut hashing = HashingReader::new(reader);
    let added = source::add(&mut hashing, opts)?;
    io::copy(&mut hashing, &mut io::sink())?;
    let (sha256, size) = hashing.finish();
    let mut report = Inspection {
        schema: SCHEMA,
        file: file.to_string(),
        sha256: sha256.hex(),
        size,
        result: Treatment::Archive,
        compression: String::new(),
        formats: Vec::new(),
        tar_bytes: 0,
        entries: 0,
        by_type: BTreeMap::new(),
        buildable: true,
        refusal: None,
        not_archive_reason: None,
        hazards: Vec::new(),
    };
    match added {
        Added::PlainFile {
            compression,
            reason,
        } => {
            report.result = Treatment::PlainFile;
            report.compression = compression.to_string();
            report.not_archive_reason = Some(reason);
        }
        Added::Archive(a) => {
            report.compression = a.compression.to_string();
            report.tar_bytes = a.tar_bytes;
            let f = a.formats;
            let seen = [
                (f.v7, "v7"),
                (f.ustar, "ustar"),
                (f.pax, "pax"),
                (f.gnu, "gnu"),
                (f.star, "star"),
            ];
            report.formats = seen.iter().filter(|(on, _)| *on).map(|(_, n)| *n).collect();
            match a.outcome {
                Ok(u) => {
                    report.entries = u.stats.entries;
                    report.by_type = u.stats.by_type;
                    report.hazards = u.hazards;
                }
                Err(r) => {
                    report.result = Treatment::Refused;
                    report.buildable = false;
                    report.refusal = Some(r);
                }
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_file_is_copied_and_hashed_whole() {
        let data = b"not a tar at all";
        let r = inspect("f", &data[..], &source::Options::default()).unwrap();
        assert_eq!(r.result, Treatment::PlainFile);
        assert!(r.buildable && r.not_archive_reason.is_some());
        assert_eq!(r.size, data.len() as u64);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["schema"], SCHEMA);
        assert_eq!(json["result"], "plain-file");
    }
}
