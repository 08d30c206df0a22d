//! A local content-addressed cache of verified blobs (`<cache dir>/layerproof/blobs/sha256/<hex>`).
//!
//! Only bytes that matched their digest are stored (they are spooled to a temporary file in the
//! cache and renamed into place after verification), and every read verifies them again.
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, VerifiedReader};
use crate::error::Error;
use crate::manifest::Descriptor;
use crate::source::BlobReader;

/// A blob cache rooted at a directory.
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
}

impl BlobCache {
    /// A cache in `dir` (created when first written).
    pub fn new(dir: impl Into<PathBuf>) -> BlobCache {
        BlobCache { dir: dir.into() }
    }

    /// The user's cache directory: `$XDG_CACHE_HOME/layerproof` or `~/.cache/layerproof` on Linux.
    pub fn user_default() -> Option<BlobCache> {
        dirs::cache_dir().map(|d| BlobCache::new(d.join("layerproof")))
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, d: &Digest) -> PathBuf {
        self.dir.join("blobs").join(d.algorithm()).join(d.hex())
    }

    /// A verifying reader over a cached blob, or `None` when absent. A cached file of the wrong
    /// size is removed; wrong content is reported by the reader at end of stream.
    pub fn get(&self, desc: &Descriptor) -> Result<Option<BlobReader>, Error> {
        let p = self.path(&desc.digest);
        let f = match File::open(&p) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(p, e)),
        };
        let len = f.metadata().map_err(|e| Error::io(&p, e))?.len();
        if len != desc.size {
            let _ = std::fs::remove_file(&p);
            return Ok(None);
        }
        Ok(Some(VerifiedReader::new(
            Box::new(f),
            desc.digest.clone(),
            Some(desc.size),
            format!("cached blob {}", p.display()),
        )))
    }

    /// A temporary file inside the cache to spool a download into.
    pub(crate) fn spool(&self) -> Result<tempfile::NamedTempFile, Error> {
        let tmp = self.dir.join("tmp");
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        tempfile::NamedTempFile::new_in(&tmp).map_err(|e| Error::io(&tmp, e))
    }

    /// Moves a verified spool file into place.
    pub(crate) fn commit(
        &self,
        mut tmp: tempfile::NamedTempFile,
        d: &Digest,
    ) -> Result<PathBuf, Error> {
        let p = self.path(d);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
        tmp.flush().map_err(|e| Error::io(tmp.path(), e))?;
        tmp.persist(&p).map_err(|e| Error::io(&p, e.error))?;
        Ok(p)
    }
}
