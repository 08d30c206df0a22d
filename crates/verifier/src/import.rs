//! The inputs of oci-import mode (`verify --rootfs`): a rootfs tarball, or a release directory
//! as debuerreotype (debian: `rootfs.tar.xz`) and ubuntu's cloud-images builder
//! (`ubuntu-<series>-oci-<arch>-root.tar.gz`) publish them, with the tarball's checksums and
//! signatures beside it and the image as an OCI layout in `oci/`.
use std::path::{Path, PathBuf};

/// Files beside a tarball that are not tarballs themselves, though their names contain `.tar`.
const NOT_TARBALLS: [&str; 5] = [".sha256", ".asc", ".sig", ".gpg", ".manifest"];

/// A rootfs tarball, and the OCI layout published beside it if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The tarball.
    pub tarball: PathBuf,
    /// The release directory's `oci/` layout (it has an `index.json`).
    pub layout: Option<PathBuf>,
}

/// Why no tarball was found in a release directory.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The directory cannot be listed.
    #[error("{}", dir.display())]
    Read {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// No file in it is a tarball.
    #[error("{}: no tarball (*.tar*) in this directory", dir.display())]
    NoTarball {
        /// The directory.
        dir: PathBuf,
    },
    /// Several files are tarballs and none is `rootfs.tar*`.
    #[error("{}: several tarballs, name one: {}", dir.display(), list(found))]
    SeveralTarballs {
        /// The directory.
        dir: PathBuf,
        /// The tarballs, sorted.
        found: Vec<PathBuf>,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// `path` itself when it is not a directory; in a release directory, its tarball
/// (`rootfs.tar*` first, else the only `*.tar*` file that is not a checksum or signature) and
/// its `oci/` layout.
pub fn locate(path: &Path) -> Result<Located, Error> {
    if !path.is_dir() {
        return Ok(Located {
            tarball: path.to_path_buf(),
            layout: None,
        });
    }
    let read = |e| Error::Read {
        dir: path.to_path_buf(),
        source: e,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(read)? {
        let Ok(entry) = entry else { continue };
        let file = entry.path();
        if file.is_file() {
            files.push(file);
        }
    }
    let tarball = pick_tarball(path, files)?;
    let oci = path.join("oci");
    Ok(Located {
        tarball,
        layout: oci.join("index.json").is_file().then_some(oci),
    })
}

/// The tarball among the regular files of release directory `dir`.
fn pick_tarball(dir: &Path, files: Vec<PathBuf>) -> Result<PathBuf, Error> {
    let name = |f: &Path| {
        f.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut tarballs: Vec<PathBuf> = files
        .into_iter()
        .filter(|f| {
            let n = name(f);
            n.contains(".tar") && !NOT_TARBALLS.iter().any(|x| n.ends_with(x))
        })
        .collect();
    tarballs.sort();
    if let Some(t) = tarballs.iter().find(|f| name(f).starts_with("rootfs.tar")) {
        return Ok(t.clone());
    }
    match <[PathBuf; 1]>::try_from(tarballs) {
        Ok([one]) => Ok(one),
        Err(v) if v.is_empty() => Err(Error::NoTarball {
            dir: dir.to_path_buf(),
        }),
        Err(v) => Err(Error::SeveralTarballs {
            dir: dir.to_path_buf(),
            found: v,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pick(names: &[&str]) -> Result<String, Error> {
        let files = names.iter().map(|n| Path::new("d").join(n)).collect();
        pick_tarball(Path::new("d"), files).map(|p| p.display().to_string())
    }

    #[test]
    fn debian_prefers_rootfs_tar() {
        let names = [
            "rootfs.tar.xz",
            "rootfs.tar.xz.sha256",
            "rootfs.debuerreotype-epoch",
            "rootfs.manifest",
            "slim.tar.xz",
        ];
        assert_eq!(pick(&names).unwrap(), "d/rootfs.tar.xz");
    }

    #[test]
    fn ubuntu_has_one_tarball_beside_its_checksums_and_signatures() {
        let names = [
            "ubuntu-noble-oci-amd64-root.tar.gz",
            "ubuntu-noble-oci-amd64-root.tar.gz.sha256",
            "ubuntu-noble-oci-amd64-root.tar.gz.asc",
            "ubuntu-noble-oci-amd64-root.tar.gz.sig",
            "ubuntu-noble-oci-amd64-root.tar.gz.gpg",
            "ubuntu-noble-oci-amd64-root.tar.manifest",
        ];
        assert_eq!(
            pick(&names).unwrap(),
            "d/ubuntu-noble-oci-amd64-root.tar.gz"
        );
    }

    #[test]
    fn none_or_several_are_errors_naming_them() {
        assert!(matches!(pick(&["a.sha256"]), Err(Error::NoTarball { .. })));
        let e = pick(&["b.tar", "a.tar.gz"]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "d: several tarballs, name one: d/a.tar.gz, d/b.tar"
        );
    }

    #[test]
    fn a_directory_gives_its_tarball_and_oci_layout() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("rootfs.tar.xz"), b"").unwrap();
        std::fs::create_dir(dir.path().join("sub.tar")).unwrap();
        let found = locate(dir.path()).unwrap();
        assert_eq!(found.tarball, dir.path().join("rootfs.tar.xz"));
        assert_eq!(found.layout, None);
        std::fs::create_dir(dir.path().join("oci")).unwrap();
        std::fs::write(dir.path().join("oci/index.json"), b"{}").unwrap();
        assert_eq!(
            locate(dir.path()).unwrap().layout,
            Some(dir.path().join("oci"))
        );
        let file = dir.path().join("rootfs.tar.xz");
        assert_eq!(locate(&file).unwrap().tarball, file);
    }
}
