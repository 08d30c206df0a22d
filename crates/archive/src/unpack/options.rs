//! The knobs of the unpack model: which engine generation's rules apply, and our own limits on
//! untrusted input.

use crate::content;
use crate::tar::Timestamp;

/// Which generation of go-archive's name handling an engine uses (spec §3 step 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NameRules {
    /// moby `pkg/archive` and go-archive ≤0.2 (Docker ≤29.6, BuildKit): `filepath.Clean(name)`
    /// joined to the chroot `/`, so `../x` and `/x` both land on `/x`.
    Moby,
    /// go-archive 0.3 (Docker 29.7+): leading `/` trimmed, then `path.Clean`; a name that is not
    /// local (`../x`) is refused with "invalid entry name".
    GoArchive03,
}

/// Knobs of the unpack model. Engine profiles (crate `layerproof-layer`) fill these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Name-cleaning generation.
    pub name_rules: NameRules,
    /// The wall-clock time Docker stamps on directories it has to create (spec §3 step 6).
    pub implied_dir_mtime: Timestamp,
    /// Apply Docker's time bound (before 1970 or after 2262 → epoch) to symlinks as well.
    /// Docker 27's `pkg/system` did not bound symlink times (spec §3 step 14).
    pub bound_symlink_times: bool,
    /// BuildKit `ADD --chown=uid:gid`: every extracted entry gets this owner (spec §2.5).
    /// The classic builder ignores `--chown` for archives, so its profiles leave this `None`.
    pub chown: Option<(i64, i64)>,
    /// In-memory budget of the content store; bodies beyond it spill to a temporary file.
    pub memory_budget: u64,
    /// What the content store keeps of file bodies: the bytes (a tree that can be written
    /// out), or only digests or lengths (see [`content::Bodies`]).
    pub bodies: content::Bodies,
    /// Stop at archives with more entries than this, or whose tree grows more names than this
    /// (implied directories and replaced names count too). Limit `max-entries`.
    pub max_entries: u64,
    /// Stop at names deeper than this many components. Limit `max-depth`.
    pub max_depth: usize,
    /// Stop at a cleaned name or a link target longer than this many bytes. Linux refuses
    /// paths of 4096 bytes or more (`PATH_MAX`), so Docker cannot extract such a name anyway.
    /// Limit `max-path-len`.
    pub max_path_len: usize,
    /// Stop when the names, link targets and extended attributes (names and values) of all
    /// entries add up to more than this many bytes: the unpack model keeps them in memory.
    /// Limit `max-meta-bytes`.
    pub max_meta_bytes: u64,
    /// Stop when regular files' sizes add up to more than this many bytes, checked against
    /// each header before its body is read: a lying size field or a sparse entry whose holes
    /// expand to terabytes ends at once. Limit `max-data-bytes`.
    pub max_data_bytes: u64,
    /// Stop when resolving names (each entry's parents, targets, and the symlinks on the way)
    /// has looked up more than this many path components in all: a few thousand entries whose
    /// names cross long symlink chains would otherwise take hours. Limit `max-lookups`.
    pub max_lookups: u64,
}

/// Default of [`Options::max_entries`].
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000_000;
/// Default of [`Options::max_depth`].
pub const DEFAULT_MAX_DEPTH: usize = 1024;
/// Default of [`Options::max_path_len`]: Linux's `PATH_MAX`.
pub const DEFAULT_MAX_PATH_LEN: usize = 4096;
/// Default of [`Options::max_meta_bytes`]: 1 GiB (a rootfs of a million files has ~100 MB).
pub const DEFAULT_MAX_META_BYTES: u64 = 1 << 30;
/// Default of [`Options::max_lookups`]: 5·10⁸, some 20–50 s of work; a rootfs of a million
/// files needs a few 10⁷.
pub const DEFAULT_MAX_LOOKUPS: u64 = 500_000_000;
/// Default of [`Options::max_data_bytes`]: 64 GiB, the default decompression limit.
pub const DEFAULT_MAX_DATA_BYTES: u64 = crate::compression::DEFAULT_MAX_DECOMPRESSED_BYTES;

impl Default for Options {
    fn default() -> Self {
        Options {
            name_rules: NameRules::Moby,
            implied_dir_mtime: Timestamp::EPOCH,
            bound_symlink_times: true,
            chown: None,
            memory_budget: content::DEFAULT_MEMORY_BUDGET,
            bodies: content::Bodies::Keep,
            max_entries: DEFAULT_MAX_ENTRIES,
            max_depth: DEFAULT_MAX_DEPTH,
            max_path_len: DEFAULT_MAX_PATH_LEN,
            max_meta_bytes: DEFAULT_MAX_META_BYTES,
            max_data_bytes: DEFAULT_MAX_DATA_BYTES,
            max_lookups: DEFAULT_MAX_LOOKUPS,
        }
    }
}
