//! Free parameters recovered from a published layer.
//!
//! A rebuild depends on a few values only the original build knew: the wall-clock time Docker
//! stamped on directories the tarball does not list, the uid/gid → name table of engines that
//! look names up, and the metadata of a source Docker copied instead of unpacking. These may be
//! taken from the published layer; **file contents, modes, owners and every listed entry's
//! metadata never are** — those must come from the tarball, or the proof proves nothing.

use std::collections::BTreeMap;
use std::io::Read;

use layerproof_archive::Timestamp;
use layerproof_archive::header::{Header, typeflag};
use layerproof_archive::read;
use layerproof_layer::NameTable;

/// What a published layer says about the free parameters.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// Directory path (no trailing slash) → mtime, for every directory entry.
    pub dir_mtimes: BTreeMap<Vec<u8>, Timestamp>,
    /// uid → uname and gid → gname, from every header with a non-empty name.
    pub names: NameTable,
    /// True when at least one header carries a uname or gname.
    pub has_names: bool,
    /// Path → (permission bits, mtime) of every regular file (used for a plain-copied source).
    pub files: BTreeMap<Vec<u8>, (u32, Timestamp)>,
}

impl Published {
    /// Take what one header of a published layer says.
    pub fn note_header(&mut self, h: &Header) {
        let path = crate::layerscan::normalise(&h.name);
        match h.typeflag {
            typeflag::DIR => {
                self.dir_mtimes.insert(path, h.mtime);
            }
            typeflag::REG => {
                self.files.insert(path, (h.perm(), h.mtime));
            }
            _ => {}
        }
        self.has_names |= self.names.note_header(h.uid, &h.uname, h.gid, &h.gname);
    }
}

/// Read the headers of a layer tar (uncompressed) and collect the free parameters.
pub fn from_layer<R: Read>(layer: R) -> Result<Published, read::Error> {
    let mut reader = read::Reader::new(layer);
    let mut out = Published::default();
    while let Some(h) = reader.next_header()? {
        out.note_header(&h);
    }
    Ok(out)
}
