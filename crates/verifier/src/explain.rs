//! File-level explanation of why two layers differ.
//!
//! [`compare`] takes two [`Scan`]s (ours, rebuilt from the tarball, and the published one) and
//! names every difference, sorted into two levels:
//!
//! * **content** — what a container would see: an entry missing or extra, its type, file
//!   contents, permission bits, owner ids, link target, device numbers, kept xattrs, and which
//!   paths share an inode (hard-link groups);
//! * **tar** — how the same files were encoded: mtimes, uname/gname, header format, file-type
//!   bits in the mode field, which path of a hard-link group carries the data, entry order.
//!
//! Two layers with differences at the tar level only are *content-equivalent*. Differences are
//! grouped by field with counts and examples so that the cause is on the first screen.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use layerproof_archive::Header;
use serde::Serialize;

use crate::layerscan::{Scan, ScannedEntry, display_path};

/// How deep a difference goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// Files, owners, modes, contents, link targets, kept xattrs.
    Content,
    /// Tar encoding only.
    Tar,
}

/// One field that differs on one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldChange {
    /// The field: `type`, `content`, `mode`, `uid`, `gid`, `link-target`, `device`,
    /// `xattr:<name>`, `hardlink-group`, `mtime`, `uname`, `gname`, `header-format`,
    /// `mode-type-bits`, `hardlink-direction`.
    pub field: String,
    /// Its level.
    pub level: Level,
    /// Our value (rebuilt from the tarball).
    pub rebuilt: String,
    /// The published value.
    pub published: String,
}

/// What happened to one path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// In our layer, not in the published one.
    Missing,
    /// In the published layer, not in ours.
    Extra,
    /// In both, with different fields.
    Changed,
}

/// One path that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntryDiff {
    /// `/`-rooted path.
    pub path: String,
    /// What happened.
    pub change: Change,
    /// The differing fields (for [`Change::Changed`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<FieldChange>,
}

/// All differences of one field (or one kind of missing/extra), counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Group {
    /// `missing`, `extra`, or a field name of [`FieldChange`].
    pub kind: String,
    /// Its level.
    pub level: Level,
    /// How many entries.
    pub count: usize,
    /// A human sentence with up to three examples.
    pub summary: String,
}

/// The explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Differences {
    /// No content-level difference: the layers hold the same files.
    pub content_equivalent: bool,
    /// Groups, content-level first, biggest first within a level.
    pub groups: Vec<Group>,
    /// Whole-archive causes (entry order, trailer), as sentences.
    pub tar: Vec<String>,
    /// Per-entry differences, in path order (capped at [`MAX_ENTRIES`]).
    pub entries: Vec<EntryDiff>,
    /// Entries left out of `entries` because of the cap.
    pub entries_omitted: usize,
}

/// Cap on [`Differences::entries`].
pub const MAX_ENTRIES: usize = 500;

impl Differences {
    /// Whether nothing at all differs at entry level (the difference, if any, is in bytes the
    /// entries do not describe: padding, trailer).
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.tar.is_empty()
    }

    /// The content-level groups.
    pub fn content_groups(&self) -> impl Iterator<Item = &Group> {
        self.groups.iter().filter(|g| g.level == Level::Content)
    }
}

fn hex8(d: &[u8; 32]) -> String {
    hex::encode(&d[..6])
}

fn show_content(c: &Option<(u64, [u8; 32])>) -> String {
    match c {
        Some((n, d)) => format!("{n} bytes sha256:{}…", hex8(d)),
        None => "(none)".into(),
    }
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn show_time(t: layerproof_archive::Timestamp) -> String {
    if t.nsec == 0 {
        format!("{}", t.sec)
    } else {
        format!("{}.{:09}", t.sec, t.nsec)
    }
}

/// The sorted paths of one hard-link group.
type LinkGroup = Vec<Vec<u8>>;

/// Hard-link groups: each path → the sorted set of paths sharing its inode (only for members of
/// a group of two or more).
fn link_groups(scan: &Scan) -> BTreeMap<Vec<u8>, LinkGroup> {
    // union-find over entry indexes
    let n = scan.entries.len();
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for (i, e) in scan.entries.iter().enumerate() {
        if let Some(t) = &e.hardlink_to
            && let Some(&j) = scan.by_path.get(t)
        {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a] = b;
        }
    }
    let mut sets: BTreeMap<usize, Vec<Vec<u8>>> = BTreeMap::new();
    for i in 0..n {
        let r = find(&mut parent, i);
        sets.entry(r)
            .or_default()
            .push(scan.entries[i].path.clone());
    }
    let mut out = BTreeMap::new();
    for (_, mut set) in sets {
        if set.len() < 2 {
            continue;
        }
        set.sort();
        set.dedup();
        for p in &set {
            out.insert(p.clone(), set.clone());
        }
    }
    out
}

fn show_group(g: Option<&LinkGroup>) -> String {
    match g {
        None => "(not hard-linked)".into(),
        Some(v) => v
            .iter()
            .map(|p| display_path(p))
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The field changes of one path, in the order the report lists them: content-level fields
/// first, then the hard-link relation, then tar-level fields.
fn field_changes(
    ours: &ScannedEntry,
    theirs: &ScannedEntry,
    groups: (Option<&LinkGroup>, Option<&LinkGroup>),
) -> Vec<FieldChange> {
    let mut changes = Changes(Vec::new());
    content_changes(&mut changes, ours, theirs);
    link_changes(&mut changes, ours, theirs, groups);
    tar_changes(&mut changes, ours, theirs);
    changes.0
}

/// The changes found so far for one path.
struct Changes(Vec<FieldChange>);

impl Changes {
    /// Records `field` when `differ`, rendering both sides only then.
    fn check(
        &mut self,
        differ: bool,
        field: &str,
        level: Level,
        show: impl FnOnce() -> (String, String),
    ) {
        if differ {
            let (rebuilt, published) = show();
            self.0.push(FieldChange {
                field: field.into(),
                level,
                rebuilt,
                published,
            });
        }
    }
}

/// Type, content, permissions, owner ids, link target, device numbers and xattrs.
fn content_changes(c: &mut Changes, ours: &ScannedEntry, theirs: &ScannedEntry) {
    use crate::layerscan::EntryKind;
    let (a, b) = (&ours.header, &theirs.header);
    c.check(ours.kind != theirs.kind, "type", Level::Content, || {
        (ours.kind.as_str().into(), theirs.kind.as_str().into())
    });
    c.check(
        ours.content != theirs.content,
        "content",
        Level::Content,
        || (show_content(&ours.content), show_content(&theirs.content)),
    );
    c.check(ours.perm() != theirs.perm(), "mode", Level::Content, || {
        (
            format!("{:04o}", ours.perm()),
            format!("{:04o}", theirs.perm()),
        )
    });
    c.check(a.uid != b.uid, "uid", Level::Content, || {
        (a.uid.to_string(), b.uid.to_string())
    });
    c.check(a.gid != b.gid, "gid", Level::Content, || {
        (a.gid.to_string(), b.gid.to_string())
    });
    let is_symlink = ours.kind == EntryKind::Symlink;
    c.check(
        is_symlink && a.linkname != b.linkname,
        "link-target",
        Level::Content,
        || (lossy(&a.linkname), lossy(&b.linkname)),
    );
    let is_dev = matches!(ours.kind, EntryKind::Char | EntryKind::Block);
    let dev = |h: &Header| (h.devmajor, h.devminor);
    c.check(is_dev && dev(a) != dev(b), "device", Level::Content, || {
        (
            format!("{}:{}", a.devmajor, a.devminor),
            format!("{}:{}", b.devmajor, b.devminor),
        )
    });
    let (xattrs_ours, xattrs_theirs) = (ours.xattrs(), theirs.xattrs());
    let keys: BTreeSet<&[u8]> = xattrs_ours
        .keys()
        .chain(xattrs_theirs.keys())
        .copied()
        .collect();
    let show = |x: Option<&&[u8]>| {
        x.map_or_else(
            || "(absent)".to_string(),
            |x| format!("0x{}", hex::encode(x)),
        )
    };
    for k in keys {
        let (x, y) = (xattrs_ours.get(k), xattrs_theirs.get(k));
        c.check(
            x != y,
            &format!("xattr:{}", lossy(k)),
            Level::Content,
            || (show(x), show(y)),
        );
    }
}

/// The hard-link group (content level) or, within equal groups, which path carries the data
/// (tar level).
fn link_changes(
    c: &mut Changes,
    ours: &ScannedEntry,
    theirs: &ScannedEntry,
    groups: (Option<&LinkGroup>, Option<&LinkGroup>),
) {
    if groups.0 != groups.1 {
        c.check(true, "hardlink-group", Level::Content, || {
            (show_group(groups.0), show_group(groups.1))
        });
    } else {
        let show = |e: &ScannedEntry| match &e.hardlink_to {
            Some(t) => format!("link to {}", display_path(t)),
            None => "carries the data".into(),
        };
        c.check(
            ours.hardlink_to != theirs.hardlink_to,
            "hardlink-direction",
            Level::Tar,
            || (show(ours), show(theirs)),
        );
    }
}

/// mtime, owner names, header format and the mode's file-type bits.
fn tar_changes(c: &mut Changes, ours: &ScannedEntry, theirs: &ScannedEntry) {
    let (a, b) = (&ours.header, &theirs.header);
    c.check(a.mtime != b.mtime, "mtime", Level::Tar, || {
        (show_time(a.mtime), show_time(b.mtime))
    });
    c.check(a.uname != b.uname, "uname", Level::Tar, || {
        (lossy(&a.uname), lossy(&b.uname))
    });
    c.check(a.gname != b.gname, "gname", Level::Tar, || {
        (lossy(&a.gname), lossy(&b.gname))
    });
    c.check(
        ours.format != theirs.format,
        "header-format",
        Level::Tar,
        || (ours.format.into(), theirs.format.into()),
    );
    let type_bits = |h: &Header| h.mode & !0o7777;
    c.check(
        type_bits(a) != type_bits(b),
        "mode-type-bits",
        Level::Tar,
        || (format!("{:o}", a.mode), format!("{:o}", b.mode)),
    );
}

/// Compare our layer with the published one.
pub fn compare(ours: &Scan, theirs: &Scan) -> Differences {
    let (gours, gtheirs) = (link_groups(ours), link_groups(theirs));
    let mut all: Vec<EntryDiff> = Vec::new();
    let paths: BTreeSet<&Vec<u8>> = ours.by_path.keys().chain(theirs.by_path.keys()).collect();
    for p in paths {
        match (ours.by_path.get(p), theirs.by_path.get(p)) {
            (Some(&i), Some(&j)) => {
                let fields = field_changes(
                    &ours.entries[i],
                    &theirs.entries[j],
                    (gours.get(p), gtheirs.get(p)),
                );
                if !fields.is_empty() {
                    all.push(EntryDiff {
                        path: display_path(p),
                        change: Change::Changed,
                        fields,
                    });
                }
            }
            (Some(_), None) => all.push(EntryDiff {
                path: display_path(p),
                change: Change::Missing,
                fields: Vec::new(),
            }),
            (None, Some(_)) => all.push(EntryDiff {
                path: display_path(p),
                change: Change::Extra,
                fields: Vec::new(),
            }),
            (None, None) => {}
        }
    }

    let mut tar = Vec::new();
    if let Some(s) = order_difference(ours, theirs) {
        tar.push(s);
    }
    let dup = |s: &Scan| s.entries.len() - s.by_path.len();
    if dup(ours) != dup(theirs) {
        tar.push(format!(
            "repeated paths: {} in ours, {} in the published layer",
            dup(ours),
            dup(theirs)
        ));
    }

    let groups = group(&all);
    let content_equivalent = groups.iter().all(|g| g.level == Level::Tar);
    let entries_omitted = all.len().saturating_sub(MAX_ENTRIES);
    all.truncate(MAX_ENTRIES);
    Differences {
        content_equivalent,
        groups,
        tar,
        entries: all,
        entries_omitted,
    }
}

/// The first place where the sequence of paths present on both sides diverges.
fn order_difference(ours: &Scan, theirs: &Scan) -> Option<String> {
    let common = |a: &Scan, b: &Scan| -> Vec<Vec<u8>> {
        a.entries
            .iter()
            .filter(|e| b.by_path.contains_key(&e.path))
            .map(|e| e.path.clone())
            .collect()
    };
    let (a, b) = (common(ours, theirs), common(theirs, ours));
    let pos = a.iter().zip(&b).position(|(x, y)| x != y)?;
    Some(format!(
        "entry order differs from common entry {}: ours writes {} where the published layer has {}",
        pos + 1,
        display_path(&a[pos]),
        display_path(&b[pos])
    ))
}

fn group(all: &[EntryDiff]) -> Vec<Group> {
    // kind → (level, examples)
    let mut by: BTreeMap<String, (Level, Vec<String>)> = BTreeMap::new();
    for d in all {
        match d.change {
            Change::Missing => by
                .entry("missing".into())
                .or_insert((Level::Content, Vec::new()))
                .1
                .push(d.path.clone()),
            Change::Extra => by
                .entry("extra".into())
                .or_insert((Level::Content, Vec::new()))
                .1
                .push(d.path.clone()),
            Change::Changed => {
                for f in &d.fields {
                    by.entry(f.field.clone())
                        .or_insert((f.level, Vec::new()))
                        .1
                        .push(format!("{} ({} → {})", d.path, f.rebuilt, f.published));
                }
            }
        }
    }
    let mut groups: Vec<Group> = by
        .into_iter()
        .map(|(kind, (level, examples))| {
            let count = examples.len();
            let what = match kind.as_str() {
                "missing" => "in the tarball but not in the published layer".to_string(),
                "extra" => "in the published layer but not in the tarball".to_string(),
                k => format!("{k} differs (rebuilt → published)"),
            };
            let mut summary = format!(
                "{count} {} {what}: ",
                if count == 1 { "entry" } else { "entries" }
            );
            for (i, e) in examples.iter().take(3).enumerate() {
                if i > 0 {
                    summary.push_str("; ");
                }
                summary.push_str(e);
            }
            if count > 3 {
                let _ = write!(summary, "; and {} more", count - 3);
            }
            Group {
                kind,
                level,
                count,
                summary,
            }
        })
        .collect();
    groups.sort_by(|a, b| a.level.cmp(&b.level).then(b.count.cmp(&a.count)));
    groups
}

#[cfg(test)]
mod tests {
    use layerproof_archive::{Header, Timestamp};

    use super::*;
    use crate::layerscan::EntryKind;

    fn entry(kind: EntryKind, header: Header) -> ScannedEntry {
        ScannedEntry {
            index: 0,
            header,
            path: b"dev/x".to_vec(),
            kind,
            hardlink_to: None,
            content: None,
            format: "ustar",
        }
    }

    fn fields(changes: &[FieldChange]) -> Vec<(&str, Level, &str, &str)> {
        changes
            .iter()
            .map(|c| {
                (
                    c.field.as_str(),
                    c.level,
                    c.rebuilt.as_str(),
                    c.published.as_str(),
                )
            })
            .collect()
    }

    #[test]
    fn every_field_is_named_in_report_order_with_its_level() {
        let ours = entry(
            EntryKind::Char,
            Header {
                mode: 0o020644,
                uid: 1,
                gid: 2,
                uname: b"a".to_vec(),
                gname: b"b".to_vec(),
                mtime: Timestamp { sec: 1, nsec: 0 },
                devmajor: 1,
                devminor: 3,
                pax_records: [(b"SCHILY.xattr.user.k".to_vec(), b"\x01".to_vec())].into(),
                ..Header::default()
            },
        );
        let mut theirs = entry(
            EntryKind::Char,
            Header {
                mode: 0o0755,
                mtime: Timestamp { sec: 2, nsec: 0 },
                devmajor: 1,
                devminor: 5,
                ..Header::default()
            },
        );
        theirs.format = "pax";
        let got = field_changes(&ours, &theirs, (None, None));
        let names: Vec<_> = fields(&got).iter().map(|f| (f.0, f.1)).collect();
        use Level::{Content, Tar};
        assert_eq!(
            names,
            [
                ("mode", Content),
                ("uid", Content),
                ("gid", Content),
                ("device", Content),
                ("xattr:user.k", Content),
                ("mtime", Tar),
                ("uname", Tar),
                ("gname", Tar),
                ("header-format", Tar),
                ("mode-type-bits", Tar),
            ]
        );
        let f = fields(&got);
        assert_eq!(f[0], ("mode", Content, "0644", "0755"));
        assert_eq!(f[3], ("device", Content, "1:3", "1:5"));
        assert_eq!(f[4], ("xattr:user.k", Content, "0x01", "(absent)"));
        assert_eq!(f[8], ("header-format", Tar, "ustar", "pax"));
        assert_eq!(f[9], ("mode-type-bits", Tar, "20644", "755"));
    }

    #[test]
    fn link_group_hides_direction_and_kind_gates_link_and_device_fields() {
        let mut ours = entry(
            EntryKind::File,
            Header {
                linkname: b"a".to_vec(),
                devmajor: 9,
                ..Header::default()
            },
        );
        let mut theirs = entry(EntryKind::File, Header::default());
        ours.hardlink_to = Some(b"bin/sh".to_vec());
        let group: LinkGroup = vec![b"bin/sh".to_vec(), b"dev/x".to_vec()];
        // Same group: only which path carries the data differs (tar level).
        let same = field_changes(&ours, &theirs, (Some(&group), Some(&group)));
        assert_eq!(
            fields(&same),
            [(
                "hardlink-direction",
                Level::Tar,
                "link to /bin/sh",
                "carries the data"
            )]
        );
        // Different groups: the group is named (content level), the direction is not.
        let differ = field_changes(&ours, &theirs, (Some(&group), None));
        assert_eq!(
            fields(&differ),
            [(
                "hardlink-group",
                Level::Content,
                "/bin/sh, /dev/x",
                "(not hard-linked)"
            )]
        );
        // A type change is reported first; link targets only compare for symlinks.
        theirs.kind = EntryKind::Symlink;
        ours.hardlink_to = None;
        let kind = field_changes(&ours, &theirs, (None, None));
        assert_eq!(fields(&kind), [("type", Level::Content, "file", "symlink")]);
    }
}
