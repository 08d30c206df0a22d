//! The free parameters: the few values a rebuild may take from a published layer, and the one
//! rule that applies them.
//!
//! A rebuild depends on a few values only the original build knew: the wall-clock time Docker
//! stamped on directories the tarball does not list, the uid/gid → name table of engines that
//! look names up, and the mtime of a source Docker copied instead of unpacking (its time in the
//! build context, a checkout time). [`Published`] collects them from a layer's headers,
//! [`apply`] puts them into a rebuild's [`Params`] (the verifier and [`crate::conformance`] both
//! go through it), and [`describe`] says what was taken and why.
//!
//! **File contents, modes, owners and every listed entry's metadata never come from the
//! published side** — not even the copied source's permissions, which are the build context's —
//! or the proof proves nothing.

use std::collections::BTreeMap;
use std::io::Read;

use layerproof_archive::Timestamp;
use layerproof_archive::read;
use layerproof_archive::tar::{Header, typeflag};
use layerproof_archive::unpack::Hazard;
use layerproof_layer::profile::OwnerNames;
use layerproof_layer::{NameTable, Profile};

use serde::Serialize;

use crate::paths::{display_path, normalise};
use crate::rebuild::{Params, Prepared, Treatment};

/// What a published layer says about the free parameters.
#[derive(Debug, Clone, Default)]
pub struct Published {
    /// Directory path (no trailing slash) → mtime, for every directory entry.
    pub dir_mtimes: BTreeMap<Vec<u8>, Timestamp>,
    /// uid → uname and gid → gname, from every header with a non-empty name.
    pub names: NameTable,
    /// True when at least one header carries a uname or gname.
    pub has_names: bool,
    /// Path → mtime of every regular file (for a plain-copied source).
    pub files: BTreeMap<Vec<u8>, Timestamp>,
}

/// A value taken from the published side, and why that is legitimate.
#[derive(Debug, Clone, Serialize)]
pub struct Inferred {
    /// The parameter.
    pub parameter: String,
    /// Its value.
    pub value: String,
    /// Why it may be taken from the published image.
    pub why: String,
}

impl Published {
    /// Take what one header of a published layer says.
    pub fn note_header(&mut self, h: &Header) {
        let path = normalise(&h.name);
        match h.typeflag {
            typeflag::DIR => {
                self.dir_mtimes.insert(path, h.mtime);
            }
            typeflag::REG => {
                self.files.insert(path, h.mtime);
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

/// Apply the free parameters `published` decides to `params` for `profile`: the implied
/// directories' times, the owner-name table when `profile` looks names up (other engines write
/// none), and the mtime of a source copied as it is. Nothing else is taken: the copied source's
/// permissions stay those of the build context (`params.plain_file.perm`).
pub fn apply(published: &Published, profile: &Profile, params: &mut Params<'_>) {
    params.implied_times = published.dir_mtimes.clone();
    if profile.owner_names.value == OwnerNames::Lookup && published.has_names {
        params.names = Some(published.names.clone());
    }
    if let Some(t) = copied_file_mtime(published, &params.source_name) {
        params.plain_file.mtime = t;
    }
}

/// The time the published layer gives a source copied as it is (named `name`), if it has one.
fn copied_file_mtime(published: &Published, name: &[u8]) -> Option<Timestamp> {
    published.files.get(name).copied()
}

/// The free parameters [`apply`] took for `profile`, with why each may come from the published
/// side: the profile itself when it was chosen by trial (`auto`), and what `prepared` (the
/// tree `profile` wrote, for a source named `source_name`) needed.
pub fn describe(
    published: &Published,
    profile: &Profile,
    source_name: &[u8],
    prepared: Option<&Prepared>,
    auto: bool,
) -> Vec<Inferred> {
    let mut out = Vec::new();
    if auto {
        out.push(Inferred {
            parameter: "profile".into(),
            value: profile.name.into(),
            why: format!(
                "{} ({})",
                "the first engine profile whose layer matches, tried most plausible first",
                profile.summary
            ),
        });
    }
    if let Some(p) = prepared {
        let implied: Vec<String> = p
            .hazards
            .iter()
            .filter_map(|h| match h {
                Hazard::ImpliedDirectory { path } => {
                    let key = normalise(path.as_bytes());
                    published
                        .dir_mtimes
                        .get(&key)
                        .map(|t| format!("{}/ = {}", display_path(&key), t.sec))
                }
                _ => None,
            })
            .collect();
        if !implied.is_empty() {
            out.push(Inferred {
                parameter: "implied-directory-mtime".into(),
                value: implied.join(", "),
                why: "the tarball does not list these directories; Docker creates them with the \
                      build's wall-clock time, which only the published layer records"
                    .into(),
            });
        }
        if matches!(p.treatment, Treatment::Copied { .. })
            && let Some(t) = copied_file_mtime(published, source_name)
        {
            out.push(Inferred {
                parameter: "copied-file-mtime".into(),
                value: t.sec.to_string(),
                why: "the source is copied, not unpacked; its mtime in the build context (a \
                      checkout time) is not part of the tarball"
                    .into(),
            });
        }
    }
    if profile.owner_names.value == OwnerNames::Lookup && published.has_names {
        out.push(Inferred {
            parameter: "owner-names".into(),
            value: published.names.describe(),
            why: "this engine fills uname/gname from the build host's user database; the table \
                  is read from the published headers"
                .into(),
        });
    }
    out
}
