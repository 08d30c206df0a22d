//! One layer step: its source through Docker's `ADD` rules, written as the profile's engine
//! writes it (into the image when one is written), with the classic builder's source hash.
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use layerproof_archive::Timestamp;
use layerproof_archive::unpack::Hazard;
use layerproof_dockerfile::BuilderKind;
use layerproof_image::write::{ImageWriter, LayerBlob};
use layerproof_layer::profile::OwnerNames;
use layerproof_layer::{LayerSummary, NameTable};

use super::model::StepSource;
use super::report::{Assumed, AssumedSource, BuiltLayer, RefusedStep, StoredBlob};
use super::settle::Settled;
use super::{BuildRequest, Error, NamesFrom};
use crate::classic_hash::{self, ContextFile};
use crate::config::GoTime;
use crate::rebuild::{self, Params, PlainFileMeta, Prepared, Treatment, Unpacked};

/// What became of a layer step.
pub(super) enum Step {
    /// The layer was written.
    Built(BuiltLayer),
    /// Docker would refuse the step.
    Refused(RefusedStep),
}

/// Rebuilds the layer of `src`. The image writer is created on the first layer that is built,
/// so a refused build leaves no output behind.
pub(super) fn build(
    req: &BuildRequest,
    settled: &Settled,
    src: &StepSource,
    writer: &mut Option<ImageWriter>,
    assumed: &mut Vec<Assumed>,
) -> Result<Step, Error> {
    let cf = context_file(&src.path, &src.source)?;
    let mut params = Params::new(req.profile, src.name.as_bytes().to_vec());
    params.build_time = Timestamp::from_secs(settled.build_time.unix);
    params.limits = req.limits.clone();
    params.memory_budget = req.limits.unpack.memory_budget;
    params.unpack = src.unpack;
    params.plain_file = PlainFileMeta {
        perm: cf.mode,
        mtime: mtime_of(&src.path)?,
    };
    let path = src.path.clone();
    let open = move || -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(BufReader::with_capacity(
            1 << 16,
            File::open(&path)?,
        )))
    };
    let mut prepared = match rebuild::unpack(&open, &params).map_err(|e| Error::Source {
        path: src.path.clone(),
        source: e,
    })? {
        Unpacked::Refused(r) => {
            return Ok(Step::Refused(RefusedStep {
                line: src.line,
                source: src.source.clone(),
                reason: r.message,
            }));
        }
        Unpacked::Tree(p) => p,
    };
    if req.profile.owner_names.value == OwnerNames::Lookup {
        params.names = Some(names(req.names_from, &prepared, src, assumed)?);
    }
    let implied = prepared
        .hazards
        .iter()
        .filter(|h| matches!(h, Hazard::ImpliedDirectory { .. }))
        .count();
    let treatment = match &prepared.treatment {
        Treatment::Unpacked(c) => format!("unpacked ({c})"),
        Treatment::Copied { reason } => {
            // a copied file keeps its mode and mtime from the build context
            assumed.push(Assumed::new(
                format!("mode and mtime of the copied {}", src.source),
                format!(
                    "{:04o}, {}",
                    params.plain_file.perm,
                    GoTime::utc(params.plain_file.mtime.sec, 0)
                ),
                AssumedSource::Context,
                None,
            ));
            format!("copied ({reason})")
        }
    };
    let (summary, blob) = write(req, &params, &mut prepared, writer)?;
    let source_hash = match settled.builder {
        BuilderKind::Classic => {
            assumed.push(Assumed::new(
                format!("mode of {} in the context (source hash)", src.source),
                format!("{:04o}", cf.mode),
                AssumedSource::Context,
                None,
            ));
            Some(source_hash(settled, src, &cf)?)
        }
        BuilderKind::Buildkit => None,
    };
    if implied > 0 {
        assumed.push(Assumed::new(
            format!("mtime of {implied} implied directories"),
            Timestamp::from_secs(settled.build_time.unix)
                .sec
                .to_string(),
            AssumedSource::Derived,
            Some("--build-time"),
        ));
    }
    Ok(Step::Built(BuiltLayer {
        line: src.line,
        instruction: src.instruction.clone(),
        source: src.source.clone(),
        treatment,
        diff_id: summary.diff_id.to_string(),
        size: summary.size,
        entries: summary.entries,
        implied_directories: implied,
        blob: blob.map(|b| StoredBlob {
            digest: b.digest.to_string(),
            size: b.size,
            media_type: b.media_type,
        }),
        source_hash,
    }))
}

/// Writes the layer: into the image when one is written (creating the writer on the first
/// layer), else only hashed.
fn write(
    req: &BuildRequest,
    params: &Params<'_>,
    prepared: &mut Prepared,
    writer: &mut Option<ImageWriter>,
) -> Result<(LayerSummary, Option<LayerBlob>), Error> {
    if writer.is_none()
        && let Some(target) = &req.output
    {
        *writer = Some(ImageWriter::create(target).map_err(|e| Error::Output {
            target: target.clone(),
            source: e,
        })?);
    }
    Ok(match writer {
        None => (rebuild::write(prepared, params, io::sink())?.1, None),
        Some(w) => {
            let (lw, s) = rebuild::write(prepared, params, w.layer(req.compression)?)?;
            (s, Some(w.add_layer(lw)?))
        }
    })
}

/// The uid/gid → name table of a profile that looks names up.
fn names(
    from: NamesFrom,
    prepared: &Prepared,
    src: &StepSource,
    assumed: &mut Vec<Assumed>,
) -> Result<NameTable, Error> {
    let (names, what, source) = match from {
        NamesFrom::Rootfs => (
            NameTable::from_tree(&prepared.tree).map_err(|e| Error::Names {
                path: src.path.clone(),
                source: e,
            })?,
            "the tarball's /etc/passwd and /etc/group",
            AssumedSource::Default,
        ),
        NamesFrom::Host => (
            host_names()?,
            "this machine's /etc/passwd and /etc/group",
            AssumedSource::Option,
        ),
    };
    assumed.push(Assumed::new(
        "uid/gid names",
        format!("{what}: {}", names.describe()),
        source,
        Some("--names-from"),
    ));
    Ok(names)
}

/// The classic builder's `file:<hash>` of the source, as the engine's client tars it.
fn source_hash(settled: &Settled, src: &StepSource, cf: &ContextFile) -> Result<String, Error> {
    let io_err = |e| Error::Io {
        path: src.path.clone(),
        source: e,
    };
    let f = File::open(&src.path).map_err(io_err)?;
    classic_hash::file_hash(cf, settled.engine.context_tar(), BufReader::new(f)).map_err(io_err)
}

/// The client's tar header of a context file: permission bits and, if set,
/// `security.capability`.
fn context_file(path: &Path, rel: &str) -> Result<ContextFile, Error> {
    use std::os::unix::fs::PermissionsExt;
    let meta = std::fs::metadata(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let mut f = ContextFile::new(rel, meta.permissions().mode() & 0o7777, meta.len());
    let mut buf = [0u8; 512];
    if let Ok(n) = rustix::fs::lgetxattr(path, "security.capability", &mut buf) {
        f.xattrs
            .insert("security.capability".into(), buf[..n.min(512)].to_vec());
    }
    Ok(f)
}

fn mtime_of(path: &Path) -> Result<Timestamp, Error> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    Ok(Timestamp::from_secs(m.mtime()))
}

fn host_names() -> Result<NameTable, Error> {
    let read =
        |p: &'static str| std::fs::read(p).map_err(|e| Error::HostNames { path: p, source: e });
    Ok(NameTable::from_passwd_group(
        &read("/etc/passwd")?,
        &read("/etc/group")?,
    ))
}
