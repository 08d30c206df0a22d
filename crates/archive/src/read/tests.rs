//! Tests for the Go-compatible tar reader. Archives are built byte by byte here.

use super::*;
use crate::compression::Compression;
use crate::skeleton::{Shape, ShapeRecorder, SkeletonHasher};
use crate::tar::field::{parse_decimal, parse_numeric, parse_octal};
use crate::tar::pax::{parse_pax_record, parse_pax_time};
use crate::tar::{Timestamp, typeflag as tf};
use proptest::prelude::*;
use std::io::Write;

// ---------------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Magic {
    V7,
    Ustar,
    Gnu,
    Star,
}

/// Write `v` as Go's `formatOctal` does: zero-padded, NUL-terminated.
fn octal(field: &mut [u8], v: u64) {
    let s = format!("{:0width$o}", v, width = field.len() - 1);
    assert!(s.len() < field.len(), "{v} does not fit");
    field[..s.len()].copy_from_slice(s.as_bytes());
    field[field.len() - 1] = 0;
}

/// A header block with the given name, typeflag and size, mode 0644, owner 0:0, mtime 0.
fn header(name: &[u8], flag: u8, size: u64, magic: Magic) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[..name.len()].copy_from_slice(name);
    octal(&mut b[100..108], 0o644);
    octal(&mut b[108..116], 0);
    octal(&mut b[116..124], 0);
    octal(&mut b[124..136], size);
    octal(&mut b[136..148], 0);
    b[156] = flag;
    match magic {
        Magic::V7 => {}
        Magic::Ustar => {
            b[257..263].copy_from_slice(b"ustar\0");
            b[263..265].copy_from_slice(b"00");
        }
        Magic::Gnu => {
            b[257..263].copy_from_slice(b"ustar ");
            b[263..265].copy_from_slice(b" \0");
        }
        Magic::Star => {
            b[257..263].copy_from_slice(b"ustar\0");
            b[263..265].copy_from_slice(b"00");
            b[508..512].copy_from_slice(b"tar\0");
        }
    }
    if magic != Magic::V7 {
        octal(&mut b[329..337], 0);
        octal(&mut b[337..345], 0);
    }
    seal(b)
}

/// Recompute the checksum the way Go writes it (6 octal digits, NUL, space).
fn seal(mut b: [u8; 512]) -> [u8; 512] {
    b[148..156].fill(b' ');
    let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

fn with(mut b: [u8; 512], off: usize, bytes: &[u8]) -> [u8; 512] {
    b[off..off + bytes.len()].copy_from_slice(bytes);
    seal(b)
}

/// A PAX record with Go's length computation.
fn record(k: &[u8], v: &[u8]) -> Vec<u8> {
    let mut size = k.len() + v.len() + 3;
    size += size.to_string().len();
    let mut r = format!("{size} ").into_bytes();
    r.extend_from_slice(k);
    r.push(b'=');
    r.extend_from_slice(v);
    r.push(b'\n');
    if r.len() != size {
        return record_sized(k, v, r.len());
    }
    r
}

fn record_sized(k: &[u8], v: &[u8], size: usize) -> Vec<u8> {
    let mut r = format!("{size} ").into_bytes();
    r.extend_from_slice(k);
    r.push(b'=');
    r.extend_from_slice(v);
    r.push(b'\n');
    r
}

#[derive(Default, Clone)]
struct Tar(Vec<u8>);

impl Tar {
    fn block(mut self, b: [u8; 512]) -> Self {
        self.0.extend_from_slice(&b);
        self
    }
    fn data(mut self, d: &[u8]) -> Self {
        self.0.extend_from_slice(d);
        let pad = (512 - d.len() % 512) % 512;
        self.0.extend(std::iter::repeat_n(0u8, pad));
        self
    }
    fn file(self, name: &str, d: &[u8]) -> Self {
        self.block(header(
            name.as_bytes(),
            tf::REG,
            d.len() as u64,
            Magic::Ustar,
        ))
        .data(d)
    }
    fn ext(self, flag: u8, records: &[(&[u8], &[u8])]) -> Self {
        let body: Vec<u8> = records.iter().flat_map(|(k, v)| record(k, v)).collect();
        self.ext_raw(flag, &body)
    }
    fn ext_raw(self, flag: u8, body: &[u8]) -> Self {
        self.block(header(
            b"PaxHeaders.0/x",
            flag,
            body.len() as u64,
            Magic::Ustar,
        ))
        .data(body)
    }
    fn end(mut self) -> Self {
        self.0.extend_from_slice(&[0u8; 1024]);
        self
    }
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Hands out at most one byte per `read`.
struct OneByte<'a>(&'a [u8]);
impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (buf.first_mut(), self.0.split_first()) {
            (Some(b), Some((c, rest))) => {
                *b = *c;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

type Entries = Vec<(Header, Vec<u8>)>;

fn read_with<R: Read>(r: R, options: Options) -> Result<Entries, Error> {
    let mut reader = Reader::with_options(r, options);
    let mut out = Vec::new();
    while let Some(h) = reader.next_header()? {
        let mut data = Vec::new();
        if let Err(e) = reader.body().read_to_end(&mut data) {
            return Err(Error::from_io(&e).cloned().expect("typed error"));
        }
        out.push((h, data));
    }
    // End is sticky.
    assert_eq!(reader.next_header(), Ok(None));
    Ok(out)
}

/// Read the archive from a slice, one byte at a time and through every compression, and
/// check that all agree.
#[track_caller]
fn check(tar: &[u8]) -> Result<Entries, Error> {
    check_opts(tar, Options::default())
}

#[track_caller]
fn check_opts(tar: &[u8], options: Options) -> Result<Entries, Error> {
    let want = read_with(tar, options.clone());
    assert_eq!(
        read_with(OneByte(tar), options.clone()),
        want,
        "one byte at a time"
    );
    for c in [Compression::Gzip, Compression::Zstd] {
        let compressed = compress(c, tar);
        let d = compression::open(&compressed[..], &Default::default()).unwrap();
        assert_eq!(d.compression(), c);
        assert_eq!(read_with(d, options.clone()), want, "{c}");
    }
    want
}

fn compress(c: Compression, data: &[u8]) -> Vec<u8> {
    match c {
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 1);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::stream::encode_all(data, 1).unwrap(),
        Compression::Identity => data.to_vec(),
    }
}

fn kind(r: Result<Entries, Error>) -> ErrorKind {
    r.expect_err("expected an error").kind
}

fn names(entries: &Entries) -> Vec<String> {
    entries.iter().map(|(h, _)| h.display_name()).collect()
}

// ---------------------------------------------------------------------------------------------
// Basics and end of archive
// ---------------------------------------------------------------------------------------------

#[test]
fn basic_ustar_entries() {
    let tar = Tar::default()
        .block(header(b"etc/", tf::DIR, 0, Magic::Ustar))
        .file("etc/passwd", b"root:x:0:0\n")
        .block(with(
            header(b"bin/sh", tf::SYMLINK, 0, Magic::Ustar),
            157,
            b"bash",
        ))
        .end();
    let e = check(tar.bytes()).unwrap();
    assert_eq!(names(&e), ["etc/", "etc/passwd", "bin/sh"]);
    assert_eq!(e[0].0.typeflag, tf::DIR);
    assert_eq!(e[1].0.size, 11);
    assert_eq!(e[1].1, b"root:x:0:0\n");
    assert_eq!(e[1].0.mode, 0o644);
    assert_eq!(e[1].0.offset, 512);
    assert_eq!(e[2].0.offset, 1536);
    assert_eq!(e[2].0.linkname, b"bash");
    assert!(e[1].0.formats.ustar && !e[1].0.formats.pax && !e[1].0.formats.v7);
    assert_eq!(e[1].0.atime, None);
}

#[test]
fn end_of_archive_rules() {
    let one = Tar::default().file("a", b"x");
    // EOF right after an entry (no end marker): clean end.
    assert_eq!(check(one.bytes()).unwrap().len(), 1);
    // Empty input: no entries.
    assert_eq!(check(b"").unwrap().len(), 0);
    // One zero block then EOF: clean end.
    let t = one.clone().block([0; 512]);
    assert_eq!(check(t.bytes()).unwrap().len(), 1);
    // One zero block then a non-zero block: ErrHeader, even if it is a valid header.
    let t = one.clone().block([0; 512]).file("b", b"y");
    let err = check(t.bytes()).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::InvalidHeader(_)), "{err}");
    assert_eq!(err.index, 1);
    assert_eq!(err.offset, 1536);
    // One zero block then a partial block: unexpected EOF.
    let mut t = one.clone().block([0; 512]).0;
    t.extend_from_slice(&[1; 100]);
    assert_eq!(kind(check(&t)), ErrorKind::UnexpectedEof);
    // Two zero blocks end it; whatever follows is never read.
    let mut t = one.clone().end().0;
    t.extend_from_slice(b"garbage after the end marker, not even a block");
    assert_eq!(check(&t).unwrap().len(), 1);
    // A partial header block: unexpected EOF.
    let mut t = one.clone().0;
    t.extend_from_slice(&header(b"b", tf::REG, 0, Magic::Ustar)[..300]);
    assert_eq!(kind(check(&t)), ErrorKind::UnexpectedEof);
}

#[test]
fn truncation_inside_padding_is_a_clean_end_but_inside_data_is_not() {
    let full = Tar::default().file("a", b"hello").0;
    // Data complete, padding cut short.
    assert_eq!(check(&full[..512 + 5]).unwrap().len(), 1);
    assert_eq!(check(&full[..512 + 200]).unwrap().len(), 1);
    // Data cut short, body read: error names the entry.
    let err = check(&full[..512 + 3]).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnexpectedEof);
    assert_eq!(err.index, 0);
    assert_eq!(err.name.as_deref(), Some("a"));
    assert_eq!(err.offset, 515);
    assert!(err.to_string().contains("\"a\""), "{err}");
    // Data cut short, body skipped: next_header reports it.
    let mut r = Reader::new(&full[..512 + 3]);
    assert!(r.next_header().unwrap().is_some());
    let err = r.next_header().unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnexpectedEof);
    assert_eq!(err.index, 1);
    // Sticky.
    assert_eq!(r.next_header().unwrap_err(), err);
}

#[test]
fn lying_size_fields() {
    // Octal size claims more than there is.
    let t = Tar::default()
        .block(header(b"big", tf::REG, 100_000, Magic::Ustar))
        .data(b"short")
        .end();
    let err = check(t.bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::UnexpectedEof);
    assert_eq!(err.name.as_deref(), Some("big"));
    // A base-256 size of one terabyte ends quickly with the same error.
    let mut b = header(b"huge", tf::REG, 0, Magic::Gnu);
    b[124..136].copy_from_slice(&[0x80, 0, 0, 0, 0, 0, 0, 0x01, 0, 0, 0, 0]);
    let t = Tar::default().block(seal(b)).data(b"tiny").end();
    let mut r = Reader::new(t.bytes());
    let h = r.next_header().unwrap().unwrap();
    assert_eq!(h.size, 1 << 32);
    assert!(h.formats.gnu);
    assert_eq!(r.next_header().unwrap_err().kind, ErrorKind::UnexpectedEof);
}

#[test]
fn negative_size_is_invalid() {
    let mut b = header(b"neg", tf::REG, 0, Magic::Gnu);
    b[124..136].copy_from_slice(&[0xff; 12]); // base-256 -1
    let err = check(Tar::default().block(seal(b)).end().bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidHeader("negative size"));
}

#[test]
fn header_only_types_have_no_data() {
    // A directory claiming 600 bytes: Go does not skip them, so the next block is a header.
    let t = Tar::default()
        .block(header(b"d/", tf::DIR, 600, Magic::Ustar))
        .file("d/f", b"data")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(names(&e), ["d/", "d/f"]);
    assert_eq!(e[0].0.size, 600);
    assert!(e[0].1.is_empty());
    assert_eq!(e[1].1, b"data");
}

// ---------------------------------------------------------------------------------------------
// Checksums and numbers
// ---------------------------------------------------------------------------------------------

#[test]
fn checksums() {
    let good = header(b"f", tf::REG, 0, Magic::Ustar);
    let mut bad = good;
    bad[0] = b'g';
    let err = check(Tar::default().block(bad).end().bytes()).unwrap_err();
    assert!(matches!(err.kind, ErrorKind::InvalidHeader(_)));
    assert_eq!(err.name, None);
    assert_eq!(err.offset, 0);
    // Unparsable checksum field.
    let mut b = good;
    b[148..156].copy_from_slice(b"12x4\0   ");
    assert!(check(Tar::default().block(b).end().bytes()).is_err());

    // Signed sum (old Sun tar): high bytes counted as negative.
    let mut b = header(b"caf\xe9\xe9\xe9", tf::REG, 0, Magic::Ustar);
    b[148..156].fill(b' ');
    let signed: i64 = b.iter().map(|&c| i64::from(c as i8)).sum();
    b[148..156].copy_from_slice(format!("{signed:06o}\0 ").as_bytes());
    let e = check(Tar::default().block(b).end().bytes()).unwrap();
    assert_eq!(e[0].0.name, b"caf\xe9\xe9\xe9");

    // Spaces and NULs around the digits are trimmed.
    let mut b = good;
    let sum: u32 = {
        let mut c = b;
        c[148..156].fill(b' ');
        c.iter().map(|&x| u32::from(x)).sum()
    };
    b[148..156].copy_from_slice(format!("  {sum:o}\0 ").as_bytes());
    assert!(check(Tar::default().block(b).end().bytes()).is_ok());
}

#[test]
fn octal_rules() {
    assert_eq!(parse_octal(b"0000644\0"), Some(0o644));
    assert_eq!(parse_octal(b" 644 \0\0"), Some(0o644));
    assert_eq!(parse_octal(&[0, 0, 0, b'6', b'4', b'4', 0]), Some(0o644));
    assert_eq!(parse_octal(b""), Some(0));
    assert_eq!(parse_octal(b"  \0 \0"), Some(0));
    assert_eq!(parse_octal(b"644\0junk"), Some(0o644));
    assert_eq!(parse_octal(b"6 44"), None);
    assert_eq!(parse_octal(b"0008"), None);
    assert_eq!(parse_octal(b"+644"), None);
    assert_eq!(parse_octal(b"77777777777777777777777"), None); // > 64 bits
    assert_eq!(parse_octal(b"1777777777777777777777"), Some(-1)); // 2^64-1 as i64
}

#[test]
fn base256_rules() {
    assert_eq!(parse_numeric(&[0x80, 0, 0, 0, 0, 0, 0, 1]), Some(1));
    assert_eq!(parse_numeric(&[0xff; 8]), Some(-1));
    assert_eq!(
        parse_numeric(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]),
        Some(-2)
    );
    assert_eq!(
        parse_numeric(&[0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]),
        Some(i64::MAX >> 8)
    );
    // 12 bytes: leading bytes must leave room.
    let mut max = [0xffu8; 12];
    max[0] = 0x80;
    max[1..4].fill(0);
    max[4] = 0x7f;
    assert_eq!(parse_numeric(&max), Some(i64::MAX));
    let mut over = [0u8; 12];
    over[0] = 0x80;
    over[4] = 0x80;
    assert_eq!(parse_numeric(&over), None); // bit 63 set
    let mut over = [0u8; 12];
    over[0] = 0x80;
    over[3] = 1;
    assert_eq!(parse_numeric(&over), None); // more than 64 bits
    // In a header: uid in base-256.
    let mut b = header(b"f", tf::REG, 0, Magic::Gnu);
    b[108..116].copy_from_slice(&[0x80, 0, 0, 0, 0, 0x2d, 0xc6, 0xc0]);
    let e = check(Tar::default().block(seal(b)).end().bytes()).unwrap();
    assert_eq!(e[0].0.uid, 3_000_000);
    assert!(e[0].0.formats.gnu);
}

#[test]
fn invalid_devmajor_fails_any_ustar_header() {
    let mut b = header(b"f", tf::REG, 0, Magic::Ustar);
    b[329..337].copy_from_slice(b"zzzzzzz\0");
    let err = check(Tar::default().block(seal(b)).end().bytes()).unwrap_err();
    assert_eq!(err.kind, ErrorKind::InvalidHeader("invalid numeric field"));
}

fn go_base256(x: i64, n: usize) -> Vec<u8> {
    let mut b = vec![0u8; n];
    let mut v = x;
    for i in (0..n).rev() {
        b[i] = v as u8;
        v >>= 8;
    }
    b[0] |= 0x80;
    b
}

proptest! {
    #[test]
    fn octal_roundtrip(v in 0u64..(1u64 << 33), width in prop::sample::select(vec![8usize, 12])) {
        prop_assume!(width == 12 || v < (1 << 21));
        let mut f = vec![0u8; width];
        octal(&mut f, v);
        prop_assert_eq!(parse_numeric(&f), Some(v as i64));
        // With spaces instead of leading zeros and a trailing space.
        let s = format!("{:>w$o} ", v, w = width - 1);
        prop_assert_eq!(parse_numeric(s.as_bytes()), Some(v as i64));
    }

    #[test]
    fn base256_roundtrip(x in any::<i64>()) {
        prop_assert_eq!(parse_numeric(&go_base256(x, 12)), Some(x));
    }

    #[test]
    fn base256_roundtrip_8(x in -(1i64 << 55)..(1i64 << 55)) {
        prop_assert_eq!(parse_numeric(&go_base256(x, 8)), Some(x));
    }

    #[test]
    fn decimal_matches_rust(x in any::<i64>()) {
        prop_assert_eq!(parse_decimal(x.to_string().as_bytes()), Some(x));
    }

    #[test]
    fn pax_time_roundtrip(sec in -(1i64 << 40)..(1i64 << 40), nsec in 0u32..1_000_000_000) {
        // Go's formatPAXTime.
        let s = if nsec == 0 {
            sec.to_string()
        } else if sec < 0 {
            let (s2, n2) = (-(sec + 1), 1_000_000_000 - nsec);
            format!("-{s2}.{n2:09}").trim_end_matches('0').to_string()
        } else {
            format!("{sec}.{nsec:09}").trim_end_matches('0').to_string()
        };
        prop_assert_eq!(parse_pax_time(s.as_bytes()), Some(Timestamp { sec, nsec }));
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..3000)) {
        let _ = read_with(&data[..], Options::default());
    }

    #[test]
    fn mutated_archives_never_panic(
        flips in prop::collection::vec((0usize..4096, any::<u8>()), 1..8),
        reseal in any::<bool>(),
    ) {
        let mut t = sample_archive();
        for (i, v) in flips {
            let i = i % t.len();
            t[i] = v;
        }
        if reseal {
            for blk in t.chunks_exact_mut(512) {
                if blk.iter().any(|&c| c != 0) {
                    let b: [u8; 512] = blk.try_into().unwrap();
                    blk.copy_from_slice(&seal(b));
                }
            }
        }
        let _ = read_with(&t[..], Options::default());
    }
}

fn sample_archive() -> Vec<u8> {
    Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"path", b"long/name"),
                (b"mtime", b"1.5"),
                (b"GNU.sparse.major", b"1"),
                (b"GNU.sparse.minor", b"0"),
                (b"GNU.sparse.realsize", b"2000"),
            ],
        )
        .block(header(b"x", tf::REG, 512 + 3, Magic::Ustar))
        .data(&{
            let mut d = b"1\n100\n3\n".to_vec();
            d.resize(512, 0);
            d.extend_from_slice(b"abc");
            d
        })
        .block(header(b"LL", tf::GNU_LONGNAME, 6, Magic::Gnu))
        .data(b"named\0")
        .file("f", b"hello")
        .end()
        .0
}

// ---------------------------------------------------------------------------------------------
// PAX
// ---------------------------------------------------------------------------------------------

#[test]
fn pax_records_apply_to_the_next_entry() {
    let long = "d/".repeat(80) + "file";
    let t = Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"path", long.as_bytes()),
                (b"uid", b"3000000"),
                (b"gid", b"42"),
                (b"uname", b"\xc3\xbcser"),
                (b"gname", b"grp"),
                (b"mtime", b"1700000000.5"),
                (b"atime", b"-1.5"),
                (b"ctime", b"-0.25"),
                (b"SCHILY.xattr.security.capability", b"\x01\x00\x00\x02\0\0"),
                (b"SCHILY.xattr.user.empty", b""),
                (b"linkpath", b""),
            ],
        )
        .block(with(
            header(b"short", tf::REG, 3, Magic::Ustar),
            157,
            b"keep",
        ))
        .data(b"abc")
        .file("next", b"")
        .end();
    let e = check(t.bytes()).unwrap();
    let h = &e[0].0;
    assert_eq!(h.name, long.as_bytes());
    assert_eq!((h.uid, h.gid), (3_000_000, 42));
    assert_eq!(h.uname, "üser".as_bytes());
    assert_eq!(h.gname, b"grp");
    assert_eq!(
        h.mtime,
        Timestamp {
            sec: 1_700_000_000,
            nsec: 500_000_000
        }
    );
    assert_eq!(
        h.atime,
        Some(Timestamp {
            sec: -2,
            nsec: 500_000_000
        })
    );
    assert_eq!(
        h.ctime,
        Some(Timestamp {
            sec: -1,
            nsec: 750_000_000
        })
    );
    // Empty value: the header field is kept, the record is still listed.
    assert_eq!(h.linkname, b"keep");
    assert_eq!(
        h.pax_records.get(&b"linkpath"[..]).map(Vec::as_slice),
        Some(&b""[..])
    );
    let x: Vec<_> = h.xattrs().collect();
    assert!(x.contains(&(&b"security.capability"[..], &b"\x01\x00\x00\x02\0\0"[..])));
    assert!(h.formats.pax && h.formats.ustar);
    assert_eq!(h.offset, 0);
    assert_eq!(e[0].1, b"abc");
    // Not carried to the following entry.
    assert_eq!(e[1].0.name, b"next");
    assert!(e[1].0.pax_records.is_empty());
    assert!(!e[1].0.formats.pax);
}

#[test]
fn pax_size_overrides_the_header_size() {
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"size", b"5")])
        .block(header(b"f", tf::REG, 0, Magic::Ustar))
        .data(b"12345")
        .file("g", b"z")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.size, 5);
    assert_eq!(e[0].1, b"12345");
    assert_eq!(e[1].1, b"z");
}

#[test]
fn a_second_x_header_replaces_the_first() {
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"path", b"first"), (b"uid", b"7")])
        .ext(tf::XHEADER, &[(b"gid", b"9")])
        .file("plain", b"")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.name, b"plain");
    assert_eq!((e[0].0.uid, e[0].0.gid), (0, 9));
}

#[test]
fn pax_time_rules() {
    let t = |s: &[u8]| parse_pax_time(s);
    assert_eq!(t(b"1"), Some(Timestamp { sec: 1, nsec: 0 }));
    assert_eq!(t(b"1."), Some(Timestamp { sec: 1, nsec: 0 }));
    assert_eq!(
        t(b"+1.5"),
        Some(Timestamp {
            sec: 1,
            nsec: 500_000_000
        })
    );
    assert_eq!(
        t(b"-0.5"),
        Some(Timestamp {
            sec: -1,
            nsec: 500_000_000
        })
    );
    assert_eq!(t(b"-100"), Some(Timestamp::from_secs(-100)));
    assert_eq!(
        t(b"1.1234567891"),
        Some(Timestamp {
            sec: 1,
            nsec: 123_456_789
        })
    );
    assert_eq!(t(b"1.000000001"), Some(Timestamp { sec: 1, nsec: 1 }));
    assert_eq!(t(b".5"), None);
    assert_eq!(t(b"1.5x"), None);
    assert_eq!(t(b"1.-5"), None);
    assert_eq!(t(b"1.5.5"), None);
    assert_eq!(t(b" 1"), None);
    assert_eq!(t(b""), None);
    assert_eq!(t(b"9223372036854775808"), None);
    assert_eq!(
        t(b"-9223372036854775808"),
        Some(Timestamp::from_secs(i64::MIN))
    );
}

#[test]
fn pax_record_validation() {
    assert_eq!(
        parse_pax_record(b"6 k=v\nrest"),
        Some((&b"k"[..], &b"v"[..], &b"rest"[..]))
    );
    assert_eq!(
        parse_pax_record(b"+7 k=v\n"),
        Some((&b"k"[..], &b"v"[..], &b""[..]))
    );
    assert_eq!(parse_pax_record(b"5 k=\n").map(|r| r.1), Some(&b""[..]));
    assert_eq!(parse_pax_record(b"6 k=v\n").map(|r| r.1), Some(&b"v"[..]));
    assert_eq!(parse_pax_record(b"7 k=v\n"), None); // length past the end
    assert_eq!(parse_pax_record(b"5 k=v\n"), None); // newline not where the length says
    assert_eq!(parse_pax_record(b"4 k=\n"), None); // n < 5
    assert_eq!(parse_pax_record(b"6 kv\n\n"), None); // no '='
    assert_eq!(parse_pax_record(b"6 =v\n\n"), None); // empty key
    assert_eq!(parse_pax_record(b"6k=v\n"), None); // no space
    assert_eq!(parse_pax_record(b"0x6 k=v\n"), None);
    assert_eq!(parse_pax_record(b"10 path=a\0\n"), None); // NUL in a path value
    assert!(parse_pax_record(b"14 comment=a\0\n").is_some()); // NUL allowed in other values
    assert_eq!(parse_pax_record(b"8 k\0y=v\n"), None); // NUL in a key
    // Multi-digit lengths: the length counts itself.
    let r = record(b"k", &[b'v'; 100]);
    assert_eq!(&r[..4], b"107 ");
    assert!(parse_pax_record(&r).is_some());

    // In an archive: ErrHeader.
    let t = Tar::default()
        .ext_raw(tf::XHEADER, b"99 path=x\n")
        .file("f", b"")
        .end();
    assert_eq!(
        kind(check(t.bytes())),
        ErrorKind::InvalidHeader("malformed PAX record")
    );
    // Invalid numeric values.
    for (k, v) in [
        (&b"uid"[..], &b"12a"[..]),
        (b"size", b"-"),
        (b"mtime", b"1.x"),
        (b"gid", b" 1"),
    ] {
        let t = Tar::default()
            .ext(tf::XHEADER, &[(k, v)])
            .file("f", b"")
            .end();
        assert!(
            matches!(kind(check(t.bytes())), ErrorKind::InvalidHeader(_)),
            "{k:?}"
        );
    }
}

#[test]
fn pax_header_size_limits() {
    let big = vec![b'a'; (1 << 20) + 10];
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"comment", &big)])
        .file("f", b"")
        .end();
    let err = check(t.bytes()).unwrap_err();
    assert!(
        matches!(err.kind, ErrorKind::FieldTooLong { limit: 1048576, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("max-pax-size"), "{err}");
    // A lower configured limit.
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"comment", &[b'a'; 100])])
        .file("f", b"")
        .end();
    let opts = Options {
        max_pax_size: 50,
        ..Options::default()
    };
    assert!(matches!(
        kind(check_opts(t.bytes(), opts)),
        ErrorKind::FieldTooLong { limit: 50, .. }
    ));
}

#[test]
fn global_headers_are_returned_and_do_not_carry_over() {
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"uid", b"5")])
        .ext(
            tf::XGLOBAL,
            &[
                (b"comment", b"hello"),
                (b"path", b"global-name"),
                (b"mtime", b"bad"),
            ],
        )
        .file("f", b"data")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e.len(), 2);
    let g = &e[0].0;
    assert_eq!(g.typeflag, tf::XGLOBAL);
    assert_eq!(g.name, b"global-name");
    assert_eq!(g.size, 0);
    assert!(e[0].1.is_empty());
    assert_eq!(
        g.pax_records.get(&b"comment"[..]).map(Vec::as_slice),
        Some(&b"hello"[..])
    );
    assert!(g.formats.pax);
    // The pending x header was dropped with the g header.
    assert_eq!(e[1].0.uid, 0);
    assert_eq!(e[1].0.name, b"f");
    assert_eq!(e[1].1, b"data");
    assert_eq!(e[1].0.offset, 2048);
}

#[test]
fn first_entry_may_be_a_global_header() {
    let t = Tar::default().ext(tf::XGLOBAL, &[(b"comment", b"c")]).end();
    assert!(first_header_parses(t.bytes()));
}

// ---------------------------------------------------------------------------------------------
// GNU
// ---------------------------------------------------------------------------------------------

#[test]
fn gnu_long_names() {
    let long = "x".repeat(300);
    let mut name_body = long.clone().into_bytes();
    name_body.extend_from_slice(b"\0trailing junk after the NUL");
    let t = Tar::default()
        .block(header(
            b"././@LongLink",
            tf::GNU_LONGNAME,
            name_body.len() as u64,
            Magic::Gnu,
        ))
        .data(&name_body)
        .block(header(b"././@LongLink", tf::GNU_LONGLINK, 4, Magic::Gnu))
        .data(b"tgt\0")
        .block(header(b"trunc", tf::SYMLINK, 0, Magic::Gnu))
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.name, long.as_bytes());
    assert_eq!(e[0].0.linkname, b"tgt");
    assert!(e[0].0.formats.gnu);
    assert_eq!(e[0].0.offset, 0);
}

#[test]
fn gnu_long_name_wins_over_pax_path() {
    let t = Tar::default()
        .block(header(b"L", tf::GNU_LONGNAME, 3, Magic::Gnu))
        .data(b"gnu")
        .ext(tf::XHEADER, &[(b"path", b"pax")])
        .file("hdr", b"")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.name, b"gnu");
    assert!(e[0].0.formats.gnu && e[0].0.formats.pax && e[0].0.formats.ustar);
    // An empty long name does not apply.
    let t = Tar::default()
        .block(header(b"L", tf::GNU_LONGNAME, 1, Magic::Gnu))
        .data(b"\0")
        .file("hdr", b"")
        .end();
    assert_eq!(check(t.bytes()).unwrap()[0].0.name, b"hdr");
}

#[test]
fn gnu_long_name_limit() {
    let t = Tar::default()
        .block(header(b"L", tf::GNU_LONGNAME, 100, Magic::Gnu))
        .data(&[b'a'; 100])
        .file("f", b"")
        .end();
    let opts = Options {
        max_gnu_long_name: 99,
        ..Options::default()
    };
    let err = check_opts(t.bytes(), opts).unwrap_err();
    assert!(err.to_string().contains("max-long-name-size"), "{err}");
    let opts = Options {
        max_gnu_long_name: 100,
        ..Options::default()
    };
    assert!(check_opts(t.bytes(), opts).is_ok());
}

#[test]
fn gnu_times_and_buggy_prefix_fallback() {
    let mut b = header(b"f", tf::REG, 0, Magic::Gnu);
    octal(&mut b[345..357], 1000);
    octal(&mut b[357..369], 2000);
    let e = check(Tar::default().block(seal(b)).end().bytes()).unwrap();
    assert_eq!(e[0].0.atime, Some(Timestamp::from_secs(1000)));
    assert_eq!(e[0].0.ctime, Some(Timestamp::from_secs(2000)));
    // Unparsable atime: the area is a USTAR prefix written by an old Go.
    let b = with(header(b"name", tf::REG, 0, Magic::Gnu), 345, b"some/prefix");
    let e = check(Tar::default().block(b).end().bytes()).unwrap();
    assert_eq!(e[0].0.name, b"some/prefix/name");
    assert_eq!(e[0].0.atime, None);
}

// ---------------------------------------------------------------------------------------------
// V7, USTAR, STAR
// ---------------------------------------------------------------------------------------------

#[test]
fn typeflag_nul_becomes_dir_or_reg() {
    let t = Tar::default()
        .block(header(b"dir/", tf::REGA, 0, Magic::V7))
        .block(header(b"file", tf::REGA, 2, Magic::V7))
        .data(b"hi")
        .ext(tf::XHEADER, &[(b"path", b"paxdir/")])
        .block(header(b"nodir", tf::REGA, 0, Magic::Ustar))
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.typeflag, tf::DIR);
    assert_eq!(e[1].0.typeflag, tf::REG);
    assert_eq!(e[1].1, b"hi");
    assert!(e[0].0.formats.v7 && !e[0].0.formats.ustar);
    // The final (PAX) name decides.
    assert_eq!(e[2].0.typeflag, tf::DIR);
}

#[test]
fn v7_ignores_ustar_fields() {
    let b = with(header(b"f", tf::REG, 0, Magic::V7), 265, b"root");
    let e = check(Tar::default().block(b).end().bytes()).unwrap();
    assert!(e[0].0.uname.is_empty());
}

#[test]
fn ustar_and_star_prefixes() {
    let b = with(
        header(b"name", tf::REG, 0, Magic::Ustar),
        345,
        b"usr/share/a-very-long-prefix",
    );
    let b = with(b, 265, b"root");
    let e = check(Tar::default().block(b).end().bytes()).unwrap();
    assert_eq!(e[0].0.name, b"usr/share/a-very-long-prefix/name");
    assert_eq!(e[0].0.uname, b"root");

    let mut b = header(b"name", tf::REG, 0, Magic::Star);
    b[345..351].copy_from_slice(b"starpx");
    octal(&mut b[476..488], 5);
    octal(&mut b[488..500], 6);
    let e = check(Tar::default().block(seal(b)).end().bytes()).unwrap();
    assert_eq!(e[0].0.name, b"starpx/name");
    assert_eq!(e[0].0.atime, Some(Timestamp::from_secs(5)));
    assert_eq!(e[0].0.ctime, Some(Timestamp::from_secs(6)));
    assert!(e[0].0.formats.star);
}

#[test]
fn devices_and_fields() {
    let mut b = header(b"dev/null", tf::CHAR, 0, Magic::Ustar);
    octal(&mut b[329..337], 1);
    octal(&mut b[337..345], 3);
    octal(&mut b[100..108], 0o20666);
    octal(&mut b[136..148], 1_700_000_000);
    let e = check(Tar::default().block(seal(b)).end().bytes()).unwrap();
    let h = &e[0].0;
    assert_eq!((h.devmajor, h.devminor), (1, 3));
    assert_eq!(h.mode, 0o20666);
    assert_eq!(h.perm(), 0o666);
    assert_eq!(h.mtime, Timestamp::from_secs(1_700_000_000));
}

// ---------------------------------------------------------------------------------------------
// Sparse
// ---------------------------------------------------------------------------------------------

fn expanded() -> Vec<u8> {
    let mut v = vec![0u8; 10_000];
    v[..5].copy_from_slice(b"hello");
    v[8000..8003].copy_from_slice(b"abc");
    v
}

fn sparse_1x0(map: &[u8], data: &[u8]) -> Tar {
    let mut body = map.to_vec();
    body.resize(512, 0);
    body.extend_from_slice(data);
    Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"GNU.sparse.major", b"1"),
                (b"GNU.sparse.minor", b"0"),
                (b"GNU.sparse.name", b"real/name"),
                (b"GNU.sparse.realsize", b"10000"),
            ],
        )
        .block(header(
            b"GNUSparseFile.0/name",
            tf::REG,
            body.len() as u64,
            Magic::Ustar,
        ))
        .data(&body)
}

#[test]
fn pax_sparse_1_0() {
    let t = sparse_1x0(b"2\n0\n5\n8000\n3\n", b"helloabc")
        .file("after", b"z")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.name, b"real/name");
    assert_eq!(e[0].0.size, 10_000);
    assert_eq!(e[0].0.typeflag, tf::REG);
    assert!(e[0].1 == expanded());
    assert_eq!(e[1].1, b"z");
    // Skipping the body works too.
    let mut r = Reader::new(t.bytes());
    r.next_header().unwrap();
    assert_eq!(r.next_header().unwrap().unwrap().name, b"after");
}

#[test]
fn pax_sparse_0_1_and_0_0() {
    let t01 = Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"GNU.sparse.numblocks", b"2"),
                (b"GNU.sparse.map", b"0,5,8000,3"),
                (b"GNU.sparse.size", b"10000"),
                (b"GNU.sparse.name", b"real/name"),
            ],
        )
        .block(header(b"GNUSparseFile.0/name", tf::REG, 8, Magic::Ustar))
        .data(b"helloabc")
        .end();
    let t00 = Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"GNU.sparse.size", b"10000"),
                (b"GNU.sparse.numblocks", b"2"),
                (b"GNU.sparse.offset", b"0"),
                (b"GNU.sparse.numbytes", b"5"),
                (b"GNU.sparse.offset", b"8000"),
                (b"GNU.sparse.numbytes", b"3"),
            ],
        )
        .block(header(b"plain", tf::REG, 8, Magic::Ustar))
        .data(b"helloabc")
        .end();
    for (t, name) in [(t01, &b"real/name"[..]), (t00, b"plain")] {
        let e = check(t.bytes()).unwrap();
        assert_eq!(e[0].0.name, name);
        assert_eq!(e[0].0.size, 10_000);
        assert!(e[0].1 == expanded());
    }
    // Out-of-order 0.0 records are ErrHeader.
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"GNU.sparse.numbytes", b"5")])
        .file("f", b"")
        .end();
    assert!(matches!(
        kind(check(t.bytes())),
        ErrorKind::InvalidHeader(_)
    ));
}

#[test]
fn sparse_data_mismatches() {
    // Map references 8 bytes, only 6 present.
    let t = sparse_1x0(b"2\n0\n5\n8000\n3\n", b"helloa").end();
    assert_eq!(kind(check(t.bytes())), ErrorKind::SparseMissingData);
    // Map references 8 bytes, 10 present.
    let t = sparse_1x0(b"2\n0\n5\n8000\n3\n", b"helloabcXX").end();
    assert_eq!(kind(check(t.bytes())), ErrorKind::SparseUnreferencedData);
    // Overlapping or out-of-range fragments.
    for map in [
        &b"2\n0\n5\n3\n3\n"[..],
        b"1\n9999\n2\n",
        b"1\n-1\n2\n",
        b"x\n",
    ] {
        let t = sparse_1x0(map, b"helloabc").end();
        assert!(
            matches!(kind(check(t.bytes())), ErrorKind::InvalidHeader(_)),
            "{map:?}"
        );
    }
    // A map that does not end within the data section.
    let t = Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"GNU.sparse.major", b"1"),
                (b"GNU.sparse.minor", b"0"),
                (b"GNU.sparse.realsize", b"10"),
            ],
        )
        .block(header(b"f", tf::REG, 10, Magic::Ustar))
        .data(b"1\n0\n")
        .end();
    assert_eq!(kind(check(t.bytes())), ErrorKind::UnexpectedEof);
    // Unknown sparse version: a plain file.
    let t = Tar::default()
        .ext(
            tf::XHEADER,
            &[(b"GNU.sparse.major", b"2"), (b"GNU.sparse.minor", b"0")],
        )
        .file("f", b"raw")
        .end();
    assert_eq!(check(t.bytes()).unwrap()[0].1, b"raw");
    // Sparse records on a symlink: ErrHeader.
    let t = Tar::default()
        .ext(
            tf::XHEADER,
            &[(b"GNU.sparse.numblocks", b"0"), (b"GNU.sparse.map", b"")],
        )
        .block(header(b"l", tf::SYMLINK, 0, Magic::Ustar))
        .end();
    // An empty map record means "not sparse" (Go checks map != "").
    assert!(check(t.bytes()).is_ok());
    let t = Tar::default()
        .ext(
            tf::XHEADER,
            &[
                (b"GNU.sparse.major", b"0"),
                (b"GNU.sparse.minor", b"1"),
                (b"GNU.sparse.numblocks", b"0"),
            ],
        )
        .block(header(b"l", tf::SYMLINK, 0, Magic::Ustar))
        .end();
    assert!(matches!(
        kind(check(t.bytes())),
        ErrorKind::InvalidHeader(_)
    ));
}

fn old_gnu_sparse(
    entries: &[(u64, u64)],
    ext: Option<&[(u64, u64)]>,
    realsize: u64,
    data: &[u8],
) -> Tar {
    let mut b = header(b"sparse", tf::GNU_SPARSE, data.len() as u64, Magic::Gnu);
    for (i, &(off, len)) in entries.iter().enumerate() {
        let base = 386 + i * 24;
        octal(&mut b[base..base + 12], off);
        octal(&mut b[base + 12..base + 24], len);
    }
    b[482] = u8::from(ext.is_some());
    octal(&mut b[483..495], realsize);
    let mut t = Tar::default().block(seal(b));
    if let Some(ext) = ext {
        let mut x = [0u8; 512];
        for (i, &(off, len)) in ext.iter().enumerate() {
            octal(&mut x[i * 24..i * 24 + 12], off);
            octal(&mut x[i * 24 + 12..i * 24 + 24], len);
        }
        t = t.block(x);
    }
    t.data(data)
}

#[test]
fn old_gnu_sparse_is_returned_as_s_with_expanded_data() {
    let t = old_gnu_sparse(&[(0, 5), (8000, 3)], None, 10_000, b"helloabc")
        .file("after", b"z")
        .end();
    let e = check(t.bytes()).unwrap();
    assert_eq!(e[0].0.typeflag, tf::GNU_SPARSE);
    assert_eq!(e[0].0.size, 10_000);
    assert!(e[0].1 == expanded());
    assert!(e[0].0.formats.gnu);
    assert_eq!(e[1].0.name, b"after");
    assert_eq!(e[1].1, b"z");

    // With an extension block; body skipped.
    let t = old_gnu_sparse(
        &[(0, 1), (10, 1), (20, 1), (30, 1)],
        Some(&[(40, 1), (50, 1)]),
        60,
        b"abcdef",
    )
    .file("after", b"z")
    .end();
    let mut r = Reader::new(t.bytes());
    let h = r.next_header().unwrap().unwrap();
    assert_eq!(h.typeflag, tf::GNU_SPARSE);
    assert_eq!(h.size, 60);
    assert_eq!(r.next_header().unwrap().unwrap().name, b"after");
    let e = check(t.bytes()).unwrap();
    let mut want = vec![0u8; 60];
    for (i, c) in b"abcdef".iter().enumerate() {
        want[i * 10] = *c;
    }
    assert_eq!(e[0].1, want);

    // 'S' without GNU magic: ErrHeader.
    let t = Tar::default()
        .block(header(b"s", tf::GNU_SPARSE, 0, Magic::Ustar))
        .end();
    assert!(matches!(
        kind(check(t.bytes())),
        ErrorKind::InvalidHeader(_)
    ));
    // Truncated extension block.
    let t = old_gnu_sparse(&[(0, 1)], Some(&[]), 1, b"");
    assert_eq!(kind(check(&t.0[..700])), ErrorKind::UnexpectedEof);
}

// ---------------------------------------------------------------------------------------------
// Limits, errors, detection, streaming
// ---------------------------------------------------------------------------------------------

#[test]
fn path_and_entry_limits() {
    let t = Tar::default()
        .ext(tf::XHEADER, &[(b"path", &[b'a'; 300])])
        .file("f", b"")
        .end();
    let opts = Options {
        max_path_len: 255,
        ..Options::default()
    };
    let err = check_opts(t.bytes(), opts).unwrap_err();
    assert!(matches!(
        err.kind,
        ErrorKind::Limit {
            actual: 300,
            limit: 255,
            ..
        }
    ));
    assert!(err.to_string().contains("--max-path-len"));

    let t = Tar::default()
        .file("a", b"")
        .file("b", b"")
        .file("c", b"")
        .end();
    let opts = Options {
        max_entries: Some(2),
        ..Options::default()
    };
    let err = check_opts(t.bytes(), opts).unwrap_err();
    assert_eq!(err.index, 2);
    assert!(err.to_string().contains("--max-entries"));
}

#[test]
fn body_errors_are_sticky_and_typed() {
    let full = Tar::default().file("a", b"hello world").file("b", b"").0;
    let mut r = Reader::new(&full[..515]);
    r.next_header().unwrap();
    let mut buf = Vec::new();
    let e = r.body().read_to_end(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
    let typed = Error::from_io(&e).unwrap();
    assert_eq!(typed.name.as_deref(), Some("a"));
    assert_eq!(r.next_header().unwrap_err(), *typed);
    assert!(r.body().read(&mut [0; 4]).is_err());
}

#[test]
fn partial_body_reads_then_skip() {
    let t = Tar::default()
        .file("a", &[7u8; 3000])
        .file("b", b"bb")
        .end();
    let mut r = Reader::new(t.bytes());
    r.next_header().unwrap();
    let mut buf = [0u8; 100];
    r.body().read_exact(&mut buf).unwrap();
    assert_eq!(r.physical_remaining(), 2900);
    let h = r.next_header().unwrap().unwrap();
    assert_eq!(h.name, b"b");
    assert_eq!(h.offset, 512 + 3072);
    assert_eq!(r.entries_returned(), 2);
}

#[test]
fn is_archive_like_docker() {
    let tar = Tar::default().file("a", b"x").end().0;
    for c in [
        Compression::Identity,
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ] {
        assert!(
            is_archive(&compress(c, &tar)[..], &Default::default()),
            "{c}"
        );
    }
    // Docker 20.10 does not know zstd.
    let no_zstd = DecompressOptions {
        zstd: false,
        ..Default::default()
    };
    assert!(!is_archive(
        &compress(Compression::Zstd, &tar)[..],
        &no_zstd
    ));
    // Not archives.
    assert!(!is_archive(&b""[..], &Default::default()));
    assert!(!is_archive(&[0u8; 1024][..], &Default::default()));
    assert!(!is_archive(
        &b"#!/bin/sh\necho hello\n"[..],
        &Default::default()
    ));
    assert!(!is_archive(
        &compress(Compression::Gzip, b"not a tar")[..],
        &Default::default()
    ));
    assert!(!is_archive(
        &[0x1f, 0x8b, 0x08, 1, 2, 3][..],
        &Default::default()
    ));
    // Only the first header matters.
    let mut broken = tar.clone();
    broken.truncate(600);
    broken.extend_from_slice(&[1; 512]);
    assert!(is_archive(&broken[..], &Default::default()));
}

#[test]
fn all_compressions_agree() {
    let tar = sample_archive();
    let want = read_with(&tar[..], Options::default()).unwrap();
    assert_eq!(want.len(), 2);
    for c in [
        Compression::Gzip,
        Compression::Bzip2,
        Compression::Xz,
        Compression::Zstd,
    ] {
        let z = compress(c, &tar);
        let d = compression::open(&z[..], &Default::default()).unwrap();
        assert_eq!(read_with(d, Options::default()).unwrap(), want, "{c}");
    }
    // Multi-member gzip split in the middle of a header.
    let mut z = compress(Compression::Gzip, &tar[..700]);
    z.extend(compress(Compression::Gzip, &tar[700..]));
    let d = compression::open(&z[..], &Default::default()).unwrap();
    assert_eq!(read_with(d, Options::default()).unwrap(), want);
}

#[test]
fn decompression_errors_and_limits_surface_as_read_errors() {
    let tar = Tar::default().file("a", &[1u8; 5000]).end().0;
    let mut z = compress(Compression::Gzip, &tar);
    z.truncate(z.len() / 2);
    let d = compression::open(&z[..], &Default::default()).unwrap();
    let err = read_with(d, Options::default()).unwrap_err();
    assert!(err.to_string().contains("gzip stream"), "{err}");

    let z = compress(Compression::Gzip, &tar);
    let opts = DecompressOptions {
        max_decompressed_bytes: Some(1000),
        ..Default::default()
    };
    let d = compression::open(&z[..], &opts).unwrap();
    let err = read_with(d, Options::default()).unwrap_err();
    assert!(
        matches!(
            err.kind,
            ErrorKind::DecompressionLimit(LimitExceeded { limit: 1000, .. })
        ),
        "{err}"
    );
}

#[test]
fn many_entries_stream() {
    let mut t = Tar::default();
    for i in 0..2000 {
        t = t.file(&format!("dir/file{i}"), format!("{i}").as_bytes());
    }
    let t = t.end();
    let mut r = Reader::new(t.bytes());
    let mut n = 0;
    while let Some(h) = r.next_header().unwrap() {
        let mut s = String::new();
        r.body().read_to_string(&mut s).unwrap();
        assert_eq!(h.name, format!("dir/file{n}").as_bytes());
        assert_eq!(s, n.to_string());
        n += 1;
    }
    assert_eq!(n, 2000);
    assert_eq!(r.position(), t.bytes().len() as u64);
}

/// The skeleton the reader tracks, reading every body whole.
fn reader_skeleton<R: Read>(r: R) -> Option<crate::skeleton::Skeleton> {
    use sha2::Digest as _;
    let mut reader = Reader::new(r).observe(SkeletonHasher::new());
    while let Some(_h) = reader.next_header().unwrap() {
        let mut data = Vec::new();
        reader.body().read_to_end(&mut data).unwrap();
        reader.body_digest(&sha2::Sha256::digest(&data).into());
    }
    reader
        .finish_observer()
        .unwrap()
        .map(SkeletonHasher::finish)
}

#[test]
fn skeleton_splits_bodies_from_everything_else() {
    use crate::skeleton::SkeletonHasher;
    use sha2::Digest as _;
    let tar = Tar::default()
        .ext(tf::XHEADER, &[(b"path", b"long/name")])
        .file("a", b"alpha")
        .file("empty", b"")
        .file("b", &[7u8; 1000])
        .end();
    let mut bytes = tar.bytes().to_vec();
    bytes.extend_from_slice(b"trailing junk");
    // by hand: raw bytes up to each body, the body by digest, then the rest
    let mut want = SkeletonHasher::new();
    let a_at = 512 * 3;
    want.raw(&bytes[..a_at]);
    want.body(5, &sha2::Sha256::digest(b"alpha").into());
    let b_at = a_at + 512 + 512 + 512;
    want.raw(&bytes[a_at + 5..b_at]);
    want.body(1000, &sha2::Sha256::digest([7u8; 1000]).into());
    want.raw(&bytes[b_at + 1000..]);
    let want = want.finish();
    assert_eq!(want.size, bytes.len() as u64);
    assert_eq!(reader_skeleton(&bytes[..]), Some(want));
    assert_eq!(reader_skeleton(OneByte(&bytes)), Some(want));

    // one changed body byte, one changed padding byte: other skeletons
    let mut body = bytes.clone();
    body[a_at + 1] ^= 1;
    assert_ne!(reader_skeleton(&body[..]), Some(want));
    let mut pad = bytes.clone();
    pad[a_at + 7] = 1;
    assert_ne!(reader_skeleton(&pad[..]), Some(want));
}

#[test]
fn skeleton_is_lost_when_a_body_is_not_given_by_digest() {
    let tar = Tar::default().file("a", b"alpha").end();
    let mut reader = Reader::new(tar.bytes()).observe(SkeletonHasher::new());
    while reader.next_header().unwrap().is_some() {}
    assert!(reader.finish_observer().unwrap().is_none());
    // a partly read body
    let mut reader = Reader::new(tar.bytes()).observe(SkeletonHasher::new());
    reader.next_header().unwrap();
    reader.body().read_exact(&mut [0u8; 2]).unwrap();
    reader.body_digest(&[0; 32]);
    while reader.next_header().unwrap().is_some() {}
    assert!(reader.finish_observer().unwrap().is_none());
    // unobserved
    let mut reader = Reader::new(tar.bytes());
    while reader.next_header().unwrap().is_some() {}
    assert_eq!(reader.finish_observer().unwrap(), None);
    // observed from the second header on
    let mut reader = Reader::new(tar.bytes());
    reader.next_header().unwrap();
    let mut reader = reader.observe(SkeletonHasher::new());
    while reader.next_header().unwrap().is_some() {}
    assert!(reader.finish_observer().unwrap().is_none());
}

/// The shape the reader tracks, skipping bodies by reading or (`seek`) by seeking.
fn reader_shape(bytes: &[u8], seek: bool, capacity: usize) -> Result<Option<Shape>, Error> {
    let mut reader = Reader::with_capacity(io::Cursor::new(bytes), Options::default(), capacity)
        .observe(ShapeRecorder::new(1 << 20));
    if seek {
        reader.skip_by_seeking();
    }
    while reader.next_header()?.is_some() {}
    Ok(reader.finish_observer()?.and_then(ShapeRecorder::finish))
}

#[test]
fn shape_keeps_raw_bytes_and_skips_bodies_by_reading_or_seeking() {
    let tar = Tar::default()
        .ext(tf::XHEADER, &[(b"path", b"long/name")])
        .file("a", b"alpha")
        .file("empty", b"")
        .file("b", &[7u8; 3000])
        .end();
    let mut bytes = tar.bytes().to_vec();
    bytes.extend_from_slice(b"trailing junk");
    let a_at = 512 * 3;
    let b_at = a_at + 512 + 512 + 512;
    let mut raw = bytes[..a_at].to_vec();
    raw.extend_from_slice(&bytes[a_at + 5..b_at]);
    raw.extend_from_slice(&bytes[b_at + 3000..]);
    let want = Shape {
        raw,
        bodies: vec![(a_at as u64, 5), ((b_at - 5) as u64, 3000)],
    };
    for seek in [false, true] {
        for capacity in [512, 4096, 1 << 20] {
            assert_eq!(
                reader_shape(&bytes, seek, capacity).unwrap().as_ref(),
                Some(&want),
                "seek {seek}, capacity {capacity}"
            );
        }
    }
    // a body cut short: an error, seeking or not
    let cut = &bytes[..b_at + 100];
    for seek in [false, true] {
        assert!(reader_shape(cut, seek, 512).is_err(), "seek {seek}");
    }
    // more raw bytes than the limit: no shape
    let mut reader = Reader::new(&bytes[..]).observe(ShapeRecorder::new(100));
    while reader.next_header().unwrap().is_some() {}
    let recorder = reader
        .finish_observer()
        .unwrap()
        .expect("observed from the start");
    assert_eq!(recorder.finish(), None);
}

proptest! {
    /// Seeking over bodies and reading through them give the same shape, or both fail, on
    /// damaged archives too.
    #[test]
    fn shape_by_seeking_equals_shape_by_reading(
        cut in 0usize..6000,
        flips in prop::collection::vec((0usize..6000, any::<u8>()), 0..4),
    ) {
        let tar = Tar::default()
            .ext(tf::XHEADER, &[(b"path", b"long/name")])
            .file("a", b"alpha")
            .file("b", &[7u8; 3000])
            .file("c", b"")
            .end();
        let mut bytes = tar.bytes().to_vec();
        for (at, v) in flips {
            if let Some(b) = bytes.get_mut(at) {
                *b = v;
            }
        }
        bytes.truncate(cut.min(bytes.len()));
        let read = reader_shape(&bytes, false, 512);
        let seek = reader_shape(&bytes, true, 512);
        prop_assert_eq!(read.is_ok(), seek.is_ok(), "{:?} / {:?}", read, seek);
        if let (Ok(a), Ok(b)) = (read, seek) {
            prop_assert_eq!(a, b);
        }
    }
}
