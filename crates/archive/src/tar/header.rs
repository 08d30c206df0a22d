//! The tar header as a value: Go's `tar.Header`, what the reader presents after normalisation
//! and what the layer writer encodes.
//!
//! For the reader ([`crate::read`] → [`crate::unpack`]) it deliberately mirrors Go's
//! `tar.Header` rather than the on-disk block: PAX records and GNU long names have already been
//! merged in, `'\0'` typeflags already resolved, and PAX sparse files already presented as
//! regular files with their expanded size (spec §3 step 1).

use std::collections::BTreeMap;
use std::fmt;

use super::BLOCK;
use super::field::{self, Numbers, cstr};
use super::pax::{self, Records};

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

impl Formats {
    /// Add the encodings of `other`.
    #[inline]
    pub fn add(&mut self, other: Formats) {
        self.v7 |= other.v7;
        self.ustar |= other.ustar;
        self.pax |= other.pax;
        self.gnu |= other.gnu;
        self.star |= other.star;
    }
}

/// What the magic of a header block says it is (Go's `getFormat`, without the checksum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockFormat {
    /// No magic: a V7 block.
    V7,
    /// `ustar\0` `00`: USTAR (PAX headers use it too).
    Ustar,
    /// `ustar\0` with a `tar\0` trailer: STAR.
    Star,
    /// `ustar ` ` \0`: GNU.
    Gnu,
}

impl BlockFormat {
    /// The format the block's magic, version and trailer fields name.
    pub fn of(blk: &[u8; BLOCK]) -> BlockFormat {
        let magic = field::MAGIC.of(blk);
        if magic == b"ustar\0" && field::STAR_TRAILER.of(blk) == b"tar\0" {
            BlockFormat::Star
        } else if magic == b"ustar\0" {
            BlockFormat::Ustar
        } else if magic == b"ustar " && field::VERSION.of(blk) == b" \0" {
            BlockFormat::Gnu
        } else {
            BlockFormat::V7
        }
    }
}

/// One archive member, as Go's `tar.Header` holds it.
///
/// The reader ([`crate::read::Reader::next_header`]) fills every field after Go's
/// normalisation; the layer writer (`layerproof_layer::tarheader::encode`) encodes the fields
/// Go's `tar.Writer` writes and ignores [`Header::formats`] and [`Header::offset`] (the format
/// it wants is passed beside the header, as Go's `Header.Format`).
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
    /// Header encodings the reader saw for this entry (not read by the writer).
    pub formats: Formats,
    /// Byte offset of the entry's first header block (including any `x`/`L`/`K` blocks before
    /// it) in the decompressed stream (set by the reader, not read by the writer).
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

impl Header {
    /// The fields of one header block as Go's `readHeader` reads them for a block of `format`:
    /// the USTAR or STAR prefix joined to the name, STAR and GNU access and change times (GNU's
    /// leniently: a field that does not parse is taken for a pre-Go-1.8 prefix when ASCII), and
    /// [`Header::formats`] set to what this block shows. Nothing of PAX or GNU long names is
    /// applied ([`Header::apply`] does). The checksum is not checked here.
    ///
    /// The error names the first numeric field that does not parse.
    pub fn from_block(blk: &[u8; BLOCK], format: BlockFormat) -> Result<Header, &'static str> {
        let mut p = Numbers::default();
        let mut h = Header {
            typeflag: blk[field::TYPEFLAG.at],
            name: cstr(field::NAME.of(blk)).to_vec(),
            linkname: cstr(field::LINKNAME.of(blk)).to_vec(),
            size: p.field(blk, field::SIZE),
            mode: p.field(blk, field::MODE),
            uid: p.field(blk, field::UID),
            gid: p.field(blk, field::GID),
            mtime: Timestamp::from_secs(p.field(blk, field::MTIME)),
            ..Header::default()
        };
        if format != BlockFormat::V7 {
            h.uname = cstr(field::UNAME.of(blk)).to_vec();
            h.gname = cstr(field::GNAME.of(blk)).to_vec();
            h.devmajor = p.field(blk, field::DEVMAJOR);
            h.devminor = p.field(blk, field::DEVMINOR);
            let prefix: &[u8] = match format {
                BlockFormat::Ustar => cstr(field::PREFIX.of(blk)),
                BlockFormat::Star => {
                    h.atime = Some(Timestamp::from_secs(p.field(blk, field::STAR_ATIME)));
                    h.ctime = Some(Timestamp::from_secs(p.field(blk, field::STAR_CTIME)));
                    cstr(field::STAR_PREFIX.of(blk))
                }
                BlockFormat::Gnu => {
                    let mut p2 = Numbers::default();
                    if blk[field::GNU_ATIME.at] != 0 {
                        h.atime = Some(Timestamp::from_secs(p2.field(blk, field::GNU_ATIME)));
                    }
                    if blk[field::GNU_CTIME.at] != 0 {
                        h.ctime = Some(Timestamp::from_secs(p2.field(blk, field::GNU_CTIME)));
                    }
                    p.base256 |= p2.base256;
                    if p2.failed.is_some() {
                        // Pre-Go-1.8 writers put a USTAR prefix here.
                        h.atime = None;
                        h.ctime = None;
                        let s = cstr(field::PREFIX.of(blk));
                        if s.is_ascii() { s } else { &[] }
                    } else {
                        &[]
                    }
                }
                BlockFormat::V7 => &[],
            };
            if !prefix.is_empty() {
                let mut name = Vec::with_capacity(prefix.len() + 1 + h.name.len());
                name.extend_from_slice(prefix);
                name.push(b'/');
                name.extend_from_slice(&h.name);
                h.name = name;
            }
        }
        if let Some(name) = p.failed {
            return Err(name);
        }
        match format {
            BlockFormat::V7 => h.formats.v7 = true,
            BlockFormat::Ustar => h.formats.ustar = true,
            BlockFormat::Star => h.formats.star = true,
            BlockFormat::Gnu => h.formats.gnu = true,
        }
        h.formats.gnu |= p.base256;
        Ok(h)
    }

    /// Apply what the extension blocks before the entry said, as Go's `Reader.Next` does: the
    /// PAX records ([`pax::merge`], then kept in [`Header::pax_records`]), then the GNU long
    /// name and link (non-empty ones override), then the `'\0'` typeflag becomes `'5'` for a
    /// name ending in `/`, else `'0'`. The error names the PAX record that does not parse.
    pub fn apply(
        &mut self,
        pax: Option<Records>,
        long_name: Vec<u8>,
        long_link: Vec<u8>,
    ) -> Result<(), &'static str> {
        if let Some(records) = pax {
            pax::merge(self, &records)?;
            self.pax_records = records;
        }
        if !long_name.is_empty() {
            self.name = long_name;
        }
        if !long_link.is_empty() {
            self.linkname = long_link;
        }
        if self.typeflag == typeflag::REGA {
            self.typeflag = if self.name.ends_with(b"/") {
                typeflag::DIR
            } else {
                typeflag::REG
            };
        }
        Ok(())
    }
}
