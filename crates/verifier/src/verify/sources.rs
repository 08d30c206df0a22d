//! The sources of the steps and their digests, returned as values.
//!
//! Each source file is read once for its sha256 (an input of the report) and, for a classic
//! build, the classic builder's `file:<hash>` of each context-tar generation (checked against
//! the config's history). The digests travel back with the layer that read them, and the
//! platform hands them to the config check and to the report.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use layerproof_archive::hashing::{Hasher, HashingReader};
use layerproof_archive::{Digest, Timestamp, source};
use layerproof_dockerfile::BuilderKind;
use layerproof_layer::Profile;

use super::Error;
use crate::classic_hash::{ContextFile, ContextTar, FileHasher};
use crate::infer;
use crate::layerscan::Scan;
use crate::rebuild::{self, Params, PlainFileMeta};
use crate::report::StepInfo;

/// Source path (as displayed) → its digests: the order the report lists them in.
pub(crate) type Sources = BTreeMap<String, SourceDigests>;

/// Digests of one source file, from one read.
#[derive(Debug, Clone)]
pub(crate) struct SourceDigests {
    /// The file's digest.
    pub(crate) sha256: Digest,
    /// Its size.
    pub(crate) size: u64,
    /// The classic builder's `file:<hash>` for each context-tar generation (empty unless the
    /// builder is classic).
    pub(crate) classic: Vec<(ContextTar, String)>,
}

/// The source of a step, resolved to a file of the context.
pub(crate) struct StepSource {
    /// The file.
    pub(crate) path: PathBuf,
    /// Its base name (the name a plain copy gets).
    pub(crate) name: String,
    /// The step, for the report.
    pub(crate) info: StepInfo,
    /// `ADD` unpacks an archive; `COPY` copies it.
    pub(crate) unpack: bool,
}

impl StepSource {
    /// The key of its digests in [`Sources`].
    pub(crate) fn key(&self) -> String {
        self.path.display().to_string()
    }
}

/// The digest and size of a file.
pub(crate) fn sha256_file(path: &Path) -> Result<(Digest, u64), Error> {
    let err = |source| Error::File {
        path: path.to_path_buf(),
        source,
    };
    let mut r = HashingReader::new(File::open(path).map_err(err)?);
    io::copy(&mut r, &mut io::sink()).map_err(err)?;
    Ok(r.finish())
}

/// The digests of `source` (with context file mode `perm`) that `builder` needs: `known` when it
/// has them already, else [`hash_source`].
pub(crate) fn source_digests(
    source: &StepSource,
    perm: u32,
    builder: BuilderKind,
    known: Option<&SourceDigests>,
) -> Result<SourceDigests, Error> {
    let classic = builder == BuilderKind::Classic;
    match known {
        Some(d) if !classic || !d.classic.is_empty() => Ok(d.clone()),
        _ => hash_source(source, perm, builder),
    }
}

/// sha256 of a source and, for a classic build, the classic builder's source hashes (the
/// `ADD file:<hash>` of its history), in one read.
pub(crate) fn hash_source(
    source: &StepSource,
    perm: u32,
    builder: BuilderKind,
) -> Result<SourceDigests, Error> {
    let err = |e| Error::File {
        path: source.path.clone(),
        source: e,
    };
    let mut f = File::open(&source.path).map_err(err)?;
    let size = f.metadata().map_err(err)?.len();
    let file = ContextFile::new(source.info.source.clone(), perm, size);
    let tars: &[ContextTar] = if builder == BuilderKind::Classic {
        &[ContextTar::TypeBits, ContextTar::PermissionsOnly]
    } else {
        &[]
    };
    let mut hashers: Vec<FileHasher> = tars.iter().map(|t| FileHasher::new(&file, *t)).collect();
    let mut sha = Hasher::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = f.read(&mut buf).map_err(err)?;
        if k == 0 {
            break;
        }
        sha.update(&buf[..k]);
        for h in &mut hashers {
            io::Write::write_all(h, &buf[..k]).map_err(err)?;
        }
    }
    let mut classic = Vec::new();
    for (t, h) in tars.iter().zip(hashers) {
        classic.push((*t, h.finish().map_err(err)?));
    }
    let (sha256, size) = sha.finish();
    Ok(SourceDigests {
        sha256,
        size,
        classic,
    })
}

/// How one layer's source is opened, and the parameters every profile starts from.
pub(crate) struct Setup<'a> {
    pub(super) path: &'a Path,
    pub(super) name: &'a str,
    pub(super) unpack: bool,
    /// Permission bits of the source in the build context.
    pub(crate) ctx_perm: u32,
    pub(super) memory_budget: u64,
    pub(super) limits: &'a source::Options,
}

impl Setup<'_> {
    /// Open the source from its start.
    pub(crate) fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(self.path)?,
        )))
    }

    /// `profile`'s parameters before any free parameter is applied.
    pub(crate) fn params(&self, profile: &'static Profile) -> Params<'static> {
        let mut p = Params::new(profile, self.name.as_bytes().to_vec());
        p.memory_budget = self.memory_budget;
        p.unpack = self.unpack;
        p.limits = self.limits.clone();
        p.plain_file = PlainFileMeta {
            perm: self.ctx_perm,
            mtime: Timestamp::EPOCH,
        };
        p
    }

    /// `profile`'s parameters with the free ones the published layer decided.
    pub(crate) fn params_for(&self, profile: &'static Profile, scan: &Scan) -> Params<'static> {
        let mut p = self.params(profile);
        infer::apply(&scan.published, profile, &mut p);
        p
    }

    /// A failure to read or rebuild the source.
    pub(crate) fn error(&self, source: rebuild::Error) -> Error {
        Error::Rebuild {
            path: self.path.to_path_buf(),
            source,
        }
    }
}
