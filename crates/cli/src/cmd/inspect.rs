//! `layerproof inspect TARBALL`: what Docker's `ADD` would make of a rootfs tarball.
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Write};
use std::path::PathBuf;

use anyhow::Context;
use layerproof_archive::inspect::{self, Inspection, Treatment};
use layerproof_archive::source;
use layerproof_archive::unpack::Hazard;

use crate::Outcome;

use crate::util::Format;

/// Report what Docker's `ADD TARBALL /` would do, and every reproducibility hazard.
///
/// Lists the compression Docker detects, the tar formats seen, entry counts by type, and each
/// hazard: implied directories (their mtime will be the build's wall-clock time), character
/// devices 0:0, `.wh.*` names, xattrs an engine drops, out-of-range mtimes, duplicate paths,
/// hard links whose direction will flip, symlinks that climb above the root, and anything that
/// makes the build fail.
///
/// Exit status: 0 when Docker can build it, 1 when Docker would refuse it, 2 when the file
/// cannot be read.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  layerproof inspect rootfs.tar.gz\n  layerproof inspect --format json rootfs.tar.xz | jq .hazards"
)]
pub struct Args {
    /// The rootfs tarball (tar, .tar.gz, .tar.bz2, .tar.xz, .tar.zst).
    pub tarball: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Show every item of each hazard instead of the first 10.
    #[arg(long)]
    pub all: bool,
    /// Treat zstd as Docker 20.10 does: not recognised, so the file is copied, not unpacked.
    #[arg(long)]
    pub no_zstd: bool,
    #[command(flatten)]
    pub limits: crate::limits::Limits,
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let file = File::open(&args.tarball)
        .with_context(|| format!("cannot open {}", args.tarball.display()))?;
    let mut opts = source::Options::default();
    args.limits.apply(&mut opts);
    opts.decompress.zstd = !args.no_zstd;
    let report = inspect::inspect(
        &args.tarball.display().to_string(),
        BufReader::with_capacity(1 << 20, file),
        &opts,
    )
    .with_context(|| format!("cannot read {}", args.tarball.display()))?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Human => print_human(&mut out, &report, args.all)?,
    }
    Ok(if report.buildable {
        Outcome::Success
    } else {
        Outcome::Negative
    })
}

fn print_human(out: &mut dyn Write, r: &Inspection, all: bool) -> io::Result<()> {
    writeln!(out, "{}", r.file)?;
    writeln!(out, "  sha256:{}  {} bytes", r.sha256, r.size)?;
    writeln!(out, "  compression: {}", r.compression)?;
    match r.result {
        Treatment::PlainFile => {
            writeln!(
                out,
                "  NOT AN ARCHIVE: Docker's ADD copies this file as it is, to /{}",
                std::path::Path::new(&r.file)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default()
            )?;
            if let Some(reason) = &r.not_archive_reason {
                writeln!(out, "  (the first tar header does not parse: {reason})")?;
            }
            return Ok(());
        }
        Treatment::Refused => {
            if let Some(refusal) = &r.refusal {
                writeln!(out, "  NOT BUILDABLE: Docker would fail this ADD")?;
                writeln!(out, "    {refusal}")?;
            }
            return Ok(());
        }
        Treatment::Archive => {}
    }
    writeln!(
        out,
        "  tar formats: {}  ({} bytes uncompressed)",
        if r.formats.is_empty() {
            "-".to_string()
        } else {
            r.formats.join(", ")
        },
        r.tar_bytes
    )?;
    let types: Vec<String> = r.by_type.iter().map(|(k, v)| format!("{k} {v}")).collect();
    writeln!(out, "  entries: {} ({})", r.entries, types.join(", "))?;
    writeln!(out, "  buildable: yes")?;
    if r.hazards.is_empty() {
        writeln!(
            out,
            "  hazards: none — the layer depends only on the tarball and the engine"
        )?;
        return Ok(());
    }
    let mut groups: BTreeMap<&'static str, Vec<String>> = BTreeMap::new();
    for h in &r.hazards {
        let (key, item) = describe(h);
        groups.entry(key).or_default().push(item);
    }
    writeln!(out, "  hazards: {}", r.hazards.len())?;
    for (key, items) in groups {
        writeln!(out, "    {} ({}): {}", key, items.len(), explain(key))?;
        let shown = if all {
            items.len()
        } else {
            items.len().min(10)
        };
        for item in &items[..shown] {
            writeln!(out, "      {item}")?;
        }
        if shown < items.len() {
            writeln!(
                out,
                "      … and {} more (--all shows them)",
                items.len() - shown
            )?;
        }
    }
    Ok(())
}

/// A group key and a one-line item for a hazard.
fn describe(h: &Hazard) -> (&'static str, String) {
    match h {
        Hazard::ImpliedDirectory { path } => ("implied-directory", format!("{path}/")),
        Hazard::RootEntryIgnored {
            entry,
            mode,
            uid,
            gid,
        } => (
            "root-entry-ignored",
            format!("entry {entry}: mode {mode:o}, owner {uid}:{gid} not applied"),
        ),
        Hazard::NameCleaned { entry, from, to } => {
            ("name-cleaned", format!("entry {entry}: {from:?} → {to:?}"))
        }
        Hazard::DuplicatePath { entry, path } => {
            ("duplicate-path", format!("entry {entry}: {path}"))
        }
        Hazard::SubtreeReplaced {
            entry,
            path,
            removed,
        } => (
            "subtree-replaced",
            format!("entry {entry}: {path} ({removed} names removed)"),
        ),
        Hazard::CharDeviceZero { path } => ("char-device-0-0", path.clone()),
        Hazard::WhiteoutName { path } => ("whiteout-name", path.clone()),
        Hazard::XattrDropped { path, name } => ("xattr-dropped", format!("{path}: {name}")),
        Hazard::CapabilityV3 { path } => ("capability-v3", path.clone()),
        Hazard::MtimeOutOfRange { entry, path, mtime } => (
            "mtime-out-of-range",
            format!("entry {entry}: {path} mtime {mtime} → 0"),
        ),
        Hazard::HardlinkMetadataOverride {
            entry,
            path,
            target,
        } => (
            "hardlink-metadata-override",
            format!("entry {entry}: {path} → {target}"),
        ),
        Hazard::HardlinkDirectionFlip {
            archive_file,
            layer_file,
        } => (
            "hardlink-direction-flip",
            format!("archive file {archive_file}; layer file {layer_file}"),
        ),
        Hazard::SymlinkClimbsAboveRoot { path, target } => {
            ("symlink-climbs-above-root", format!("{path} -> {target}"))
        }
        Hazard::GlobalHeaderIgnored { entry } => ("pax-global-header", format!("entry {entry}")),
        Hazard::DirTimeAppliedToNonDir { path } => ("dir-time-on-non-dir", path.clone()),
    }
}

fn explain(key: &str) -> &'static str {
    match key {
        "implied-directory" => {
            "not listed in the tarball; Docker creates them with 0755, 0:0 and the build's wall-clock time, so the layer depends on when it was built"
        }
        "root-entry-ignored" => "the root entry's metadata is never applied",
        "name-cleaned" => "stored names Docker cleans before extracting",
        "duplicate-path" => "the later entry replaces the earlier one",
        "subtree-replaced" => "a directory replaced by a non-directory loses its subtree",
        "char-device-0-0" => {
            "overlay2 writes these as `.wh.` whiteout files; the BuildKit overlay differ omits them"
        }
        "whiteout-name" => {
            "extracted as ordinary files, but read as whiteouts when the layer is applied"
        }
        "xattr-dropped" => "set on disk but never written to a layer (only security.capability is)",
        "capability-v3" => {
            "moby writers convert v3 capabilities to v2; containerd/BuildKit keep v3"
        }
        "mtime-out-of-range" => "times before 1970 or after 2262 become the epoch",
        "hardlink-metadata-override" => {
            "the link's header metadata overwrites the shared inode (last header wins)"
        }
        "hardlink-direction-flip" => {
            "the layer writes the first name in walk order as the file and the other as the link"
        }
        "symlink-climbs-above-root" => "relative targets that leave the root when read literally",
        "pax-global-header" => "skipped by Docker",
        "dir-time-on-non-dir" => {
            "a directory header's time is re-applied at the end to what the path names by then"
        }
        _ => "",
    }
}
