//! Read rootfs tarballs the way Docker's `ADD` does, into an in-memory tree.
//!
//! Three stages, each usable alone:
//! 1. [`compression`] sniffs the magic bytes (identity, gzip, bzip2, xz, zstd) exactly as
//!    Docker's `DecompressStream` does and opens a decoder (spec §2.3).
//! 2. [`read`] parses tar with Go `archive/tar` reader semantics into normalised [`Header`]s
//!    (spec §3 step 1).
//! 3. [`unpack`] applies Docker's per-entry `ADD` rules to a [`Tree`] (spec §3–§4), recording
//!    hazards and refusals instead of touching a disk.
//!
//! **Invariant:** nothing here does I/O beyond the reader it is given and the content store's
//! anonymous spill file; no clock, host or locale is consulted (the build time of implied
//! directories is a parameter).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod ahead;
pub mod compression;
pub mod content;
pub mod hashing;
pub mod inspect;
pub mod read;
pub mod skeleton;
pub mod source;
pub mod tar;
pub mod tree;
pub mod unpack;

pub use content::{Bodies, ContentRef, ContentStore};
pub use hashing::Digest;
pub use tar::{Header, Timestamp};
pub use tree::{Inode, Kind, Node, NodeId, Origin, Tree};
