//! `cargo xtask gen-testdata`: the edge-case rootfs tarballs, one case per Docker ADD/layer rule.
//!
//! Every case is built in memory from [`crate::tarw`] headers, so the output is a pure function of
//! this file (and of the pinned compressor crates). Cases are named after the rule they exercise;
//! `rule` cites docker-layer-spec.md / oracle-notes.md and `expect` says what the spec predicts, so
//! the oracle summary can put the prediction next to what the engines really did.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::tarw::{Header, Magic, T0, Tar};

/// One generated input.
pub struct Case {
    pub name: &'static str,
    /// The rule exercised (spec section or oracle note).
    pub rule: &'static str,
    /// What the spec / oracle notes predict.
    pub expect: &'static str,
    /// File extension after the case name (`tar`, `tar.gz`, …).
    pub ext: &'static str,
    pub bytes: Vec<u8>,
}

impl Case {
    pub fn file_name(&self) -> String {
        format!("{}.{}", self.name, self.ext)
    }

    pub fn dockerfile(&self) -> String {
        format!(
            "FROM scratch\nADD {} /\nCMD [\"/bin/sh\"]\n",
            self.file_name()
        )
    }
}

fn tar(f: impl FnOnce(&mut Tar)) -> Vec<u8> {
    let mut t = Tar::new();
    f(&mut t);
    t.finish()
}

fn case(name: &'static str, rule: &'static str, expect: &'static str, bytes: Vec<u8>) -> Case {
    Case {
        name,
        rule,
        expect,
        ext: "tar",
        bytes,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .mtime(0)
        .operating_system(255)
        .write(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(9));
    e.write_all(data).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

fn xz(data: &[u8]) -> Vec<u8> {
    let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
    e.write_all(data).expect("writing to a Vec cannot fail");
    e.finish().expect("writing to a Vec cannot fail")
}

fn zstd(data: &[u8]) -> Result<Vec<u8>> {
    zstd::stream::encode_all(data, 3).context("zstd encoding")
}

/// Deterministic incompressible bytes (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        v.extend_from_slice(&seed.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn f(name: &str, mode: u64) -> Header {
    Header::new(name, b'0', mode)
}

fn d(name: &str, mode: u64) -> Header {
    Header::new(name, b'5', mode)
}

/// The small tree every compression case carries.
fn basic_tree() -> Vec<u8> {
    tar(|t| {
        t.dir("etc/", 0o755);
        t.file("etc/hostname", 0o644, b"layerproof\n");
        t.dir("bin/", 0o755);
        t.file("bin/sh", 0o755, b"#!/bin/true\n");
        t.symlink("bin/bash", "sh");
    })
}

/// security.capability for cap_net_raw (bit 13), effective flag set.
fn cap_v2() -> Vec<u8> {
    let mut v = vec![0x01, 0x00, 0x00, 0x02];
    v.extend_from_slice(&0x2000u32.to_le_bytes());
    v.extend_from_slice(&[0u8; 12]);
    v
}

fn cap_v3(rootid: u32) -> Vec<u8> {
    let mut v = vec![0x01, 0x00, 0x00, 0x03];
    v.extend_from_slice(&0x2000u32.to_le_bytes());
    v.extend_from_slice(&[0u8; 12]);
    v.extend_from_slice(&rootid.to_le_bytes());
    v
}

/// All cases, in a fixed order.
pub fn cases() -> Result<Vec<Case>> {
    let mut c = Vec::new();

    // §3.6 implied parents
    c.push(case(
        "implied-parent-dirs",
        "spec §3.6: missing parents are created 0755 0:0 with the extraction wall-clock mtime",
        "usr/, usr/bin/, var/lib/ appear 0755 0:0 with the build's wall-clock mtime; var/ keeps its header",
        tar(|t| {
            t.file("usr/bin/tool", 0o755, b"tool\n");
            t.dir("var/", 0o755);
            t.file("var/lib/state", 0o644, b"state\n");
        }),
    ));
    // §3.4 root entry
    c.push(case(
        "root-entry-metadata-ignored",
        "spec §3.4: the root entry (./) is skipped; none of its metadata applies; §5.1 root never written",
        "no root entry in the layer; names lose ./",
        tar(|t| {
            t.entry(d("./", 0o700).owner(5, 5).mtime(1), b"");
            t.dir("./etc/", 0o755);
            t.file("./etc/hostname", 0o644, b"host\n");
        }),
    ));
    // §3.7 duplicates
    c.push(case(
        "duplicate-path-last-wins",
        "spec §3.7: an existing non-directory is removed; the last entry wins",
        "etc/passwd has the second content, mode 0600, uid 1, mtime T0+100",
        tar(|t| {
            t.dir("etc/", 0o755);
            t.file("etc/passwd", 0o644, b"first\n");
            t.entry(
                f("etc/passwd", 0o600).owner(1, 1).mtime(T0 + 100),
                b"second-version\n",
            );
        }),
    ));
    c.push(case(
        "dir-dir-merge",
        "spec §3.7: directory over directory merges and applies the new metadata",
        "a/ is 0700 7:7 mtime T0+5 and holds both x and y",
        tar(|t| {
            t.dir("a/", 0o755);
            t.file("a/x", 0o644, b"x\n");
            t.entry(d("a/", 0o700).owner(7, 7).mtime(T0 + 5), b"");
            t.file("a/y", 0o644, b"y\n");
        }),
    ));
    c.push(case(
        "dir-replaced-by-file",
        "spec §3.7: RemoveAll before a non-directory replaces a directory",
        "d is a regular file; d/sub/ and d/sub/f are gone",
        tar(|t| {
            t.dir("d/", 0o755);
            t.dir("d/sub/", 0o755);
            t.file("d/sub/f", 0o644, b"f\n");
            t.file("d", 0o644, b"now a file\n");
        }),
    ));
    c.push(case(
        "file-replaced-by-dir",
        "spec §3.7: a directory entry over a file removes the file",
        "d/ is a 0750 directory holding f",
        tar(|t| {
            t.file("d", 0o644, b"file first\n");
            t.dir("d/", 0o750);
            t.file("d/f", 0o644, b"f\n");
        }),
    ));
    c.push(case(
        "dir-replaced-by-symlink-write-through",
        "spec §3.7 + §3.10: a directory with children replaced by a symlink inside the root, then written through",
        "d is a symlink to e; d/child is gone; e/new exists",
        tar(|t| {
            t.dir("d/", 0o755);
            t.file("d/child", 0o644, b"child\n");
            t.dir("e/", 0o755);
            t.symlink("d", "e");
            t.file("d/new", 0o644, b"through\n");
        }),
    ));
    c.push(case(
        "child-under-file-refused",
        "spec §3.10: creating a path under a regular file fails (ENOTDIR)",
        "build fails",
        tar(|t| {
            t.file("f", 0o644, b"plain\n");
            t.file("f/x", 0o644, b"x\n");
        }),
    ));
    // §3 hardlinks, §5.3
    c.push(case(
        "hardlink-direction-flip",
        "spec §5.3 + oracle notes: the first path in walk order is the file; the last header's chmod hits the inode",
        "bin/bash is the regular file 0644, bin/sh a link to bin/bash, both 0644",
        tar(|t| {
            t.dir("bin/", 0o755);
            t.file("bin/sh", 0o755, b"#!shell\n");
            t.hardlink("bin/bash", "bin/sh", 0o644);
        }),
    ));
    c.push(case(
        "hardlink-metadata-last-header-wins",
        "spec §3 consequences: mode, uid/gid and mtime of the shared inode come from the last header",
        "usr/bin/hl is the file with 0700 3:4 mtime T0+10; usr/bin/su links to it",
        tar(|t| {
            t.dir("usr/", 0o755);
            t.dir("usr/bin/", 0o755);
            t.with_pax(&[("mtime", b"1700000000.75")], f("usr/bin/su", 0o4755), b"su\n");
            t.entry(Header::new("usr/bin/hl", b'1', 0o700).link("usr/bin/su").owner(3, 4).mtime(T0 + 10), b"");
        }),
    ));
    c.push(case(
        "hardlink-to-symlink",
        "spec §3.13/14: a hardlink to a symlink links the symlink inode; chmod/chtimes skipped, lchown applies",
        "hl is the symlink (walk order), s a hardlink to hl; owner 9:9 from the link header",
        tar(|t| {
            t.file("target", 0o644, b"t\n");
            t.symlink("s", "target");
            t.entry(Header::new("hl", b'1', 0o600).link("s").owner(9, 9).mtime(T0 + 50), b"");
        }),
    ));
    c.push(case(
        "hardlink-chain-and-absolute",
        "spec §3.10: link target = Join(dest, Linkname); links to links and absolute link names",
        "one inode with four paths: f file, l1/l2/l3 links to f",
        tar(|t| {
            t.file("f", 0o644, b"shared\n");
            t.hardlink("l1", "f", 0o644);
            t.hardlink("l2", "l1", 0o644);
            t.hardlink("l3", "/f", 0o644);
        }),
    ));
    c.push(case(
        "hardlink-missing-target",
        "spec §3.10 + oracle notes: link() to a missing target fails the build",
        "build fails",
        tar(|t| {
            t.dir("a/", 0o755);
            t.hardlink("a/link", "a/nope", 0o644);
        }),
    ));
    c.push(case(
        "hardlink-to-directory",
        "spec §3.10: link() on a directory fails (EPERM)",
        "build fails",
        tar(|t| {
            t.dir("d/", 0o755);
            t.hardlink("hl", "d/", 0o755);
        }),
    ));
    // symlinks
    c.push(case(
        "symlink-mode-0777",
        "spec §3 consequences: symlink permissions become 0777 whatever the header says; uid/gid kept",
        "all symlinks 0777; abs keeps owner 5:6",
        tar(|t| {
            t.file("target", 0o644, b"t\n");
            t.entry(Header::new("rel", b'2', 0o755).link("target"), b"");
            t.entry(Header::new("abs", b'2', 0o600).link("/usr/lib").owner(5, 6), b"");
            t.entry(Header::new("dangling", b'2', 0o644).link("nowhere"), b"");
        }),
    ));
    c.push(case(
        "symlink-escape-relative",
        "spec §3.10: ≤0.2 and Docker ≤27 reject a symlink whose Join(Dir(path), target) leaves dest",
        "build fails (breakout)",
        tar(|t| {
            t.dir("a/", 0o755);
            t.dir("a/b/", 0o755);
            t.symlink("a/b/link", "../../../etc");
        }),
    ));
    c.push(case(
        "write-through-symlink-outside",
        "oracle notes: an entry written through a symlink that points outside (/tmp absent in the tar) fails",
        "build fails",
        tar(|t| {
            t.symlink("evil", "/tmp");
            t.file("evil/through", 0o644, b"x\n");
        }),
    ));
    c.push(case(
        "write-through-symlink-outside-present",
        "spec §3.3: inside the chroot /tmp is the layer's own tmp/; writing through evil -> /tmp lands there",
        "tmp/through exists; evil is a symlink to /tmp",
        tar(|t| {
            t.dir("tmp/", 0o1777);
            t.symlink("evil", "/tmp");
            t.file("evil/through", 0o644, b"x\n");
        }),
    ));
    c.push(case(
        "dotdot-and-absolute-names",
        "spec §3.3: names are cleaned; ../x and /abs/x land under the root",
        "x, abs/, abs/x, b, y, z all under the root",
        tar(|t| {
            t.file("../x", 0o644, b"x\n");
            t.dir("/abs/", 0o755);
            t.file("/abs/x", 0o644, b"abs\n");
            t.file("a/../b", 0o644, b"b\n");
            t.file("./../../y", 0o644, b"y\n");
            t.file("abs/../../z", 0o644, b"z\n");
        }),
    ));
    // xattrs §3.12, §5.4, §5.9
    c.push(case(
        "xattr-capability-v2",
        "spec §5.4: SCHILY.xattr.security.capability survives into the layer (PAX)",
        "ping carries a PAX SCHILY.xattr.security.capability record with the same 20 bytes",
        tar(|t| {
            t.dir("bin/", 0o755);
            t.with_pax(
                &[("SCHILY.xattr.security.capability", &cap_v2())],
                f("bin/ping", 0o755),
                b"ping\n",
            );
        }),
    ));
    c.push(case(
        "xattr-capability-v3",
        "spec §5.4/§5.9: v3 (24 bytes) is rewritten to v2 on the moby path; raw v3 for containerd/BuildKit writers",
        "moby path: both become v2 20 bytes (rootid 1000 may be refused or kept by the kernel)",
        tar(|t| {
            t.dir("bin/", 0o755);
            t.with_pax(&[("SCHILY.xattr.security.capability", &cap_v3(0))], f("bin/v3root0", 0o755), b"a\n");
            t.with_pax(&[("SCHILY.xattr.security.capability", &cap_v3(1000))], f("bin/v3root1000", 0o755), b"b\n");
        }),
    ));
    c.push(case(
        "xattr-dropped-kinds",
        "spec §5.4 + oracle notes: user.*, security.selinux and trusted.* xattrs never reach the layer",
        "plain ustar entries, no PAX records",
        tar(|t| {
            t.with_pax(&[("SCHILY.xattr.user.foo", b"bar")], f("user-foo", 0o644), b"u\n");
            t.with_pax(
                &[("SCHILY.xattr.security.selinux", b"system_u:object_r:bin_t:s0\0")],
                f("selinux", 0o644),
                b"s\n",
            );
            t.with_pax(&[("SCHILY.xattr.trusted.foo", b"1")], f("trusted-foo", 0o644), b"t\n");
        }),
    ));
    c.push(case(
        "xattr-overlay-opaque-dir",
        "spec §5.9: trusted.overlay.opaque=y on a directory adds dir/.wh..wh..opq on the overlay2 writer",
        "overlay2: opq/ plus a regular opq/.wh..wh..opq (if the xattr could be set through overlayfs)",
        tar(|t| {
            t.with_pax(&[("SCHILY.xattr.trusted.overlay.opaque", b"y")], d("opq/", 0o755), b"");
            t.file("opq/f", 0o644, b"f\n");
        }),
    ));
    c.push(case(
        "whiteout-names-kept",
        "spec §3.9: .wh.* names in an ADDed tar are ordinary files",
        "opt/.wh.foo and opt/sub/.wh..wh..opq are regular files in the layer",
        tar(|t| {
            t.dir("opt/", 0o755);
            t.file("opt/.wh.foo", 0o644, b"");
            t.dir("opt/sub/", 0o755);
            t.file("opt/sub/.wh..wh..opq", 0o644, b"");
            t.file("opt/sub/keep", 0o644, b"keep\n");
        }),
    ));
    // devices
    c.push(case(
        "char-device-0-0",
        "spec §5.9 + oracle notes: a 0:0 char device becomes dev/.wh.NAME (0600) on overlay2",
        "dev/.wh.null0 regular file 0600 instead of the device",
        tar(|t| {
            t.dir("dev/", 0o755);
            t.entry(Header::new("dev/null0", b'3', 0o666).dev(0, 0), b"");
        }),
    ));
    c.push(case(
        "char-device-1-3",
        "spec §3.10: char devices are mknod'ed and kept",
        "dev/null char 1:3 0666",
        tar(|t| {
            t.dir("dev/", 0o755);
            t.entry(Header::new("dev/null", b'3', 0o666).dev(1, 3), b"");
        }),
    ));
    c.push(case(
        "block-device",
        "spec §3.10: block devices are mknod'ed and kept",
        "dev/sda block 8:0 0660 0:6",
        tar(|t| {
            t.dir("dev/", 0o755);
            t.entry(
                Header::new("dev/sda", b'4', 0o660).dev(8, 0).owner(0, 6),
                b"",
            );
        }),
    ));
    c.push(case(
        "fifo",
        "spec §3.10: fifos are mknod'ed and kept",
        "run/fifo typeflag 6 0644",
        tar(|t| {
            t.dir("run/", 0o755);
            t.entry(Header::new("run/fifo", b'6', 0o644), b"");
        }),
    ));
    c.push(case(
        "setuid-setgid-sticky",
        "spec §3.13/§5.4: chmod after chown keeps 04000/02000/01000",
        "modes 04755, 02755, 07777 and tmp/ 01777",
        tar(|t| {
            t.dir("bin/", 0o755);
            t.file("bin/suid", 0o4755, b"u\n");
            t.file("bin/sgid", 0o2755, b"g\n");
            t.file("bin/all", 0o7777, b"a\n");
            t.dir("tmp/", 0o1777);
        }),
    ));
    c.push(case(
        "header-mode-type-bits-ignored",
        "spec §3.13: type bits in the header mode are ignored on extraction",
        "file 0644, dir 0755 (type bits only as the engine's own writer adds them)",
        tar(|t| {
            t.entry(d("dir/", 0o40755), b"");
            t.file("dir/file", 0o100644, b"f\n");
        }),
    ));
    // times §3.14
    c.push(case(
        "mtime-negative",
        "spec §3.14: times before 1970 are bounded to 0",
        "both files mtime 0",
        tar(|t| {
            t.with_pax(&[("mtime", b"-100")], f("pax-neg", 0o644), b"a\n");
            t.entry(f("base256-neg", 0o644).patch(136, &[0xff; 12]), b"b\n");
        }),
    ));
    c.push(case(
        "mtime-far-future",
        "spec §3.14/§6.1: times after 2262 bound to 0; 2255 is kept and needs a PAX mtime (≥ 8^11)",
        "y2255 keeps 9000000000 as PAX mtime; y2286 becomes 0; octal-max keeps 8589934591",
        tar(|t| {
            t.with_pax(&[("mtime", b"9000000000")], f("y2255", 0o644), b"a\n");
            t.with_pax(&[("mtime", b"10000000000")], f("y2286", 0o644), b"b\n");
            t.entry(f("octal-max", 0o644).mtime(0o77777777777), b"c\n");
        }),
    ));
    c.push(case(
        "mtime-fractional-pax",
        "spec §3.14/§5.4: ns survive on disk, the layer floors to whole seconds",
        "half 1700000000, nearly 1700000000 (dir), just-after 1699999999, neg-frac 0",
        tar(|t| {
            t.with_pax(
                &[("atime", b"1800000000.25"), ("mtime", b"1700000000.5")],
                f("half", 0o644),
                b"h\n",
            );
            t.with_pax(
                &[("mtime", b"1700000000.999999999")],
                d("nearly/", 0o755),
                b"",
            );
            t.with_pax(
                &[("mtime", b"1699999999.000000001")],
                f("just-after", 0o644),
                b"j\n",
            );
            t.with_pax(&[("mtime", b"-1.5")], f("neg-frac", 0o644), b"n\n");
        }),
    ));
    c.push(case(
        "dir-times-reapplied",
        "spec §3.15: directory times are re-applied at the end in archive order",
        "a/ 1000, a/b/ 2000 despite children created later",
        tar(|t| {
            t.entry(d("a/", 0o755).mtime(1000), b"");
            t.entry(d("a/b/", 0o755).mtime(2000), b"");
            t.entry(f("a/b/f", 0o644).mtime(3000), b"f\n");
            t.entry(f("a/c", 0o644).mtime(4000), b"c\n");
        }),
    ));
    c.push(case(
        "dir-entry-after-children",
        "spec §3.15: a directory header after its children still sets the final mtime",
        "var/ mtime 5, var/lib/ mtime 7",
        tar(|t| {
            t.file("var/lib/x", 0o644, b"x\n");
            t.entry(d("var/lib/", 0o755).mtime(7), b"");
            t.entry(d("var/", 0o755).mtime(5), b"");
        }),
    ));
    // ownership
    c.push(case(
        "uid-gid-large",
        "spec §6.1: uid/gid ≥ 2097152 need PAX uid/gid records in the layer; input via PAX and base-256",
        "PAX uid/gid records; numeric fields 0000000",
        tar(|t| {
            t.with_pax(&[("gid", b"3000001"), ("uid", b"3000000")], f("pax-ids", 0o644), b"p\n");
            t.entry(f("base256-ids", 0o644).owner(2_097_152, 2_097_153), b"b\n");
        }),
    ));
    c.push(case(
        "uid-1000-owner",
        "oracle notes: Debian 20.10 fills uname/gname from the daemon host's passwd/group; 26.1 leaves them empty",
        "20.10: names from the host (uid 1000 = cloudsdk here), header names ignored; 26.1: empty",
        tar(|t| {
            t.entry(d("home/", 0o755), b"");
            t.entry(d("home/user/", 0o750).owner(1000, 1000).names("builder", "builder"), b"");
            t.entry(f("home/user/file", 0o644).owner(1000, 1000).names("builder", "builder"), b"u\n");
            t.entry(f("nobody", 0o644).owner(65534, 65534).names("nobody", "nogroup"), b"n\n");
            t.entry(f("unknown", 0o644).owner(4242, 4242).names("ghost", "ghost"), b"g\n");
            t.entry(f("root-named-wrong", 0o644).names("admin", "wheel"), b"r\n");
        }),
    ));
    // names §6
    let pre = format!("opt/{}", "a".repeat(80));
    let long_split = format!("{pre}/{}.txt", "b".repeat(40));
    c.push(case(
        "long-name-splittable",
        "spec §6.3: a >100-byte ASCII name that splits is written as USTAR prefix + name",
        "USTAR header with prefix, no PAX",
        tar(|t| {
            t.dir("opt/", 0o755);
            t.dir(&format!("{pre}/"), 0o755);
            let mut h = f(&format!("{}.txt", "b".repeat(40)), 0o644);
            h.prefix = pre.as_bytes().to_vec();
            t.entry(h, b"split\n");
            debug_assert!(long_split.len() > 100);
        }),
    ));
    let unsplit = format!("opt/{}", "c".repeat(120));
    c.push(case(
        "long-name-unsplittable",
        "spec §6.1/§6.4: a name that cannot split needs a PAX path record and PaxHeaders.0 x-header name",
        "PAX x header DIR/PaxHeaders.0/BASE (truncated to 100), path record, main name truncated",
        tar(|t| {
            t.dir("opt/", 0o755);
            t.with_pax(&[("path", unsplit.as_bytes())], f(&unsplit, 0o644), b"long\n");
        }),
    ));
    c.push(case(
        "non-ascii-name",
        "spec §6.1 + oracle notes: non-ASCII names need PAX path; the header name drops non-ASCII bytes",
        "PAX path=opt/ü.txt, header name opt/.txt; raw UTF-8 header input read the same way",
        tar(|t| {
            t.dir("opt/", 0o755);
            t.with_pax(&[("path", "opt/ü.txt".as_bytes())], f("opt/u.txt", 0o644), b"u\n");
            t.file("opt/日本.txt", 0o644, b"j\n");
        }),
    ));
    let long_target = format!("/{}", "d".repeat(150));
    let target100 = format!("/{}", "e".repeat(99));
    c.push(case(
        "long-symlink-target",
        "spec §6.1: a linkname over 100 bytes needs a PAX linkpath record; exactly 100 fits without NUL",
        "long: PAX linkpath; exact100: USTAR",
        tar(|t| {
            t.with_pax(&[("linkpath", long_target.as_bytes())], Header::new("long", b'2', 0o777).link(&long_target), b"");
            t.symlink("exact100", &target100);
        }),
    ));
    let gnu_name = format!("gnu/{}", "g".repeat(130));
    let gnu_link = format!("/{}", "k".repeat(120));
    c.push(case(
        "gnu-longname-input",
        "spec §3.1: GNU L/K long name headers are merged by the reader; the layer uses PAX, never GNU",
        "gnu/ggg… via PAX path, klink via PAX linkpath",
        tar(|t| {
            t.entry(d("gnu/", 0o755).magic(Magic::Gnu), b"");
            let mut name = gnu_name.as_bytes().to_vec();
            name.push(0);
            t.entry(Header::new("././@LongLink", b'L', 0).magic(Magic::Gnu), &name);
            t.entry(f(&gnu_name, 0o644).magic(Magic::Gnu), b"gnu\n");
            let mut link = gnu_link.as_bytes().to_vec();
            link.push(0);
            t.entry(Header::new("././@LongLink", b'K', 0).magic(Magic::Gnu), &link);
            t.entry(Header::new("gnu/klink", b'2', 0o777).link(&gnu_link).magic(Magic::Gnu), b"");
        }),
    ));
    c.push(case(
        "pax-global-header",
        "spec §3.2: g headers are skipped (their records do not apply)",
        "only file, mtime T0 (global mtime=1 ignored)",
        tar(|t| {
            t.pax(
                b'g',
                "pax_global_header",
                &[("comment", b"global"), ("mtime", b"1")],
            );
            t.file("file", 0o644, b"f\n");
        }),
    ));
    c.push(case(
        "v7-typeflag-nul",
        "spec §3.1: typeflag NUL is a regular file, or a directory if the name ends in /",
        "old/ dir, old/file and ustar-nul regular files",
        tar(|t| {
            t.entry(Header::new("old/", 0, 0o755).magic(Magic::V7), b"");
            t.entry(Header::new("old/file", 0, 0o644).magic(Magic::V7), b"v7\n");
            t.entry(Header::new("ustar-nul", 0, 0o644), b"u\n");
        }),
    ));
    c.push(case(
        "typeflag-7-contiguous",
        "spec §3.10: any other typeflag ('7' contiguous) is refused as unhandled",
        "build fails: unhandled tar header type 55",
        tar(|t| {
            t.entry(Header::new("contig", b'7', 0o644), b"c\n");
        }),
    ));
    // order §5.2
    c.push(case(
        "ordering-trap",
        "spec §5.2: depth-first, children in byte order of their names (not full-path order)",
        "opt/A, opt/a-b, opt/a.b, opt/a/, opt/a/z, opt/a0, opt/a_b",
        tar(|t| {
            t.dir("opt/", 0o755);
            t.file("opt/a_b", 0o644, b"1\n");
            t.file("opt/a0", 0o644, b"2\n");
            t.dir("opt/a/", 0o755);
            t.file("opt/a/z", 0o644, b"3\n");
            t.file("opt/a-b", 0o644, b"4\n");
            t.file("opt/a.b", 0o644, b"5\n");
            t.file("opt/A", 0o644, b"6\n");
        }),
    ));
    c.push(case(
        "empty-dirs",
        "spec §5.1: every path is written, empty directories included",
        "empty/, a/, a/empty2/",
        tar(|t| {
            t.dir("empty/", 0o755);
            t.dir("a/", 0o711);
            t.dir("a/empty2/", 0o700);
        }),
    ));
    // archive detection §2
    c.push(case(
        "empty-tarball",
        "spec §2.2: archive iff the first header parses; an empty tar's Next() is EOF",
        "not an archive: copied as the plain file /empty-tarball.tar (to be confirmed)",
        vec![0u8; 1024],
    ));
    c.push(Case {
        name: "not-a-tar",
        rule: "spec §2.4: no magic and no tar header: ADD copies the file verbatim",
        expect: "the layer holds /not-a-tar.tar.gz as a regular file",
        ext: "tar.gz",
        bytes: b"this is not a tar archive, just text pretending to be one\n".repeat(4),
    });
    let big = tar(|t| {
        t.dir("d/", 0o755);
        t.file("d/a", 0o644, &noise(6000, 1));
        t.file("d/b", 0o644, &noise(6000, 2));
    });
    let mut trunc = gzip(&big);
    trunc.truncate(trunc.len() / 2);
    c.push(Case {
        name: "truncated-gzip",
        rule: "spec §2.4: the first header parses, the stream breaks later: the build fails",
        expect: "build fails (unexpected EOF)",
        ext: "tar.gz",
        bytes: trunc,
    });
    let mut trunc_tar = big.clone();
    trunc_tar.truncate(512 * 3 + 100);
    c.push(case(
        "truncated-tar",
        "spec §2.4: an uncompressed tar cut inside an entry's data fails the build",
        "build fails (unexpected EOF)",
        trunc_tar,
    ));
    let mut garbage = basic_tree();
    garbage.extend_from_slice(b"trailing garbage after the end-of-archive marker\n");
    garbage.extend_from_slice(&noise(700, 3));
    c.push(case(
        "trailing-garbage-after-end",
        "spec §2.4: data after the end marker is ignored",
        "same layer as compress-none",
        garbage,
    ));
    let mut no_end = basic_tree();
    no_end.truncate(no_end.len() - 1024);
    c.push(case(
        "missing-end-marker",
        "Go tar reader: EOF at a block boundary ends the archive without error",
        "same layer as compress-none",
        no_end,
    ));
    // sparse
    c.push(case(
        "old-gnu-sparse-S",
        "spec §3.10: old GNU sparse (typeflag S) is refused",
        "build fails: unhandled tar header type 83",
        tar(|t| {
            let h = Header::new("sparse", b'S', 0o644)
                .magic(Magic::Gnu)
                .patch(386, b"00000000000\0")
                .patch(398, b"00000000005\0")
                .patch(483, b"00000010000\0");
            t.entry(h, b"hello");
        }),
    ));
    c.push(case(
        "pax-sparse",
        "spec §3.10: PAX GNU sparse 1.0 and 0.1 files are expanded densely",
        "sparse10 and sparse01: 8192-byte regular files, 'hello' at 4096",
        tar(|t| {
            let mut data = b"1\n4096\n5\n".to_vec();
            data.resize(512, 0);
            data.extend_from_slice(b"hello");
            t.with_pax(
                &[
                    ("GNU.sparse.major", b"1"),
                    ("GNU.sparse.minor", b"0"),
                    ("GNU.sparse.name", b"sparse10"),
                    ("GNU.sparse.realsize", b"8192"),
                ],
                f("GNUSparseFile.0/sparse10", 0o644),
                &data,
            );
            t.with_pax(
                &[
                    ("GNU.sparse.map", b"4096,5"),
                    ("GNU.sparse.name", b"sparse01"),
                    ("GNU.sparse.numblocks", b"1"),
                    ("GNU.sparse.size", b"8192"),
                ],
                f("GNUSparseFile.0/sparse01", 0o644),
                b"hello",
            );
        }),
    ));
    // compression §2.3
    let basic = basic_tree();
    c.push(case(
        "compress-none",
        "spec §2.3: an uncompressed tar",
        "etc/, bin/ tree",
        basic.clone(),
    ));
    c.push(Case {
        name: "compress-gzip",
        rule: "spec §2.3: gzip (1f 8b 08) is unpacked",
        expect: "same layer as compress-none",
        ext: "tar.gz",
        bytes: gzip(&basic),
    });
    let cut = 512 * 3;
    let mut multi = gzip(&basic[..cut]);
    multi.extend_from_slice(&gzip(&basic[cut..]));
    c.push(Case {
        name: "compress-gzip-multi-member",
        rule: "spec §2.3: every member of a multi-member gzip is read",
        expect: "same layer as compress-none",
        ext: "tar.gz",
        bytes: multi,
    });
    c.push(Case {
        name: "compress-bzip2",
        rule: "spec §2.3: bzip2 (BZh) is unpacked",
        expect: "same layer as compress-none",
        ext: "tar.bz2",
        bytes: bzip2(&basic),
    });
    c.push(Case {
        name: "compress-xz",
        rule: "spec §2.3: xz is unpacked",
        expect: "same layer as compress-none",
        ext: "tar.xz",
        bytes: xz(&basic),
    });
    c.push(Case {
        name: "compress-zstd",
        rule: "spec §2.3 + oracle notes: zstd is unpacked by 26.1, copied as a plain file by 20.10",
        expect: "26.1: same layer as compress-none; 20.10: /compress-zstd.tar.zst as a plain file",
        ext: "tar.zst",
        bytes: zstd(&basic)?,
    });
    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18];
    skippable.extend_from_slice(&8u32.to_le_bytes());
    skippable.extend_from_slice(b"skipme!!");
    skippable.extend_from_slice(&zstd(&basic)?);
    c.push(Case {
        name: "compress-zstd-skippable-frame",
        rule: "spec §2.3: a zstd stream starting with a skippable frame is detected as zstd",
        expect: "26.1: same layer as compress-none; 20.10: plain file",
        ext: "tar.zst",
        bytes: skippable,
    });

    // Guard the naming rule: kebab-case, unique.
    let mut seen = std::collections::BTreeSet::new();
    for k in &c {
        if !seen.insert(k.name) {
            bail!("duplicate case name {}", k.name);
        }
    }
    Ok(c)
}

/// Writes every case to `dir` (`<case>.<ext>` + `<case>.Dockerfile`) and `cases.json`.
/// With `check`, compares instead of writing and fails on any difference.
pub fn run(dir: &Path, check: bool) -> Result<()> {
    let cases = cases()?;
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index = Vec::new();
    for c in &cases {
        files.push((c.file_name(), c.bytes.clone()));
        files.push((
            format!("{}.Dockerfile", c.name),
            c.dockerfile().into_bytes(),
        ));
        index.push(json!({
            "name": c.name,
            "file": c.file_name(),
            "rule": c.rule,
            "expect": c.expect,
            "bytes": c.bytes.len(),
            "sha256": crate::sha256_hex(&c.bytes),
        }));
    }
    let mut idx = serde_json::to_vec_pretty(&json!({
        "generator": "cargo xtask gen-testdata",
        "cases": index,
    }))?;
    idx.push(b'\n');
    files.push(("cases.json".to_string(), idx));

    if check {
        let mut bad = Vec::new();
        for (name, bytes) in &files {
            let p = dir.join(name);
            match std::fs::read(&p) {
                Ok(have) if &have == bytes => {}
                Ok(_) => bad.push(format!("{} differs", p.display())),
                Err(e) => bad.push(format!("{}: {e}", p.display())),
            }
        }
        if !bad.is_empty() {
            bail!(
                "testdata/gen is stale (run `cargo xtask gen-testdata`):\n  {}",
                bad.join("\n  ")
            );
        }
        println!("testdata/gen: {} files up to date", files.len());
        return Ok(());
    }

    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    // Remove stale files so renamed cases do not linger.
    let wanted: std::collections::BTreeSet<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let e = e?;
        let n = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_file() && !wanted.contains(n.as_str()) {
            std::fs::remove_file(e.path())
                .with_context(|| format!("removing {}", e.path().display()))?;
        }
    }
    for (name, bytes) in &files {
        let p = dir.join(name);
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))?;
    }
    let total: usize = cases.iter().map(|c| c.bytes.len()).sum();
    println!(
        "wrote {} cases ({} bytes of input) to {}",
        cases.len(),
        total,
        dir.display()
    );
    Ok(())
}
