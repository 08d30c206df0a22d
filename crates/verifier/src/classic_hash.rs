//! The classic builder's source hash: the `file:<hex>` in `ADD file:<hex> in / `.
//!
//! How Docker computes it (read in moby `v20.10.24` and `v26.1.5`; proven against every classic
//! build under `testdata/oracle/`, see `crates/verifier/tests/it/config_oracle.rs`):
//!
//! 1. The client (`docker build`, docker/cli `createTarFromPath` / `archive.TarWithOptions` with
//!    `ChownOpts: {UID: 0, GID: 0}`) sends the build context as a tar. Each file's header is
//!    moby's `archive.FileInfoHeader`: the name relative to the context root with `/`
//!    separators, the permission bits (plus setuid/setgid/sticky), uid = gid = 0, the size, and
//!    `security.capability` as a `SCHILY.xattr` record if the file has one. Clients built from
//!    moby ≤ 23.0 also put the Go 1.8 file-type bits into the mode (`0100644`); later clients
//!    do not (`0644`).
//! 2. The daemon reads that tar through `tarsum` version 1 (`builder/remotecontext/archive.go`
//!    `FromArchive`), which hashes, per entry, with sha256: the header selectors `name`, `mode`,
//!    `uid`, `gid`, `size`, `typeflag`, `linkname`, `uname`, `gname`, `devmajor`, `devminor`
//!    (no `mtime`), each written as key immediately followed by its decimal/string value, with
//!    `uname` and `gname` always blanked (`tarSum.encodeHeader`), then the xattrs sorted by key
//!    as key + value, then the file's bytes (`pkg/tarsum/versioning.go` `v1TarHeaderSelect`,
//!    `pkg/tarsum/tarsum.go`).
//! 3. `copyInfoForFile` (`builder/dockerfile/copy.go`) prefixes the hex digest with `file:`;
//!    several sources give `multi:` + sha256 of the comma-joined hashes
//!    (`getSourceHashFromInfos`).
//!
//! So the hash depends on the file's name, permission bits, size and contents, and on the
//! client generation — never on its mtime or owner. The permission bits are part of the build
//! context, not of the run: pass the ones the file had when Docker read it.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

/// Which client wrote the context tar (decides the mode field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContextTar {
    /// moby ≤ 23.0 `archive.FileInfoHeader` (`fillGo18FileTypeBits`): mode `0100644`.
    TypeBits,
    /// moby ≥ 24 / go-archive: permission bits only, mode `0644`.
    PermissionsOnly,
}

impl ContextTar {
    /// The generation a Docker client of this major version writes (type bits up to 23).
    pub fn for_client_major(major: u32) -> ContextTar {
        if major <= 23 {
            ContextTar::TypeBits
        } else {
            ContextTar::PermissionsOnly
        }
    }
}

/// A regular file of the build context, as the client's tar header describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextFile {
    /// Path relative to the context root, `/`-separated (`rootfs.tar.gz`, `dir/x.tar`).
    pub name: String,
    /// Permission bits plus setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// Size in bytes.
    pub size: u64,
    /// Extended attributes the client copies (only `security.capability`), key without the
    /// `SCHILY.xattr.` prefix.
    pub xattrs: BTreeMap<String, Vec<u8>>,
}

impl ContextFile {
    /// A file with no extended attributes.
    pub fn new(name: impl Into<String>, mode: u32, size: u64) -> ContextFile {
        ContextFile {
            name: name.into(),
            mode,
            size,
            xattrs: BTreeMap::new(),
        }
    }
}

/// Go 1.8's `S_IFREG` bit, which old clients add to a regular file's mode.
const S_IFREG: u64 = 0o100000;

/// Streams a context file's contents into the hash; [`FileHasher::finish`] gives `file:<hex>`.
#[derive(Debug, Clone)]
pub struct FileHasher {
    sha: Sha256,
    expected: u64,
    seen: u64,
}

impl FileHasher {
    /// Starts the hash with the file's tarsum v1 header selectors.
    pub fn new(file: &ContextFile, tar: ContextTar) -> FileHasher {
        let mode = u64::from(file.mode & 0o7777)
            | match tar {
                ContextTar::TypeBits => S_IFREG,
                ContextTar::PermissionsOnly => 0,
            };
        let mut sha = Sha256::new();
        let mut put = |k: &str, v: &[u8]| {
            sha.update(k.as_bytes());
            sha.update(v);
        };
        put("name", file.name.as_bytes());
        put("mode", mode.to_string().as_bytes());
        put("uid", b"0");
        put("gid", b"0");
        put("size", file.size.to_string().as_bytes());
        put("typeflag", b"0");
        put("linkname", b"");
        // tarsum blanks both names whatever the header says.
        put("uname", b"");
        put("gname", b"");
        put("devmajor", b"0");
        put("devminor", b"0");
        for (k, v) in &file.xattrs {
            put(k, v);
        }
        FileHasher {
            sha,
            expected: file.size,
            seen: 0,
        }
    }

    /// `file:<hex>`. Fails if the bytes fed differ in number from the size in the header
    /// (the file changed while it was read).
    pub fn finish(self) -> io::Result<String> {
        if self.seen != self.expected {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "context file has {} bytes, its header said {}",
                    self.seen, self.expected
                ),
            ));
        }
        Ok(format!("file:{}", hex::encode(self.sha.finalize())))
    }
}

impl Write for FileHasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.sha.update(buf);
        self.seen = self.seen.saturating_add(buf.len() as u64);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The `file:<hex>` hash of a context file whose contents `body` yields.
pub fn file_hash(file: &ContextFile, tar: ContextTar, body: impl Read) -> io::Result<String> {
    let mut h = FileHasher::new(file, tar);
    io::copy(&mut { body }, &mut h)?;
    h.finish()
}

/// Permission bits a context file commonly has, tried by [`find_context_mode`] (umask 022,
/// 002, 077 and 027 applied to files and executables, read-only and open files).
pub const COMMON_MODES: [u32; 12] = [
    0o644, 0o664, 0o600, 0o640, 0o755, 0o775, 0o700, 0o750, 0o444, 0o400, 0o666, 0o777,
];

/// Which permission bits and client generation give the published `file:<hex>` for this
/// file's contents, trying [`COMMON_MODES`] under both [`ContextTar`] generations in one read
/// of `body`. The mode is a property of the build context that the published image does not
/// record otherwise; `None` when no candidate matches (or `published` is not a `file:` hash).
/// `file.mode` is ignored.
pub fn find_context_mode(
    file: &ContextFile,
    body: impl Read,
    published: &str,
) -> io::Result<Option<(u32, ContextTar)>> {
    let Some(want) = published.strip_prefix("file:") else {
        return Ok(None);
    };
    let mut candidates: Vec<(u32, ContextTar, FileHasher)> = Vec::new();
    for tar in [ContextTar::PermissionsOnly, ContextTar::TypeBits] {
        for mode in COMMON_MODES {
            let f = ContextFile {
                mode,
                ..file.clone()
            };
            candidates.push((mode, tar, FileHasher::new(&f, tar)));
        }
    }
    let mut body = body;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for (_, _, h) in &mut candidates {
            h.write_all(&buf[..n])?;
        }
    }
    for (mode, tar, h) in candidates {
        if h.finish()?.strip_prefix("file:") == Some(want) {
            return Ok(Some((mode, tar)));
        }
    }
    Ok(None)
}

/// The hash of several sources (`multi:` + sha256 of the comma-joined per-source hashes).
pub fn multi_hash(hashes: &[String]) -> String {
    format!(
        "multi:{}",
        hex::encode(Sha256::digest(hashes.join(",").as_bytes()))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The preimage spelled out by hand for one header, so a change in field order or
    /// spelling fails here before the oracle test.
    #[test]
    fn preimage_is_tarsum_v1_with_blank_names() {
        let f = ContextFile::new("a.tar", 0o644, 3);
        let pre =
            b"namea.tarmode33188uid0gid0size3typeflag0linknameunamegnamedevmajor0devminor0abc";
        let want = format!("file:{}", hex::encode(Sha256::digest(pre)));
        assert_eq!(
            file_hash(&f, ContextTar::TypeBits, &b"abc"[..]).unwrap(),
            want
        );
        let pre = b"namea.tarmode420uid0gid0size3typeflag0linknameunamegnamedevmajor0devminor0abc";
        let want = format!("file:{}", hex::encode(Sha256::digest(pre)));
        assert_eq!(
            file_hash(&f, ContextTar::PermissionsOnly, &b"abc"[..]).unwrap(),
            want
        );
    }

    #[test]
    fn xattrs_follow_the_header_sorted() {
        let mut f = ContextFile::new("x", 0o755, 0);
        f.xattrs.insert("security.capability".into(), vec![1, 2]);
        let pre =
            b"namexmode493uid0gid0size0typeflag0linknameunamegnamedevmajor0devminor0security.capability\x01\x02";
        let want = format!("file:{}", hex::encode(Sha256::digest(pre)));
        assert_eq!(
            file_hash(&f, ContextTar::PermissionsOnly, &b""[..]).unwrap(),
            want
        );
    }

    #[test]
    fn size_mismatch_is_an_error() {
        let f = ContextFile::new("x", 0o644, 4);
        assert!(file_hash(&f, ContextTar::TypeBits, &b"abc"[..]).is_err());
    }

    #[test]
    fn the_context_mode_is_found_from_the_published_hash() {
        let body = b"some bytes";
        for (mode, tar) in [
            (0o664, ContextTar::PermissionsOnly),
            (0o755, ContextTar::TypeBits),
        ] {
            let f = ContextFile::new("r.tar", mode, body.len() as u64);
            let published = file_hash(&f, tar, &body[..]).unwrap();
            let probe = ContextFile::new("r.tar", 0, body.len() as u64);
            assert_eq!(
                find_context_mode(&probe, &body[..], &published).unwrap(),
                Some((mode, tar))
            );
        }
        let probe = ContextFile::new("r.tar", 0, body.len() as u64);
        let other = format!("file:{}", "0".repeat(64));
        assert_eq!(find_context_mode(&probe, &body[..], &other).unwrap(), None);
        assert_eq!(find_context_mode(&probe, &body[..], "dir:x").unwrap(), None);
    }

    #[test]
    fn multi_joins_with_commas() {
        let want = format!("multi:{}", hex::encode(Sha256::digest(b"file:a,file:b")));
        assert_eq!(multi_hash(&["file:a".into(), "file:b".into()]), want);
    }
}
