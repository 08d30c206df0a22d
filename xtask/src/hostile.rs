//! `cargo xtask hostile`: the hostile-input corpus (issue 8).
//!
//! * `--generate` writes `testdata/hostile/<case>.<ext>` and `testdata/hostile/cases.json` from
//!   the case table below (`--check` compares instead of writing). Large cases (10⁶ empty files)
//!   are marked `runtime` and made in a temporary directory at run time, never committed.
//! * Without flags, it builds the release `layerproof` and runs `layerproof inspect` (and
//!   `layerproof verify`, see [`run`]) on every
//!   case, checking the exit code, a substring of the output, and a wall-time and peak-RSS bound
//!   measured by GNU `time` around the child (the bounds are checked here, not in a unit test).
//!
//! Exit codes follow the CLI: 0 Docker accepts it (for a non-archive: copies the file as it is),
//! 1 Docker would refuse the `ADD`, 2 layerproof cannot or will not read it (I/O, limits).
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::tarw::{Header, Tar, pax_record, put_base256};

/// Default wall-time bound per case.
const WALL_LIMIT: Duration = Duration::from_secs(60);
/// Default peak-RSS bound per case, in KiB.
const RSS_LIMIT_KIB: u64 = 512 << 10;

/// One case of the corpus.
struct Case {
    name: &'static str,
    /// File name under `testdata/hostile/` (several cases may share a file).
    file: String,
    /// Extra arguments for `layerproof inspect`.
    args: Vec<&'static str>,
    /// Expected exit code.
    exit: u8,
    /// A substring of stdout + stderr.
    message: &'static str,
    /// What the case proves, and for exit 0 why Docker accepts it.
    why: &'static str,
    /// Made at run time, never committed.
    runtime: bool,
    /// Wall-time bound.
    wall: Duration,
    /// Peak-RSS bound, KiB.
    rss_kib: u64,
}

fn case(
    name: &'static str,
    file: &str,
    exit: u8,
    message: &'static str,
    why: &'static str,
) -> Case {
    Case {
        name,
        file: file.to_string(),
        args: Vec::new(),
        exit,
        message,
        why,
        runtime: false,
        wall: WALL_LIMIT,
        rss_kib: RSS_LIMIT_KIB,
    }
}

impl Case {
    fn args(mut self, args: &[&'static str]) -> Case {
        self.args = args.to_vec();
        self
    }
}

/// Compression formats for bombs and truncations.
#[derive(Clone, Copy)]
enum Z {
    Gzip,
    Xz,
    Bzip2,
    Zstd,
}

fn compress(z: Z, data: &[u8]) -> Result<Vec<u8>> {
    Ok(match z {
        Z::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            e.write_all(data)?;
            e.finish()?
        }
        Z::Xz => {
            let mut e = liblzma::write::XzEncoder::new(Vec::new(), 9);
            e.write_all(data)?;
            e.finish()?
        }
        Z::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
            e.write_all(data)?;
            e.finish()?
        }
        Z::Zstd => zstd::stream::encode_all(data, 19)?,
    })
}

fn file_entry(t: &mut Tar, name: &str) {
    t.file(name, 0o644, b"");
}

/// A tar whose first entry is fine (so Docker treats it as an archive) followed by `rest`.
fn after_first(rest: impl FnOnce(&mut Tar)) -> Vec<u8> {
    let mut t = Tar::new();
    t.file("etc/ok", 0o644, b"fine\n");
    rest(&mut t);
    t.finish()
}

/// A tar with a broken second header: `patch` edits the header bytes.
fn broken_second(h: Header, data: &[u8]) -> Vec<u8> {
    let mut t = Tar::new();
    t.file("etc/ok", 0o644, b"fine\n");
    t.raw(&h, data);
    t.finish()
}

/// Every committed file: name → bytes.
fn files() -> Result<Vec<(String, Vec<u8>)>> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    // Zero bombs: one entry claiming 8 GiB - 1 (the largest octal size), then 32 MiB of zeros.
    let mut bomb = Header::new("zeros", b'0', 0o644).encode().to_vec();
    {
        let mut h = Header::new("zeros", b'0', 0o644);
        h.size = (8 << 30) - 1;
        bomb.copy_from_slice(&h.encode());
    }
    bomb.resize(32 << 20, 0);
    for (z, ext) in [
        (Z::Gzip, "gz"),
        (Z::Xz, "xz"),
        (Z::Bzip2, "bz2"),
        (Z::Zstd, "zst"),
    ] {
        out.push((format!("bomb.tar.{ext}"), compress(z, &bomb)?));
    }
    // Nothing but zeros: the tar reader sees the end-of-archive marker at once.
    out.push((
        "bomb-only-zeros.tar.gz".into(),
        compress(Z::Gzip, &vec![0u8; 32 << 20])?,
    ));
    // Lying size fields.
    let mut h = Header::new("big-octal", b'0', 0o644);
    h.size = 0o77777777777;
    out.push((
        "size-octal-lies.tar".into(),
        broken_second(h, b"only a few bytes"),
    ));
    let mut h = Header::new("big-base256", b'0', 0o644);
    h.size = 1 << 40;
    out.push((
        "size-base256-terabyte.tar".into(),
        broken_second(h, b"only a few bytes"),
    ));
    let mut field = [0u8; 12];
    put_base256(&mut field, 1 << 34);
    let mut h = Header::new("big-base256-small-limit", b'0', 0o644);
    h.patches.push((124, field.to_vec()));
    out.push((
        "size-base256-16g.tar".into(),
        broken_second(h, b"only a few bytes"),
    ));
    let mut overflow = [0xffu8; 12];
    overflow[0] = 0x80;
    let h = Header::new("overflow", b'0', 0o644).patch(124, &overflow);
    out.push(("size-base256-overflow.tar".into(), broken_second(h, b"")));
    let negative = [0xffu8; 12];
    let h = Header::new("negative", b'0', 0o644).patch(124, &negative);
    out.push(("size-negative.tar".into(), broken_second(h, b"")));
    let h = Header::new("not-octal", b'0', 0o644).patch(124, b"12345678x01\0");
    out.push(("size-not-octal.tar".into(), broken_second(h, b"")));
    // Truncated streams.
    let mut t = Tar::new();
    t.file("etc/a", 0o644, &[b'a'; 3000]);
    t.file("etc/b", 0o644, &[b'b'; 3000]);
    let full = t.finish();
    out.push(("truncated-body.tar".into(), full[..2048].to_vec()));
    out.push(("truncated-header.tar".into(), full[..4096 + 300].to_vec()));
    let mut noisy = Tar::new();
    for i in 0..64 {
        // Incompressible-ish bodies so that the cut lands inside the data.
        let body: Vec<u8> = (0..4096u32)
            .map(|j| (j.wrapping_mul(2_654_435_761).wrapping_add(i) >> 13) as u8)
            .collect();
        noisy.file(&format!("data/f{i:02}"), 0o644, &body);
    }
    let noisy = noisy.finish();
    for (z, ext) in [
        (Z::Gzip, "gz"),
        (Z::Xz, "xz"),
        (Z::Bzip2, "bz2"),
        (Z::Zstd, "zst"),
    ] {
        let c = compress(z, &noisy)?;
        out.push((format!("truncated.tar.{ext}"), c[..c.len() / 2].to_vec()));
    }
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(1));
    e.write_all(&noisy)?;
    let c = e.finish()?;
    out.push((
        "truncated-100k-blocks.tar.bz2".into(),
        c[..c.len() * 3 / 4].to_vec(),
    ));
    // Checksums.
    let h = Header::new("bad-sum", b'0', 0o644).patch(148, b"0000000\0");
    out.push(("checksum-bad.tar".into(), broken_second(h, b"")));
    let mut t = Tar::new();
    t.raw(
        &Header::new("bad-sum", b'0', 0o644).patch(148, b"0000000\0"),
        b"",
    );
    out.push(("checksum-bad-first.tar".into(), t.finish()));
    // PAX records with wrong lengths.
    for (name, rec) in [
        ("pax-length-too-long.tar", b"99 path=foo\n".to_vec()),
        ("pax-length-too-short.tar", b"5 path=foo\n".to_vec()),
        ("pax-length-not-a-number.tar", b"1x path=foo\n".to_vec()),
        (
            "pax-length-huge.tar",
            b"99999999999999999999 path=a\n".to_vec(),
        ),
        ("pax-no-equals.tar", b"10 pathfoo\n".to_vec()),
    ] {
        out.push((
            name.into(),
            after_first(|t| {
                t.entry(Header::new("PaxHeaders/x", b'x', 0o644), &rec);
                file_entry(t, "x");
            }),
        ));
    }
    // A PAX header and a GNU long name over Go's 1 MiB limit (gzip keeps the files small).
    let big = vec![b'p'; (1 << 20) + 100];
    let pax_big = after_first(|t| {
        t.entry(
            Header::new("PaxHeaders/big", b'x', 0o644),
            &pax_record("comment", &big),
        );
        file_entry(t, "after-big-pax");
    });
    out.push(("pax-over-1mib.tar.gz".into(), compress(Z::Gzip, &pax_big)?));
    let gnu_big = after_first(|t| {
        let mut name = vec![b'n'; (1 << 20) + 100];
        name.push(0);
        t.entry(Header::new("././@LongLink", b'L', 0o644), &name);
        file_entry(t, "short");
    });
    out.push((
        "gnu-longname-over-1mib.tar.gz".into(),
        compress(Z::Gzip, &gnu_big)?,
    ));
    // NUL and non-UTF-8 in names.
    out.push((
        "name-nul-in-pax-path.tar".into(),
        after_first(|t| {
            t.with_pax(
                &[("path", b"etc/nul\0hidden")],
                Header::new("etc/nul", b'0', 0o644),
                b"",
            )
        }),
    ));
    out.push((
        "name-nul-in-ustar-name.tar".into(),
        after_first(|t| {
            let mut h = Header::new("", b'0', 0o644);
            h.name = b"etc/visible\0hidden".to_vec();
            t.entry(h, b"x");
        }),
    ));
    out.push((
        "name-non-utf8.tar".into(),
        after_first(|t| {
            let mut h = Header::new("", b'0', 0o644);
            h.name = b"etc/\xff\xfe\xc3(latin1-\xe9)".to_vec();
            t.entry(h, b"x");
            let mut l = Header::new("", b'2', 0o777);
            l.name = b"etc/link-\x80".to_vec();
            l.linkname = b"\xff\xfe".to_vec();
            t.entry(l, b"");
        }),
    ));
    // Very deep and very long paths.
    let deep = vec!["d"; 1500].join("/");
    out.push((
        "path-deep.tar".into(),
        after_first(|t| {
            t.with_pax(
                &[("path", deep.as_bytes())],
                Header::new("deep", b'0', 0o644),
                b"",
            )
        }),
    ));
    let long = vec!["x".repeat(200); 25].join("/");
    out.push((
        "path-long.tar".into(),
        after_first(|t| {
            t.with_pax(
                &[("path", long.as_bytes())],
                Header::new("long", b'0', 0o644),
                b"",
            )
        }),
    ));
    let long_target = "/".to_string() + &"t".repeat(5000);
    out.push((
        "symlink-target-long.tar".into(),
        after_first(|t| {
            t.with_pax(
                &[("linkpath", long_target.as_bytes())],
                Header::new("etc/longlink", b'2', 0o777),
                b"",
            )
        }),
    ));
    let dotdots = vec![".."; 1000].join("/") + "/etc/dotdot";
    out.push((
        "path-dotdot-storm.tar".into(),
        after_first(|t| {
            t.with_pax(
                &[("path", dotdots.as_bytes())],
                Header::new("dd", b'0', 0o644),
                b"",
            )
        }),
    ));
    // Symlink loops and escapes.
    out.push((
        "symlink-loop.tar".into(),
        after_first(|t| {
            t.symlink("loop/a", "b");
            t.symlink("loop/b", "a");
            file_entry(t, "loop/a/file");
        }),
    ));
    out.push((
        "symlink-self.tar".into(),
        after_first(|t| {
            t.symlink("self", "self");
            file_entry(t, "self/file");
        }),
    ));
    out.push((
        "symlink-escape-relative.tar".into(),
        after_first(|t| {
            t.symlink("etc/esc", "../../../../../../host-etc");
            t.dir("host-etc/", 0o755);
            file_entry(t, "etc/esc/passwd");
        }),
    ));
    out.push((
        "symlink-escape-absolute.tar".into(),
        after_first(|t| {
            t.symlink("etc/abs", "/");
            file_entry(t, "etc/abs/root-file");
        }),
    ));
    out.push((
        "symlink-escape-dangling.tar".into(),
        after_first(|t| {
            t.symlink("etc/dangling", "/nonexistent/dir");
            file_entry(t, "etc/dangling/file");
        }),
    ));
    out.push((
        "dotdot-escape.tar".into(),
        after_first(|t| {
            file_entry(t, "../../../../tmp/evil");
            file_entry(t, "/abs/evil");
        }),
    ));
    // Hard links to directories and to themselves.
    out.push((
        "hardlink-to-dir.tar".into(),
        after_first(|t| {
            t.dir("dir/", 0o755);
            t.hardlink("dir-link", "dir", 0o755);
        }),
    ));
    out.push((
        "hardlink-to-self.tar".into(),
        after_first(|t| {
            t.file("self", 0o644, b"x");
            t.hardlink("self", "self", 0o644);
        }),
    ));
    out.push((
        "hardlink-to-root.tar".into(),
        after_first(|t| t.hardlink("rootlink", "/", 0o644)),
    ));
    out.push((
        "hardlink-through-symlink-escape.tar".into(),
        after_first(|t| {
            t.symlink("up", "../../..");
            t.hardlink("passwd", "up/etc/ok", 0o644);
        }),
    ));
    // Names created through a chain of 40 symlinks to a 1000-deep directory, each with 1000
    // missing parents: every entry costs over a million path lookups (as it costs the kernel
    // under Docker), so the total is bounded by the lookup limit.
    let deep = vec!["d"; 1000].join("/");
    let storm = after_first(|t| {
        t.with_pax(
            &[("path", deep.as_bytes())],
            Header::new("deep/", b'5', 0o755),
            b"",
        );
        t.with_pax(
            &[("linkpath", format!("/{deep}").as_bytes())],
            Header::new("s0", b'2', 0o777),
            b"",
        );
        for i in 1..40 {
            t.symlink(&format!("s{i}"), &format!("s{}", i - 1));
        }
        let tail = vec!["m"; 1000].join("/");
        for j in 0..1000 {
            let name = format!("s39/x{j}/{tail}/f");
            t.with_pax(
                &[("path", name.as_bytes())],
                Header::new("f", b'0', 0o644),
                b"",
            );
        }
    });
    out.push((
        "symlink-chain-storm.tar.gz".into(),
        compress(Z::Gzip, &storm)?,
    ));
    // Extended attributes of almost 1 MiB on each of 40 entries: kept in memory per inode.
    let xattrs = after_first(|t| {
        let value = vec![b'v'; (1 << 20) - 100];
        for i in 0..40 {
            t.with_pax(
                &[("SCHILY.xattr.user.big", &value)],
                Header::new(&format!("x/f{i}"), b'0', 0o644),
                b"",
            );
        }
    });
    out.push(("xattr-bomb.tar.zst".into(), compress(Z::Zstd, &xattrs)?));
    // Directory/file replacement storm: each round a directory with children, then a file.
    out.push((
        "replace-storm.tar.gz".into(),
        compress(
            Z::Gzip,
            &after_first(|t| {
                for round in 0..3000 {
                    t.dir("storm/", 0o755);
                    file_entry(t, &format!("storm/child{}", round % 7));
                    t.file("storm", 0o644, b"f");
                }
            }),
        )?,
    ));
    // Garbage named .tar.gz, and empty files.
    let garbage: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_246_822_519).rotate_left(13) >> 7) as u8)
        .collect();
    out.push(("garbage.tar.gz".into(), garbage.clone()));
    let mut gz_garbage = vec![0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0, 0, 3];
    gz_garbage.extend_from_slice(&garbage);
    out.push(("garbage-gzip-magic.tar.gz".into(), gz_garbage));
    out.push(("empty.tar".into(), Vec::new()));
    out.push(("empty.tar.gz".into(), compress(Z::Gzip, b"")?));
    out.push(("only-end-of-archive.tar".into(), vec![0u8; 1024]));
    // Sparse entry whose holes claim a terabyte (PAX GNU sparse 1.0, map at the data start).
    out.push((
        "sparse-terabyte.tar".into(),
        after_first(|t| {
            let map = b"1\n0\n5\n";
            let mut data = map.to_vec();
            data.resize(512, 0);
            data.extend_from_slice(b"hello");
            t.with_pax(
                &[
                    ("GNU.sparse.major", b"1"),
                    ("GNU.sparse.minor", b"0"),
                    ("GNU.sparse.name", b"sparse"),
                    ("GNU.sparse.realsize", b"1099511627776"),
                ],
                Header::new("GNUSparseFile.0/sparse", b'0', 0o644),
                &data,
            )
        }),
    ));
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// 10⁶ empty files in 1000 directories (made at run time: ~1 GB of tar).
const MANY: usize = 1_000_000;

fn write_many_empty(path: &Path) -> Result<()> {
    let f = fs::File::create(path)?;
    let mut w = std::io::BufWriter::new(f);
    for d in 0..1000 {
        let mut t = Tar::new();
        t.dir(&format!("d{d:03}/"), 0o755);
        for i in 0..MANY / 1000 {
            t.file(&format!("d{d:03}/f{i:04}"), 0o644, b"");
        }
        w.write_all(&t.buf)?;
    }
    w.write_all(&[0u8; 1024])?;
    w.flush()?;
    Ok(())
}

fn cases() -> Vec<Case> {
    let mut v = Vec::new();
    for ext in ["gz", "xz", "bz2", "zst"] {
        let file = format!("bomb.tar.{ext}");
        v.push(Case {
            file: file.clone(),
            ..case(
                leak(format!("bomb-{ext}")),
                "",
                2,
                "max-decompressed-bytes limit of 4194304 bytes (raise it with \
                 --max-decompressed-bytes)",
                "a zero bomb (32 MiB of zeros behind a header claiming 8 GiB) stops at the \
                 decompression limit with an error naming it",
            )
            .args(&["--max-decompressed-bytes", "4M"])
        });
        v.push(Case {
            file,
            ..case(
                leak(format!("bomb-{ext}-default-limits")),
                "",
                1,
                "unexpected end of stream: the archive is truncated",
                "with the default limits the whole bomb is read in bounded memory (bodies \
                 spill to a temporary file) and Docker's own outcome, a truncated archive, \
                 is reported",
            )
        });
    }
    v.extend([
        case(
            "bomb-only-zeros",
            "bomb-only-zeros.tar.gz",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: a stream of zeros is an empty tar, so IsArchivePath says no \
             and ADD copies the file as it is; only the first 1024 bytes are decompressed",
        ),
        case(
            "size-octal-lies",
            "size-octal-lies.tar",
            1,
            "unexpected end of stream",
            "an octal size of 8 GiB with a few bytes behind it: Docker fails on the \
             truncated body",
        ),
        case(
            "size-base256-terabyte",
            "size-base256-terabyte.tar",
            2,
            "over the max-data-bytes limit of 68719476736 (raise it with --max-data-bytes)",
            "a base-256 size of 1 TiB is refused before any body is read",
        ),
        case(
            "size-base256-16g",
            "size-base256-16g.tar",
            1,
            "unexpected end of stream",
            "a base-256 size of 16 GiB (under the data limit) with a few bytes: truncated",
        ),
        case(
            "size-base256-overflow",
            "size-base256-overflow.tar",
            1,
            "invalid numeric field",
            "a base-256 size that overflows int64 makes the header invalid, as in Go",
        ),
        case(
            "size-negative",
            "size-negative.tar",
            1,
            "negative size",
            "a negative base-256 size (-1) is an invalid header, as in Go",
        ),
        case(
            "size-not-octal",
            "size-not-octal.tar",
            1,
            "invalid numeric field",
            "a size field with a non-octal digit is an invalid header",
        ),
        case(
            "truncated-body",
            "truncated-body.tar",
            1,
            "unexpected end of stream",
            "the stream ends inside the first file's data",
        ),
        case(
            "truncated-header",
            "truncated-header.tar",
            1,
            "unexpected end of stream",
            "the stream ends inside the second header block",
        ),
        case(
            "truncated-gzip",
            "truncated.tar.gz",
            1,
            "gzip stream",
            "a gzip stream cut in half: the decoder's error, named after the format",
        ),
        case(
            "truncated-xz",
            "truncated.tar.xz",
            1,
            "xz stream",
            "an xz stream cut in half",
        ),
        case(
            "truncated-bzip2",
            "truncated.tar.bz2",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: a bzip2 stream cut inside its first block yields no byte, so \
             the first tar header cannot be read, IsArchivePath says no and ADD copies the file",
        ),
        case(
            "truncated-bzip2-later-block",
            "truncated-100k-blocks.tar.bz2",
            1,
            "bzip2 stream",
            "a bzip2 stream (100 kB blocks) cut after its first block: the decoder's error",
        ),
        case(
            "truncated-zstd",
            "truncated.tar.zst",
            1,
            "zstd stream",
            "a zstd stream cut in half",
        ),
        case(
            "checksum-bad",
            "checksum-bad.tar",
            1,
            "checksum mismatch",
            "the second header's checksum is wrong: Docker's Untar fails",
        ),
        case(
            "checksum-bad-first",
            "checksum-bad-first.tar",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: the first header does not parse, so IsArchivePath says no \
             and ADD copies the file as it is",
        ),
        case(
            "pax-length-too-long",
            "pax-length-too-long.tar",
            1,
            "malformed PAX record",
            "a PAX record whose length runs past the header's data",
        ),
        case(
            "pax-length-too-short",
            "pax-length-too-short.tar",
            1,
            "malformed PAX record",
            "a PAX record length shorter than its own text",
        ),
        case(
            "pax-length-not-a-number",
            "pax-length-not-a-number.tar",
            1,
            "malformed PAX record",
            "a PAX record length that is not decimal",
        ),
        case(
            "pax-length-huge",
            "pax-length-huge.tar",
            1,
            "malformed PAX record",
            "a PAX record length beyond int64",
        ),
        case(
            "pax-no-equals",
            "pax-no-equals.tar",
            1,
            "malformed PAX record",
            "a PAX record without '='",
        ),
        case(
            "pax-over-1mib",
            "pax-over-1mib.tar.gz",
            1,
            "PAX extended header is larger than the max-pax-size limit of 1048576 bytes",
            "a PAX header over Go's 1 MiB limit: Go's archive/tar, and so Docker, fails",
        ),
        case(
            "pax-over-lowered-limit",
            "pax-over-1mib.tar.gz",
            2,
            "max-pax-size limit of 65536 bytes (Go's archive/tar, and so Docker, refuses more \
             than 1048576; raise it with --max-pax-size)",
            "a PAX header over a limit lowered below Go's is our limit (exit 2), named with \
             its flag",
        )
        .args(&["--max-pax-size", "64K"]),
        case(
            "gnu-longname-over-1mib",
            "gnu-longname-over-1mib.tar.gz",
            1,
            "GNU long name or link is larger than the max-long-name-size limit of 1048576",
            "a GNU long name over Go's 1 MiB limit: Docker fails",
        ),
        case(
            "name-nul-in-pax-path",
            "name-nul-in-pax-path.tar",
            1,
            "malformed PAX record",
            "a NUL inside a PAX path is an invalid record, as in Go",
        ),
        case(
            "name-nul-in-ustar-name",
            "name-nul-in-ustar-name.tar",
            0,
            "buildable: yes",
            "exit 0 as in Docker: a ustar name field ends at its first NUL (`etc/visible`)",
        ),
        case(
            "name-non-utf8",
            "name-non-utf8.tar",
            0,
            "buildable: yes",
            "exit 0 as in Docker: Linux names are bytes; non-UTF-8 names and link targets \
             are extracted as they are and shown lossily",
        ),
        case(
            "path-deep",
            "path-deep.tar",
            2,
            "over the max-depth limit of 1024 (raise it with --max-depth)",
            "1500 path components stop at the depth limit",
        ),
        case(
            "path-long",
            "path-long.tar",
            2,
            "over the max-path-len limit of 4096 (raise it with --max-path-len)",
            "a 5024-byte name (longer than Linux's PATH_MAX) stops at the path limit",
        ),
        case(
            "symlink-target-long",
            "symlink-target-long.tar",
            2,
            "link target is 5001 bytes long: over the max-path-len limit of 4096 (raise it with \
             --max-path-len)",
            "a 5001-byte symlink target stops at the path limit",
        ),
        case(
            "path-dotdot-storm",
            "path-dotdot-storm.tar",
            0,
            "name-cleaned",
            "exit 0 as in Docker: 1000 `..` components clamp at the root (Docker's chroot), \
             reported as a cleaned name",
        ),
        case(
            "symlink-loop",
            "symlink-loop.tar",
            1,
            "too many levels of symbolic links",
            "a -> b -> a, then a/file: the kernel's ELOOP fails the build",
        ),
        case(
            "symlink-self",
            "symlink-self.tar",
            1,
            "too many levels of symbolic links",
            "self -> self, then self/file: ELOOP",
        ),
        case(
            "symlink-escape-relative",
            "symlink-escape-relative.tar",
            0,
            "symlink-climbs-above-root",
            "exit 0 as in Docker: `..` clamps at the chroot's root, so etc/esc/passwd lands in \
             /host-etc inside the image, never outside; reported as a hazard",
        ),
        case(
            "symlink-escape-absolute",
            "symlink-escape-absolute.tar",
            0,
            "buildable: yes",
            "exit 0 as in Docker: an absolute target resolves from the image's root, so \
             etc/abs/root-file lands at /root-file inside the image",
        ),
        case(
            "symlink-escape-dangling",
            "symlink-escape-dangling.tar",
            1,
            "no such file or directory",
            "writing through a symlink to a missing directory is ENOENT in Docker",
        ),
        case(
            "dotdot-escape",
            "dotdot-escape.tar",
            0,
            "name-cleaned",
            "exit 0 as in Docker: ../../tmp/evil and /abs/evil are cleaned to tmp/evil and \
             abs/evil inside the image",
        ),
        case(
            "hardlink-to-dir",
            "hardlink-to-dir.tar",
            1,
            "operation not permitted",
            "a hard link to a directory is EPERM",
        ),
        case(
            "hardlink-to-self",
            "hardlink-to-self.tar",
            1,
            "no such file or directory",
            "a hard link to its own name: Docker removes the name first, then link(2) fails \
             with ENOENT",
        ),
        case(
            "hardlink-to-root",
            "hardlink-to-root.tar",
            1,
            "operation not permitted",
            "a hard link to / is EPERM",
        ),
        case(
            "hardlink-through-symlink-escape",
            "hardlink-through-symlink-escape.tar",
            0,
            "buildable: yes",
            "exit 0 as in Docker: the link target up/etc/ok resolves through a symlink that \
             climbs above the root, which clamps at the image's root: it links /etc/ok",
        ),
        Case {
            wall: Duration::from_secs(150),
            ..case(
                "symlink-chain-storm",
                "symlink-chain-storm.tar.gz",
                2,
                "over the max-lookups limit of 500000000 (raise it with --max-lookups)",
                "1000 names, each created through 40 chained symlinks below 1000 missing \
                 parents (a 17 KB file): the lookup limit ends it in bounded time (some 20-60 s)",
            )
        },
        case(
            "symlink-chain-storm-lowered",
            "symlink-chain-storm.tar.gz",
            2,
            "over the max-lookups limit of 10000000 (raise it with --max-lookups)",
            "the same under a lowered lookup limit stops within a second",
        )
        .args(&["--max-lookups", "10000000"]),
        case(
            "xattr-bomb",
            "xattr-bomb.tar.zst",
            2,
            "over the max-meta-bytes limit of 16777216 (raise it with --max-meta-bytes)",
            "40 MiB of extended attributes (kept per inode in memory) stop at a lowered \
             metadata limit",
        )
        .args(&["--max-meta-bytes", "16M"]),
        case(
            "xattr-bomb-default-limits",
            "xattr-bomb.tar.zst",
            0,
            "xattr-dropped",
            "exit 0 as in Docker (user.* xattrs are set on disk, never written to a layer): \
             40 MiB of xattrs fit the default limits and memory bound",
        ),
        case(
            "replace-storm",
            "replace-storm.tar.gz",
            0,
            "subtree-replaced",
            "exit 0 as in Docker: 3000 rounds of directory-with-child replaced by a file end in \
             bounded time; each replacement is reported",
        ),
        case(
            "garbage",
            "garbage.tar.gz",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: garbage named .tar.gz has no magic and no tar header, so ADD \
             copies it as a file",
        ),
        case(
            "garbage-gzip-magic",
            "garbage-gzip-magic.tar.gz",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: gzip magic with garbage behind it fails before the first \
             header, so ADD copies it as a file",
        ),
        case(
            "empty",
            "empty.tar",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: an empty file is not an archive and is copied",
        ),
        case(
            "empty-gzip",
            "empty.tar.gz",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: an empty gzip stream is not an archive",
        ),
        case(
            "only-end-of-archive",
            "only-end-of-archive.tar",
            0,
            "NOT AN ARCHIVE",
            "exit 0 as in Docker: two zero blocks are an archive without entries, which \
             IsArchivePath does not count as one",
        ),
        case(
            "sparse-terabyte",
            "sparse-terabyte.tar",
            2,
            "over the max-data-bytes limit of 68719476736 (raise it with --max-data-bytes)",
            "a 2 KiB sparse entry whose holes claim 1 TiB stops before expanding anything",
        ),
        Case {
            runtime: true,
            wall: Duration::from_secs(240),
            rss_kib: 2 << 20,
            ..case(
                "many-empty-files",
                "many-empty-files.tar",
                0,
                "entries: 1001000 (directory 1000, file 1000000)",
                "10⁶ empty files (generated at run time, ~1 GB) in bounded time and memory",
            )
        },
        Case {
            runtime: true,
            ..case(
                "many-empty-files-limit",
                "many-empty-files.tar",
                2,
                "over the max-entries limit of 1000 (raise it with --max-entries)",
                "the same archive under a lowered entry limit stops at once",
            )
            .args(&["--max-entries", "1000"])
        },
    ]);
    v
}

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

fn manifest(cases: &[Case]) -> Value {
    json!({
        "generator": "cargo xtask hostile --generate",
        "runner": "cargo xtask hostile",
        "command": "layerproof inspect [ARGS] FILE",
        "exit_codes": "0 Docker accepts it (a non-archive is copied as a file), 1 Docker would refuse the ADD, 2 layerproof cannot or will not read it (I/O error, limit)",
        "cases": cases.iter().map(|c| json!({
            "name": c.name,
            "file": c.file,
            "args": c.args,
            "exit": c.exit,
            "message": c.message,
            "why": c.why,
            "runtime": c.runtime,
            "wall_seconds": c.wall.as_secs(),
            "max_rss_kib": c.rss_kib,
        })).collect::<Vec<_>>(),
    })
}

/// `--generate` / `--check`.
pub fn generate(dir: &Path, check: bool) -> Result<()> {
    let files = files()?;
    let cases = cases();
    for c in cases.iter().filter(|c| !c.runtime) {
        if !files.iter().any(|(n, _)| *n == c.file) {
            bail!(
                "case {} names {} which the generator does not make",
                c.name,
                c.file
            );
        }
    }
    let mut json = serde_json::to_string_pretty(&manifest(&cases))?;
    json.push('\n');
    let mut all = files;
    all.push(("cases.json".into(), json.into_bytes()));
    let mut stale = Vec::new();
    if !check {
        fs::create_dir_all(dir)?;
    }
    for (name, bytes) in &all {
        let path = dir.join(name);
        if check {
            let have = fs::read(&path).unwrap_or_default();
            if have != *bytes {
                stale.push(name.clone());
            }
        } else {
            fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    for e in fs::read_dir(dir)? {
        let name = e?.file_name().to_string_lossy().into_owned();
        if !all.iter().any(|(n, _)| *n == name) {
            if check {
                stale.push(format!("{name} (not made by the generator)"));
            } else {
                fs::remove_file(dir.join(&name))?;
            }
        }
    }
    if !stale.is_empty() {
        bail!(
            "testdata/hostile differs from the generator: {}; run `cargo xtask hostile --generate`",
            stale.join(", ")
        );
    }
    let size: usize = all.iter().map(|(_, b)| b.len()).sum();
    println!(
        "{} {} files ({size} bytes) in {}",
        if check { "checked" } else { "wrote" },
        all.len(),
        dir.display()
    );
    Ok(())
}

/// Build the release binary and return its path.
fn build_release(repo: &Path) -> Result<PathBuf> {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo)
        .args([
            "build",
            "--release",
            "--locked",
            "-q",
            "-p",
            "layerproof-cli",
        ])
        .status()
        .context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --release failed");
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { repo.join(p) })
        .unwrap_or_else(|| repo.join("target"));
    let bin = target.join("release/layerproof");
    if !bin.exists() {
        bail!("{} was not built", bin.display());
    }
    Ok(bin)
}

struct Run {
    code: Option<i32>,
    output: String,
    wall: Duration,
    rss_kib: u64,
    timed_out: bool,
}

/// Run `layerproof ARGS` under GNU time, killing it at the wall bound.
fn run_case(bin: &Path, time_bin: &Path, args: &[String], wall: Duration) -> Result<Run> {
    let work = tempfile::tempdir()?;
    let stats = work.path().join("time");
    let out_path = work.path().join("out");
    let out = fs::File::create(&out_path)?;
    let start = Instant::now();
    let mut child = Command::new(time_bin)
        .arg("-f")
        .arg("%e %M")
        .arg("-o")
        .arg(&stats)
        .arg(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("running {}", time_bin.display()))?;
    let mut timed_out = false;
    let status = loop {
        if let Some(s) = child.try_wait()? {
            break s;
        }
        if start.elapsed() > wall {
            timed_out = true;
            child.kill()?;
            break child.wait()?;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let mut output = String::new();
    fs::File::open(&out_path)?
        .take(1 << 20)
        .read_to_string(&mut output)
        .ok();
    let text = fs::read_to_string(&stats).unwrap_or_default();
    // The format line is the last one ("Command exited with non-zero status N" may precede it).
    let last = text.lines().last().unwrap_or("");
    let rss_kib = last
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // GNU time exits with the command's status.
    let code = if timed_out { None } else { status.code() };
    Ok(Run {
        code,
        output,
        wall: elapsed,
        rss_kib,
        timed_out,
    })
}

/// Run every case (or the named ones); print one line each and a summary.
pub fn run(repo: &Path, only: &[String]) -> Result<ExitCode> {
    let dir = repo.join("testdata/hostile");
    generate(&dir, true).context("the committed corpus must match the generator")?;
    let time_bin = PathBuf::from("/usr/bin/time");
    if !time_bin.exists() {
        bail!("/usr/bin/time (GNU time, Debian package `time`) is needed to measure peak RSS");
    }
    let bin = build_release(repo)?;
    // `layerproof verify` runs each case too: the case as the one ADD of a scratch Dockerfile,
    // against an unrelated committed image, so the expected exit is 2 where inspect's is 2
    // (with the same message) and 1 otherwise (Docker refuses, or the layer differs). Only
    // cases without extra flags (verify does not take the limit flags yet) and without the
    // run-time 10⁶-file archive.
    let has_verify = Command::new(&bin)
        .args(["verify", "--help"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let image = repo.join("testdata/image/docker-20.10.tar");
    let work = tempfile::tempdir()?;
    let cases = cases();
    let selected: Vec<&Case> = cases
        .iter()
        .filter(|c| only.is_empty() || only.iter().any(|n| n == c.name))
        .collect();
    for n in only {
        if !cases.iter().any(|c| c.name == n) {
            bail!("unknown case {n:?}; see testdata/hostile/cases.json");
        }
    }
    let (mut passed, mut failed) = (0, 0);
    for c in selected {
        let file = if c.runtime {
            let p = work.path().join(&c.file);
            if !p.exists() {
                write_many_empty(&p)?;
            }
            p
        } else {
            dir.join(&c.file)
        };
        let mut args: Vec<String> = vec!["inspect".into()];
        args.extend(c.args.iter().map(|a| a.to_string()));
        args.push(file.display().to_string());
        let ok = check(
            c,
            c.name,
            c.exit,
            &run_case(&bin, &time_bin, &args, c.wall)?,
        );
        if ok {
            passed += 1
        } else {
            failed += 1
        }
        if has_verify && c.args.is_empty() && !c.runtime {
            let ctx = work.path().join(format!("verify-{}", c.name));
            fs::create_dir_all(&ctx)?;
            fs::copy(&file, ctx.join(&c.file))?;
            let dockerfile = ctx.join("Dockerfile");
            fs::write(&dockerfile, format!("FROM scratch\nADD {} /\n", c.file))?;
            let args: Vec<String> = vec![
                "verify".into(),
                "--quiet".into(),
                "--no-cache".into(),
                "--platform".into(),
                "linux/amd64".into(),
                "--dockerfile".into(),
                dockerfile.display().to_string(),
                "--image".into(),
                format!("docker-archive:{}", image.display()),
            ];
            let want = if c.exit == 2 { 2 } else { 1 };
            let name = format!("verify:{}", c.name);
            let ok = check(c, &name, want, &run_case(&bin, &time_bin, &args, c.wall)?);
            if ok { passed += 1 } else { failed += 1 }
        }
    }
    if !has_verify {
        println!("(this layerproof has no `verify` command: only `inspect` was run)");
    }
    println!("\nhostile corpus: {passed} passed, {failed} failed");
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Check one run against the case: exit code, message (for inspect, and for limit errors),
/// bounds, no panic. Prints one line; true when it passed.
fn check(c: &Case, name: &str, want_exit: u8, r: &Run) -> bool {
    let mut problems = Vec::new();
    if r.timed_out {
        problems.push(format!("killed after {:?} (bound {:?})", r.wall, c.wall));
    }
    if r.code != Some(i32::from(want_exit)) {
        problems.push(format!("exit {:?}, expected {want_exit}", r.code));
    }
    if (want_exit == c.exit || want_exit == 2) && !r.output.contains(c.message) {
        problems.push(format!("output lacks {:?}", c.message));
    }
    if r.rss_kib > c.rss_kib {
        problems.push(format!("peak RSS {} KiB over {} KiB", r.rss_kib, c.rss_kib));
    }
    if r.output.contains("panicked") {
        problems.push("panicked".into());
    }
    let head = format!(
        "{:<43} exit {} {:>7.2}s {:>7} KiB",
        name,
        r.code.map_or("-".to_string(), |c| c.to_string()),
        r.wall.as_secs_f64(),
        r.rss_kib
    );
    if problems.is_empty() {
        println!("ok     {head}");
        true
    } else {
        println!("FAILED {head}: {}", problems.join("; "));
        for line in r.output.lines().take(8) {
            println!("         | {line}");
        }
        false
    }
}
