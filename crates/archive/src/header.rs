//! The tar header as Go's `archive/tar` reader presents it after normalisation.
//!
//! This is the hand-off type between [`crate::read`] (bytes → headers) and [`crate::unpack`]
//! (headers → tree). It deliberately mirrors Go's `tar.Header` rather than the on-disk block: PAX
//! records and GNU long names have already been merged in, `'\0'` typeflags already resolved, and
//! PAX sparse files already presented as regular files with their expanded size (spec §3 step 1).

use std::collections::BTreeMap;
use std::fmt;

/// A point in time with nanosecond precision, as Go's `time.Time` holds it for tar headers.
///
/// `sec` is seconds since the Unix epoch (may be negative); `nsec` is always in `0..1_000_000_000`,
/// so `-0.5 s` is `{ sec: -1, nsec: 500_000_000 }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, serde::Serialize)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z, floored.
    pub sec: i64,
    /// Nanoseconds past `sec`, `0..1_000_000_000`.
    pub nsec: u32,
}

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp { sec: 0, nsec: 0 };

    /// A timestamp of whole seconds.
    pub const fn from_secs(sec: i64) -> Self {
        Timestamp { sec, nsec: 0 }
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nsec == 0 {
            write!(f, "{}", self.sec)
        } else {
            let frac = format!("{:09}", self.nsec);
            write!(f, "{}.{}", self.sec, frac.trim_end_matches('0'))
        }
    }
}

/// Tar typeflags (the byte at offset 156), as Go names them.
pub mod typeflag {
    /// Regular file (`'0'`).
    pub const REG: u8 = b'0';
    /// Old regular file (`'\0'`); the reader turns it into [`REG`] or [`DIR`].
    pub const REGA: u8 = 0;
    /// Hard link (`'1'`).
    pub const LINK: u8 = b'1';
    /// Symbolic link (`'2'`).
    pub const SYMLINK: u8 = b'2';
    /// Character device (`'3'`).
    pub const CHAR: u8 = b'3';
    /// Block device (`'4'`).
    pub const BLOCK: u8 = b'4';
    /// Directory (`'5'`).
    pub const DIR: u8 = b'5';
    /// FIFO (`'6'`).
    pub const FIFO: u8 = b'6';
    /// Contiguous file (`'7'`); Docker refuses it.
    pub const CONT: u8 = b'7';
    /// PAX extended header for the next entry (`'x'`).
    pub const XHEADER: u8 = b'x';
    /// PAX global extended header (`'g'`).
    pub const XGLOBAL: u8 = b'g';
    /// GNU long name (`'L'`).
    pub const GNU_LONGNAME: u8 = b'L';
    /// GNU long link name (`'K'`).
    pub const GNU_LONGLINK: u8 = b'K';
    /// Old GNU sparse file (`'S'`); Docker refuses it.
    pub const GNU_SPARSE: u8 = b'S';
}

/// Which header encodings the reader saw for one entry (a bit set, like Go's `tar.Format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub struct Formats {
    /// Plain V7 header (no magic).
    pub v7: bool,
    /// POSIX USTAR (`ustar\0` `00`).
    pub ustar: bool,
    /// POSIX PAX (a `x` record applied).
    pub pax: bool,
    /// GNU (`ustar  \0` magic, `L`/`K` records, or base-256 numbers).
    pub gnu: bool,
    /// Star (`tar\0` trailer in the prefix area).
    pub star: bool,
}

/// One archive member after Go-reader normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Header {
    /// Entry name exactly as stored (after PAX `path` / GNU `L` override), not yet cleaned.
    pub name: Vec<u8>,
    /// Link target for hard and symbolic links (after PAX `linkpath` / GNU `K`).
    pub linkname: Vec<u8>,
    /// Typeflag after the `'\0'` → `'0'`/`'5'` rule; PAX-sparse files are reported as `'0'`.
    pub typeflag: u8,
    /// The full mode field, including any file-type bits the writer put there.
    pub mode: i64,
    /// Numeric owner.
    pub uid: i64,
    /// Numeric group.
    pub gid: i64,
    /// User name field (or PAX `uname`).
    pub uname: Vec<u8>,
    /// Group name field (or PAX `gname`).
    pub gname: Vec<u8>,
    /// Logical data size: for PAX-sparse files, the expanded size.
    pub size: i64,
    /// Modification time (PAX `mtime` keeps nanoseconds).
    pub mtime: Timestamp,
    /// Access time, if the header carried one.
    pub atime: Option<Timestamp>,
    /// Change time, if the header carried one.
    pub ctime: Option<Timestamp>,
    /// Device major number.
    pub devmajor: i64,
    /// Device minor number.
    pub devminor: i64,
    /// Every PAX record that applied to this entry (local `x` records), by key. Xattrs are
    /// `SCHILY.xattr.<name>`; Go keeps them here and in `Xattrs`.
    pub pax_records: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Header encodings seen for this entry.
    pub formats: Formats,
    /// Byte offset of the entry's first header block (including any `x`/`L`/`K` blocks before
    /// it) in the decompressed stream.
    pub offset: u64,
}

/// PAX record key prefix for extended attributes (GNU tar and star both use it).
pub const XATTR_PREFIX: &[u8] = b"SCHILY.xattr.";

impl Header {
    /// The entry's extended attributes (`SCHILY.xattr.*` records), name → value.
    pub fn xattrs(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        self.pax_records.iter().filter_map(|(k, v)| {
            k.strip_prefix(XATTR_PREFIX)
                .map(|name| (name, v.as_slice()))
        })
    }

    /// The name for messages: lossy UTF-8.
    pub fn display_name(&self) -> String {
        String::from_utf8_lossy(&self.name).into_owned()
    }

    /// Permission bits as Go's `FileInfo().Mode()` keeps them for `chmod`: `0777` plus
    /// setuid/setgid/sticky (`07777`). File-type bits in the field are ignored (spec §3 step 13).
    pub fn perm(&self) -> u32 {
        (self.mode & 0o7777) as u32
    }
}
