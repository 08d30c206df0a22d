//! Checksum files published next to a rootfs tarball, verified before anything else.
//!
//! debuerreotype writes `rootfs.tar.xz.sha256` (the bare hex digest); Ubuntu's and many
//! mirrors' directories carry `SHA256SUMS` (`<hex>  <name>` or `<hex> *<name>` per line).
//! A tarball that disagrees with its own published checksum is not worth verifying further.

use std::path::{Path, PathBuf};

/// The digest a checksum file gives for `name`: a bare digest (first word of the first line,
/// when `list` is false) or the line of a `SHA256SUMS`-style list naming `name`.
pub fn lookup(text: &str, name: &str, list: bool) -> Option<String> {
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some(hex) = words.next() else { continue };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            continue;
        }
        let file = words.next().map(|f| f.trim_start_matches('*'));
        if !list {
            return Some(hex.to_ascii_lowercase());
        }
        let matches = file.is_some_and(|f| f == name || f.rsplit('/').next() == Some(name));
        if matches {
            return Some(hex.to_ascii_lowercase());
        }
    }
    None
}

/// Check `tarball`, whose sha256 is `sha256_hex` (hex, as the caller computed it while reading
/// the file once), against `<tarball>.sha256` or a `SHA256SUMS` beside it. `Ok(None)` when
/// neither names it; `Ok(Some(file))` when one does and agrees; `Err` when one disagrees.
pub fn verify_beside(tarball: &Path, sha256_hex: &str) -> Result<Option<PathBuf>, String> {
    let name = tarball
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let dir = tarball.parent().unwrap_or_else(|| Path::new("."));
    let mut own = tarball.as_os_str().to_owned();
    own.push(".sha256");
    let candidates = [(PathBuf::from(own), false), (dir.join("SHA256SUMS"), true)];
    for (file, list) in candidates {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        let Some(want) = lookup(&text, &name, list) else {
            continue;
        };
        let got = sha256_hex;
        if got != want {
            return Err(format!(
                "sha256 is {got}, but {} says {want}: the tarball is not the one published",
                file.display()
            ));
        }
        return Ok(Some(file));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    #[test]
    fn bare_and_listed_digests() {
        assert_eq!(lookup(&format!("{H}\n"), "x", false).as_deref(), Some(H));
        let list = format!("{}  other.tar\n{H} *rootfs.tar.xz\n", "0".repeat(64));
        assert_eq!(lookup(&list, "rootfs.tar.xz", true).as_deref(), Some(H));
        assert_eq!(lookup(&list, "missing", true), None);
        assert_eq!(lookup("not a digest\n", "x", false), None);
    }

    #[test]
    fn mismatch_is_an_error_naming_the_file() {
        use sha2::{Digest, Sha256};
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("rootfs.tar");
        std::fs::write(&t, b"test").unwrap();
        let h = hex::encode(Sha256::digest(b"test"));
        assert_eq!(verify_beside(&t, &h).unwrap(), None);
        std::fs::write(dir.path().join("rootfs.tar.sha256"), format!("{H}\n")).unwrap();
        assert!(
            verify_beside(&t, &h).unwrap().is_some(),
            "sha256(\"test\") matches"
        );
        std::fs::write(dir.path().join("rootfs.tar.sha256"), "0".repeat(64)).unwrap();
        let e = verify_beside(&t, &h).unwrap_err();
        assert!(e.contains("rootfs.tar.sha256"), "{e}");
    }
}
