//! Write the layer tar Docker writes for an unpacked tree, byte for byte, per engine.
//!
//! Given the [`Tree`](layerproof_archive::Tree) that Docker's `ADD` leaves behind (built by
//! `layerproof-archive`) and an engine [`Profile`], this crate produces the exact bytes of the
//! layer tar whose sha256 is the image's `rootfs.diff_ids` entry:
//!
//! * [`tarheader`]: a Go `archive/tar` `Writer`, exactly — a pure function from a header value
//!   (`layerproof_archive::tar::Header`, the reader's type) and the wanted format to 512-byte
//!   blocks (USTAR when it fits, PAX otherwise, never GNU; spec §6).
//! * [`writer`]: the walk and the per-engine header conventions (names, hardlink groups, modes,
//!   owners, capabilities, whiteouts; spec §5), streamed into any `impl Write` while hashing
//!   ([`write_layer`], [`hash_layer`]; spec §7).
//! * [`profile`]: the engine switches, each with its evidence, and the Docker Engine each
//!   profile stands for ([`PROFILES`]).
//! * [`names`]: uid/gid → name tables for engines that fill uname/gname.
//! * [`compare`]: parse two layer tars block by block and report the first differing entry field
//!   by field (raw blocks kept; their meaning read with `layerproof_archive::tar`'s codecs).
//!
//! ```
//! use layerproof_archive::tree::{Inode, Kind, Origin, ROOT};
//! use layerproof_archive::{Timestamp, Tree};
//! use layerproof_layer::{LayerOptions, Profile, write_layer};
//!
//! let mut tree = Tree::new(1 << 20);
//! let body = tree.content_mut().put_bytes(b"hello\n").unwrap();
//! let mut file = Inode::new(Kind::File);
//! file.perm = 0o644;
//! file.mtime = Timestamp::from_secs(1_700_000_000);
//! file.content = Some(body);
//! let ino = tree.add_inode(file);
//! tree.link(ROOT, b"hello.txt", ino, Origin::Entry { index: 0 });
//!
//! let profile = Profile::for_docker_version("26.1.5").unwrap();
//! let (bytes, summary) = write_layer(&tree, &LayerOptions::new(profile), Vec::new()).unwrap();
//! assert_eq!(bytes.len(), 512 + 512 + 1024);
//! assert_eq!(summary.entries, 1);
//! assert!(summary.diff_id.to_string().starts_with("sha256:"));
//! ```
//!
//! **Invariants.** No I/O beyond the writer it is given (and reading bodies from the tree's
//! content store); no clock, host user database, locale or environment is consulted — owner names
//! come from an explicit [`NameTable`]. Output depends only on the tree, the profile and the
//! options. No input panics.
//!
//! **Deviations from the engines** (all unreachable for trees Linux can hold):
//! * Go's writer with `Format` unknown can fall back to GNU; we return
//!   [`tarheader::HeaderError::NeedsGnu`] instead (only moby's `.wh..wh..opq` header uses an
//!   unknown format, and its fields always fit USTAR).
//! * A PAX header over 1 MiB is a sticky error in Go: moby would log every later entry as failed
//!   and write no trailer. We return an error for every profile.
//! * A `security.capability` shorter than 4 bytes makes moby panic; we return an error.
//! * Sockets, unknown file types and user-namespace id remapping do not exist in the tree model.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod compare;
pub mod names;
pub mod profile;
pub mod tarheader;
pub mod writer;

pub use names::NameTable;
pub use profile::{PROFILES, Profile};
pub use writer::{
    Entry, Error, HashingWriter, LayerOptions, LayerSink, LayerSummary, Omitted, SkeletonSummary,
    emit_layer, entries, hash_layer, skeleton_layer, write_layer,
};
