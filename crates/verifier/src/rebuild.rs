//! Rebuild the layer `ADD <source> /` produces under an engine profile.
//!
//! This is the pipeline every command shares: the source goes through Docker's `ADD` rules
//! (`layerproof_archive::source::add`) with the profile's unpack switches, the free parameters
//! that only the published side knows (the build's wall-clock time on implied directories, the
//! uid/gid → name table, the metadata of a plain-copied file) are applied, and the tree is
//! written by `layerproof_layer::write_layer`, hashing as it streams.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use layerproof_archive::compression::Compression;
use layerproof_archive::source::{self, Added};
use layerproof_archive::tree::{Inode, Kind, Origin, ROOT, Tree};
use layerproof_archive::unpack::{Hazard, Refusal};
use layerproof_archive::{Bodies, Timestamp};
use layerproof_layer::{LayerOptions, LayerSummary, NameTable, Profile};

/// Metadata Docker gives a source that is not an archive and is copied as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlainFileMeta {
    /// Permission bits of the file in the build context.
    pub perm: u32,
    /// Its modification time in the build context.
    pub mtime: Timestamp,
}

impl Default for PlainFileMeta {
    fn default() -> Self {
        PlainFileMeta {
            perm: 0o644,
            mtime: Timestamp::EPOCH,
        }
    }
}

/// Everything a rebuild depends on besides the source bytes.
#[derive(Debug, Clone)]
pub struct Params<'a> {
    /// The engine.
    pub profile: &'a Profile,
    /// Base name of the source (the name a plain copy gets).
    pub source_name: Vec<u8>,
    /// mtime Docker stamps on implied directories (its wall clock during the build).
    pub build_time: Timestamp,
    /// Per-directory overrides of `build_time` (path without trailing slash → mtime), e.g.
    /// recovered from a published layer when the extraction crossed a second boundary.
    pub implied_times: BTreeMap<Vec<u8>, Timestamp>,
    /// uid/gid → name table for profiles that look names up.
    pub names: Option<NameTable>,
    /// Metadata of the source file, used when it is copied rather than unpacked.
    pub plain_file: PlainFileMeta,
    /// Memory budget for file bodies before they spill to a temporary file.
    pub memory_budget: u64,
    /// Keep file bodies (to write the layer), or only their digests (to compare skeletons:
    /// [`skeleton`]) or lengths (to bind them by content id: [`unpack_tapped`]); [`write`]
    /// fails on a tree without bodies.
    pub bodies: Bodies,
    /// Whether an archive source is unpacked (`ADD`) or copied as a file (`COPY`).
    pub unpack: bool,
    /// Resource limits for reading the source (decompressed bytes, tar reader sizes, unpack
    /// entries/depth/lookups); the profile's rules are applied on top.
    pub limits: source::Options,
}

impl<'a> Params<'a> {
    /// Parameters with the epoch as build time and nothing else known.
    pub fn new(profile: &'a Profile, source_name: impl Into<Vec<u8>>) -> Self {
        Params {
            profile,
            source_name: source_name.into(),
            build_time: Timestamp::EPOCH,
            implied_times: BTreeMap::new(),
            names: None,
            plain_file: PlainFileMeta::default(),
            memory_budget: layerproof_archive::content::DEFAULT_MEMORY_BUDGET,
            bodies: Bodies::Keep,
            unpack: true,
            limits: source::Options::default(),
        }
    }
}

/// A rebuilt layer.
#[derive(Debug)]
pub struct Layer {
    /// The extracted tree the layer was written from.
    pub tree: Tree,
    /// Hazards met while unpacking (empty for a plain copy).
    pub hazards: Vec<Hazard>,
    /// diff_id, size and entry count of the written layer.
    pub summary: LayerSummary,
    /// How the source was treated.
    pub treatment: Treatment,
}

/// How Docker treats the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Treatment {
    /// Unpacked as an archive with this compression.
    Unpacked(Compression),
    /// Copied as a plain file (the first tar header does not parse).
    Copied {
        /// Why it is not an archive.
        reason: String,
    },
}

/// The outcome of a rebuild.
#[derive(Debug)]
pub enum Outcome {
    /// The engine would build this layer.
    Built(Box<Layer>),
    /// The engine would refuse the `ADD`.
    Refused(Refusal),
}

/// Failures of our own input or output.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or unpacking the source failed.
    #[error(transparent)]
    Source(#[from] source::Error),
    /// Writing the layer failed.
    #[error(transparent)]
    Layer(#[from] layerproof_layer::writer::Error),
    /// The plain-copy body could not be stored.
    #[error("storing the copied file: {0}")]
    Content(#[from] layerproof_archive::content::Error),
}

/// Opens the source from its start; called once, and a second time only if the source turns
/// out not to be an archive and must be copied byte for byte.
pub type Opener<'a> = &'a dyn Fn() -> std::io::Result<Box<dyn Read + Send>>;

/// The source after Docker's `ADD` rules, before it is written as a layer.
#[derive(Debug)]
pub enum Unpacked {
    /// The tree the engine would leave behind.
    Tree(Box<Prepared>),
    /// The engine would refuse the `ADD`.
    Refused(Refusal),
}

/// An unpacked source, ready to be written under any profile sharing its unpack rules
/// (see [`unpack_key`]).
#[derive(Debug)]
pub struct Prepared {
    /// The extracted tree.
    pub tree: Tree,
    /// Hazards met while unpacking (empty for a plain copy).
    pub hazards: Vec<Hazard>,
    /// How the source was treated.
    pub treatment: Treatment,
}

/// Profiles with equal keys unpack a source into the same tree, so one unpack serves them all.
pub fn unpack_key(profile: &Profile) -> (layerproof_archive::unpack::Options, bool) {
    (
        profile.unpack_options(Timestamp::EPOCH),
        profile.zstd_unpack.value,
    )
}

/// Apply Docker's `ADD` rules (or, with `params.unpack == false`, `COPY`'s plain copy) to the
/// source. The expensive half of a rebuild: decompression, tar parsing, content storage.
pub fn unpack(open: Opener<'_>, params: &Params<'_>) -> Result<Unpacked, Error> {
    unpack_tapped(open, params, &mut source::NoTap)
}

/// [`unpack`], showing every entry's body to `tap` as it streams past
/// ([`source::add_tapped`]). A plain-copied source shows it nothing.
pub fn unpack_tapped(
    open: Opener<'_>,
    params: &Params<'_>,
    tap: &mut dyn source::Tap,
) -> Result<Unpacked, Error> {
    unpack_started(None, open, params, tap)
}

/// [`unpack_tapped`] on a source whose decompression may have started already
/// ([`source::Started`]); one started with options that do not fit `params` is dropped and
/// the source opened again, as is a source copied as it is.
pub fn unpack_started(
    started: Option<source::Started>,
    open: Opener<'_>,
    params: &Params<'_>,
    tap: &mut dyn source::Tap,
) -> Result<Unpacked, Error> {
    let copy_reason = if params.unpack {
        let mut opts = params.limits.clone();
        opts.decompress.zstd = params.profile.zstd_unpack.value;
        let rules = params.profile.unpack_options(params.build_time);
        opts.unpack.name_rules = rules.name_rules;
        opts.unpack.implied_dir_mtime = rules.implied_dir_mtime;
        opts.unpack.bound_symlink_times = rules.bound_symlink_times;
        opts.unpack.memory_budget = params.memory_budget;
        opts.unpack.bodies = params.bodies;
        let added = match started {
            Some(started) if started.fits(&opts.decompress) => {
                source::add_started(started, &opts, tap)?
            }
            _ => source::add_tapped(open().map_err(source::Error::Io)?, &opts, tap)?,
        };
        match added {
            Added::Archive(a) => {
                return Ok(match a.outcome {
                    Ok(u) => Unpacked::Tree(Box::new(Prepared {
                        tree: u.tree,
                        hazards: u.hazards,
                        treatment: Treatment::Unpacked(a.compression),
                    })),
                    Err(r) => Unpacked::Refused(r),
                });
            }
            Added::PlainFile { reason, .. } => reason,
        }
    } else {
        "COPY never unpacks".to_string()
    };
    let mut tree = Tree::with_store(layerproof_archive::ContentStore::for_bodies(
        params.bodies,
        params.memory_budget,
    ));
    // memory up to the budget, then the spill file: a large file copied as it is stays bounded
    let mut body = open().map_err(source::Error::Io)?;
    let content = tree.content_mut().put_to_end(&mut body)?;
    let mut ino = Inode::new(Kind::File);
    ino.perm = params.plain_file.perm;
    ino.mtime = params.plain_file.mtime;
    ino.content = Some(content);
    let ino = tree.add_inode(ino);
    tree.link(ROOT, &params.source_name, ino, Origin::Entry { index: 0 });
    Ok(Unpacked::Tree(Box::new(Prepared {
        tree,
        hazards: Vec::new(),
        treatment: Treatment::Copied {
            reason: copy_reason,
        },
    })))
}

/// Write an unpacked tree as the layer `params.profile` writes, with the free parameters of
/// `params` (implied-directory times, owner names) applied. The cheap half of a rebuild.
pub fn write<W: Write>(
    prepared: &mut Prepared,
    params: &Params<'_>,
    out: W,
) -> Result<(W, LayerSummary), Error> {
    let layer_opts = finish_tree(prepared, params);
    Ok(layerproof_layer::write_layer(
        &prepared.tree,
        &layer_opts,
        out,
    )?)
}

/// The skeleton of the layer [`write`] would write (see [`layerproof_archive::skeleton`]):
/// enough to compare with a published layer, and works on a tree unpacked without bodies
/// ([`Params::bodies`] other than [`Bodies::Keep`]).
pub fn skeleton(
    prepared: &mut Prepared,
    params: &Params<'_>,
) -> Result<layerproof_layer::SkeletonSummary, Error> {
    let layer_opts = finish_tree(prepared, params);
    Ok(layerproof_layer::skeleton_layer(
        &prepared.tree,
        &layer_opts,
    )?)
}

/// Encode the layer [`write`] would write into `sink` (a comparison that needs no bytes, such
/// as [`crate::streamed::ShapeCheck`]); returns the entries written.
pub fn emit(
    prepared: &mut Prepared,
    params: &Params<'_>,
    sink: &mut dyn layerproof_layer::LayerSink,
) -> Result<u64, Error> {
    let layer_opts = finish_tree(prepared, params);
    Ok(layerproof_layer::emit_layer(&prepared.tree, &layer_opts, sink)?.0)
}

/// Set the values the published layer decided (implied-directory times, the copied file's
/// mode and time) and return the writer's options.
fn finish_tree<'p>(prepared: &mut Prepared, params: &'p Params<'_>) -> LayerOptions<'p> {
    apply_implied_times(&mut prepared.tree, &params.implied_times);
    if matches!(prepared.treatment, Treatment::Copied { .. }) {
        // the copied file's metadata is a parameter of the write, not of the unpack
        let copied = prepared
            .tree
            .walk()
            .find(|e| e.path == params.source_name)
            .map(|e| prepared.tree.node(e.node).inode);
        if let Some(ino) = copied {
            let inode = prepared.tree.inode_mut(ino);
            inode.perm = params.plain_file.perm;
            inode.mtime = params.plain_file.mtime;
        }
    }
    let mut layer_opts = LayerOptions::new(params.profile);
    if let Some(names) = &params.names {
        layer_opts = layer_opts.with_names(names);
    }
    layer_opts
}

/// Rebuild the layer of `ADD <source> /` into `out`: [`unpack`], then [`write`].
pub fn rebuild<W: Write>(
    open: Opener<'_>,
    params: &Params<'_>,
    out: W,
) -> Result<(W, Outcome), Error> {
    match unpack(open, params)? {
        Unpacked::Refused(r) => Ok((out, Outcome::Refused(r))),
        Unpacked::Tree(mut p) => {
            let (out, summary) = write(&mut p, params, out)?;
            let Prepared {
                tree,
                hazards,
                treatment,
            } = *p;
            Ok((
                out,
                Outcome::Built(Box::new(Layer {
                    tree,
                    hazards,
                    summary,
                    treatment,
                })),
            ))
        }
    }
}

/// Give implied directories their recovered per-path times.
fn apply_implied_times(tree: &mut Tree, times: &BTreeMap<Vec<u8>, Timestamp>) {
    if times.is_empty() {
        return;
    }
    let implied: Vec<(Vec<u8>, u32)> = tree
        .walk()
        .filter(|e| tree.node(e.node).origin == Origin::Implied)
        .map(|e| (e.path, tree.node(e.node).inode))
        .collect();
    for (path, ino) in implied {
        if let Some(t) = times.get(&path) {
            tree.inode_mut(ino).mtime = *t;
        }
    }
}

/// The one context file a rebuildable step reads: `ADD`/`COPY` of a single regular file to `/`,
/// without `--from`, `--chown` or `--chmod` (the rootfs shape, `ADD rootfs.tar.gz /`). `Err`
/// says why another step is not rebuilt.
pub fn single_source(
    step: &layerproof_dockerfile::CopyStep,
) -> Result<&layerproof_dockerfile::ResolvedSource, String> {
    if step.instruction != "ADD" && step.instruction != "COPY" {
        return Err(
            "only ADD and COPY layers are rebuilt (this step makes a layer of its own)".into(),
        );
    }
    if step.from_stage.is_some() {
        return Err("COPY --from is not rebuilt yet".into());
    }
    if step.chown.is_some() || step.chmod.is_some() {
        return Err("--chown/--chmod are not rebuilt yet".into());
    }
    if step.dest_path != "/" {
        return Err(
            "only a destination of / is rebuilt (the rootfs shape: ADD rootfs.tar.gz /)".into(),
        );
    }
    let resolved = step.resolved.as_deref().unwrap_or_default();
    let [one] = resolved else {
        return Err(format!(
            "the sources match {} context entries; one file is rebuilt",
            resolved.len()
        ));
    };
    if one.kind != layerproof_dockerfile::EntryKind::File {
        return Err(format!("{} is not a regular file in the context", one.path));
    }
    Ok(one)
}
