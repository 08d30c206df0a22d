//! Every limit of `source::add` ends in `Error::Limit` (exit 2 in the CLI), never in a Docker
//! refusal or a "plain file" verdict, and its message names the limit, its value and the flag.
//! Regression tests for issue 8: before, a decompression limit hit inside the tar reader was
//! reported as "not an archive" (first header) or as a corrupt archive (later), and unpack
//! limits as Docker refusals.
use std::io::Write;

use layerproof_archive::source::{self, Added, Error, Options};

/// One ustar header block (with a correct checksum) for `name`.
fn header(name: &[u8], typeflag: u8, size: u64, link: &[u8]) -> [u8; 512] {
    let mut b = [0u8; 512];
    b[..name.len()].copy_from_slice(name);
    b[100..108].copy_from_slice(b"0000644\0");
    b[108..116].copy_from_slice(b"0000000\0");
    b[116..124].copy_from_slice(b"0000000\0");
    b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
    b[136..148].copy_from_slice(b"14540000000\0");
    b[156] = typeflag;
    b[157..157 + link.len()].copy_from_slice(link);
    b[257..263].copy_from_slice(b"ustar\0");
    b[263..265].copy_from_slice(b"00");
    b[148..156].copy_from_slice(b"        ");
    let sum: u32 = b.iter().map(|&c| u32::from(c)).sum();
    b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    b
}

/// One PAX record `"%d key=value\n"`, its length counting itself.
fn pax_rec(key: &str, value: &[u8]) -> Vec<u8> {
    let payload = [key.as_bytes(), b"=", value, b"\n"].concat();
    let mut n = payload.len() + 2;
    while format!("{n} ").len() + payload.len() != n {
        n = format!("{n} ").len() + payload.len();
    }
    [format!("{n} ").into_bytes(), payload].concat()
}

/// A PAX `x` header with `records`, then a file `name` (padded blocks).
fn pax_entry(name: &[u8], records: &[u8]) -> Vec<u8> {
    let mut out = header(b"pax", b'x', records.len() as u64, b"").to_vec();
    out.extend_from_slice(records);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&header(name, b'0', 0, b""));
    out
}

/// `(name, typeflag, body, link)`.
type Entry<'a> = (&'a [u8], u8, &'a [u8], &'a [u8]);

/// A tar of entries with PAX `path` records for long names.
fn tar(entries: &[Entry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, t, body, link) in entries {
        let short: &[u8] = if name.len() > 100 {
            let mut rec = Vec::new();
            let payload = [b"path=".as_slice(), name, b"\n"].concat();
            // "%d %s": the length counts itself.
            let mut n = payload.len() + 2;
            while format!("{n} ").len() + payload.len() != n {
                n = format!("{n} ").len() + payload.len();
            }
            rec.extend_from_slice(format!("{n} ").as_bytes());
            rec.extend_from_slice(&payload);
            out.extend_from_slice(&header(b"pax", b'x', rec.len() as u64, b""));
            out.extend_from_slice(&rec);
            out.resize(out.len().div_ceil(512) * 512, 0);
            b"long"
        } else {
            name
        };
        out.extend_from_slice(&header(short, *t, body.len() as u64, link));
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[track_caller]
fn check_limit(input: &[u8], opts: &Options, limit: &str, value: u64) {
    match source::add(input, opts) {
        Err(Error::Limit(l)) => {
            assert_eq!((l.limit, l.value), (limit, value), "{l}");
            let msg = l.to_string();
            assert!(msg.contains(&format!("--{limit}")), "{msg}");
            assert!(msg.contains(&value.to_string()), "{msg}");
        }
        Ok(Added::Archive(a)) => panic!("expected the {limit} limit, got {:?}", a.outcome),
        other => panic!("expected the {limit} limit, got {other:?}"),
    }
}

#[test]
fn decompression_limit_in_the_first_header_is_a_limit_not_a_plain_file() {
    let input = gzip(&tar(&[(b"a", b'0', b"x", b"")]));
    let mut opts = Options::default();
    opts.decompress.max_decompressed_bytes = Some(100);
    check_limit(&input, &opts, "max-decompressed-bytes", 100);
}

#[test]
fn decompression_limit_inside_a_body_is_a_limit_not_a_corrupt_archive() {
    let input = gzip(&tar(&[(b"zeros", b'0', &vec![0u8; 1 << 20], b"")]));
    let mut opts = Options::default();
    opts.decompress.max_decompressed_bytes = Some(64 << 10);
    check_limit(&input, &opts, "max-decompressed-bytes", 64 << 10);
}

#[test]
fn decompression_limit_between_entries_is_a_limit() {
    let names: Vec<Vec<u8>> = (0..100).map(|i| format!("f{i}").into_bytes()).collect();
    let borrowed: Vec<Entry<'_>> = names
        .iter()
        .map(|n| (n.as_slice(), b'0', &b""[..], &b""[..]))
        .collect();
    let input = gzip(&tar(&borrowed));
    let mut opts = Options::default();
    opts.decompress.max_decompressed_bytes = Some(10 * 512);
    check_limit(&input, &opts, "max-decompressed-bytes", 10 * 512);
}

#[test]
fn unpack_limits_are_errors_not_refusals() {
    let deep = vec![&b"d"[..]; 40].join(&b'/');
    let input = tar(&[(&deep, b'0', b"", b"")]);
    let mut opts = Options::default();
    opts.unpack.max_depth = 30;
    check_limit(&input, &opts, "max-depth", 30);

    let long = [vec![b'x'; 200], b"/y".to_vec()].concat();
    let input = tar(&[(&long, b'0', b"", b"")]);
    let mut opts = Options::default();
    opts.unpack.max_path_len = 150;
    check_limit(&input, &opts, "max-path-len", 150);
    // The message stays one readable line: a long name is shortened, with its length.
    let Err(Error::Limit(l)) = source::add(&input[..], &opts) else {
        unreachable!()
    };
    assert!(
        l.message.contains("…") && l.message.contains("\" (202 bytes):"),
        "{l}"
    );
    assert!(l.message.len() < 300, "{l}");

    let input = tar(&[(b"link", b'2', b"", &[b'z'; 90])]);
    let mut opts = Options::default();
    opts.unpack.max_path_len = 50;
    check_limit(&input, &opts, "max-path-len", 50);

    let input = tar(&[(b"a", b'0', b"", b""), (b"b", b'0', b"", b"")]);
    let mut opts = Options::default();
    opts.unpack.max_entries = 1;
    check_limit(&input, &opts, "max-entries", 1);

    // One entry, but its implied parents make the tree grow beyond the limit.
    let input = tar(&[(b"a/b/c/d/e", b'0', b"", b"")]);
    let mut opts = Options::default();
    opts.unpack.max_entries = 3;
    check_limit(&input, &opts, "max-entries", 3);

    let input = tar(&[(b"aaaa", b'0', b"", b""), (b"bbbb", b'0', b"", b"")]);
    let mut opts = Options::default();
    opts.unpack.max_meta_bytes = 6;
    check_limit(&input, &opts, "max-meta-bytes", 6);
}

#[test]
fn default_path_len_limit_is_linux_path_max() {
    let ok = [vec![b'x'; 200], b"/".to_vec(), vec![b'y'; 200]].concat();
    let input = tar(&[(&ok, b'0', b"", b"")]);
    assert!(matches!(
        source::add(&input[..], &Options::default()),
        Ok(Added::Archive(a)) if a.outcome.is_ok()
    ));
    let too_long = vec![vec![b'x'; 200]; 21].join(&b'/');
    let input = tar(&[(&too_long, b'0', b"", b"")]);
    check_limit(&input, &Options::default(), "max-path-len", 4096);
}

#[test]
fn a_lowered_pax_limit_is_a_limit_but_go_s_own_limit_is_docker_s() {
    let name = vec![b'n'; 3000];
    let input = tar(&[(b"first", b'0', b"", b""), (&name, b'0', b"", b"")]);
    let mut opts = Options::default();
    opts.read.max_pax_size = 1000;
    check_limit(&input, &opts, "max-pax-size", 1000);
}

#[test]
fn file_data_limit_is_checked_before_the_body_is_read() {
    // A header that claims 8 GiB with a few bytes behind it: the limit, not a truncation.
    let mut input = tar(&[(b"small", b'0', b"abc", b"")]);
    input.truncate(input.len() - 1024);
    input.extend_from_slice(&header(b"huge", b'0', (8 << 30) - 1, b""));
    input.extend_from_slice(&[7u8; 512]);
    let mut opts = Options::default();
    opts.unpack.max_data_bytes = 1 << 30;
    check_limit(&input, &opts, "max-data-bytes", 1 << 30);
}

#[test]
fn path_lookups_are_bounded_across_symlink_chains() {
    // A deep directory, a chain of symlinks to it, and entries created through the chain: each
    // one costs thousands of lookups (the kernel's work in Docker, too).
    let deep = vec![&b"d"[..]; 40].join(&b'/');
    let target = [b"/".to_vec(), deep.clone()].concat();
    let mut names: Vec<(Vec<u8>, u8, Vec<u8>)> = vec![(deep.clone(), b'5', Vec::new())];
    names.push((b"s0".to_vec(), b'2', target));
    for i in 1..30 {
        names.push((
            format!("s{i}").into_bytes(),
            b'2',
            format!("s{}", i - 1).into_bytes(),
        ));
    }
    for j in 0..50 {
        names.push((format!("s29/x{j}/f").into_bytes(), b'0', Vec::new()));
    }
    let entries: Vec<Entry<'_>> = names
        .iter()
        .map(|(n, t, l)| (n.as_slice(), *t, &b""[..], l.as_slice()))
        .collect();
    let input = tar(&entries);
    assert!(matches!(
        source::add(&input[..], &Options::default()),
        Ok(Added::Archive(a)) if a.outcome.is_ok()
    ));
    let mut opts = Options::default();
    opts.unpack.max_lookups = 5_000;
    check_limit(&input, &opts, "max-lookups", 5_000);
}

#[test]
fn xattrs_count_towards_the_metadata_limit() {
    // Each entry's xattr value is kept in the tree: a few compressible megabytes per entry
    // would otherwise add up to any amount of memory.
    let mut input = Vec::new();
    for i in 0..4 {
        let rec = pax_rec("SCHILY.xattr.user.big", &[b'v'; 3000]);
        input.extend(pax_entry(format!("f{i}").as_bytes(), &rec));
    }
    input.extend_from_slice(&[0u8; 1024]);
    assert!(matches!(
        source::add(&input[..], &Options::default()),
        Ok(Added::Archive(a)) if a.outcome.is_ok()
    ));
    let mut opts = Options::default();
    opts.unpack.max_meta_bytes = 10_000;
    check_limit(&input, &opts, "max-meta-bytes", 10_000);
}

/// A source whose decompression started before the unpack ([`source::Started`]) unpacks as
/// `add` unpacks it, limits included.
#[test]
fn a_source_started_early_unpacks_as_add_does() {
    let input = gzip(&tar(&[
        (b"a/", b'5', b"", b""),
        (b"a/b", b'0', b"body", b""),
        (b"c", b'1', b"", b"a/b"),
    ]));
    let run_started = |opts: &Options| {
        std::thread::scope(|s| {
            let started = source::Started::spawn(s, &input[..], &opts.decompress, 2).unwrap();
            assert!(started.fits(&opts.decompress));
            source::add_started(started, opts, &mut source::NoTap)
        })
    };
    let opts = Options::default();
    let want = format!("{:?}", source::add(&input[..], &opts).unwrap());
    assert_eq!(format!("{:?}", run_started(&opts).unwrap()), want);

    let mut small = Options::default();
    small.decompress.max_decompressed_bytes = Some(1000);
    match run_started(&small) {
        Err(Error::Limit(l)) => assert_eq!((l.limit, l.value), ("max-decompressed-bytes", 1000)),
        other => panic!("expected the decompression limit, got {other:?}"),
    }
}
