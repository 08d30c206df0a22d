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

fn field_changes(
    ours: &ScannedEntry,
    theirs: &ScannedEntry,
    groups: (Option<&LinkGroup>, Option<&LinkGroup>),
) -> Vec<FieldChange> {
    let mut v = Vec::new();
    let mut push = |field: &str, level: Level, rebuilt: String, published: String| {
        v.push(FieldChange {
            field: field.into(),
            level,
            rebuilt,
            published,
        })
    };
    use Level::{Content, Tar};
    if ours.kind != theirs.kind {
        push(
            "type",
            Content,
            ours.kind.as_str().into(),
            theirs.kind.as_str().into(),
        );
    }
    if ours.content != theirs.content {
        push(
            "content",
            Content,
            show_content(&ours.content),
            show_content(&theirs.content),
        );
    }
    if ours.perm() != theirs.perm() {
        push(
            "mode",
            Content,
            format!("{:04o}", ours.perm()),
            format!("{:04o}", theirs.perm()),
        );
    }
    if ours.header.uid != theirs.header.uid {
        push(
            "uid",
            Content,
            ours.header.uid.to_string(),
            theirs.header.uid.to_string(),
        );
    }
    if ours.header.gid != theirs.header.gid {
        push(
            "gid",
            Content,
            ours.header.gid.to_string(),
            theirs.header.gid.to_string(),
        );
    }
    let is_symlink = ours.kind == crate::layerscan::EntryKind::Symlink;
    if is_symlink && ours.header.linkname != theirs.header.linkname {
        push(
            "link-target",
            Content,
            lossy(&ours.header.linkname),
            lossy(&theirs.header.linkname),
        );
    }
    let is_dev = matches!(
        ours.kind,
        crate::layerscan::EntryKind::Char | crate::layerscan::EntryKind::Block
    );
    let dev = |e: &ScannedEntry| (e.header.devmajor, e.header.devminor);
    if is_dev && dev(ours) != dev(theirs) {
        push(
            "device",
            Content,
            format!("{}:{}", ours.header.devmajor, ours.header.devminor),
            format!("{}:{}", theirs.header.devmajor, theirs.header.devminor),
        );
    }
    let (xattrs_ours, xattrs_theirs) = (ours.xattrs(), theirs.xattrs());
    let keys: BTreeSet<&[u8]> = xattrs_ours
        .keys()
        .chain(xattrs_theirs.keys())
        .copied()
        .collect();
    for k in keys {
        let (a, b) = (xattrs_ours.get(k), xattrs_theirs.get(k));
        if a != b {
            let show = |x: Option<&&[u8]>| {
                x.map_or_else(
                    || "(absent)".to_string(),
                    |x| format!("0x{}", hex::encode(x)),
                )
            };
            push(&format!("xattr:{}", lossy(k)), Content, show(a), show(b));
        }
    }
    if groups.0 != groups.1 {
        push(
            "hardlink-group",
            Content,
            show_group(groups.0),
            show_group(groups.1),
        );
    } else if ours.hardlink_to != theirs.hardlink_to {
        let show = |e: &ScannedEntry| match &e.hardlink_to {
            Some(t) => format!("link to {}", display_path(t)),
            None => "carries the data".into(),
        };
        push("hardlink-direction", Tar, show(ours), show(theirs));
    }
    if ours.header.mtime != theirs.header.mtime {
        push(
            "mtime",
            Tar,
            show_time(ours.header.mtime),
            show_time(theirs.header.mtime),
        );
    }
    if ours.header.uname != theirs.header.uname {
        push(
            "uname",
            Tar,
            lossy(&ours.header.uname),
            lossy(&theirs.header.uname),
        );
    }
    if ours.header.gname != theirs.header.gname {
        push(
            "gname",
            Tar,
            lossy(&ours.header.gname),
            lossy(&theirs.header.gname),
        );
    }
    if ours.format != theirs.format {
        push(
            "header-format",
            Tar,
            ours.format.into(),
            theirs.format.into(),
        );
    }
    let (ta, tb) = (ours.header.mode & !0o7777, theirs.header.mode & !0o7777);
    if ta != tb {
        push(
            "mode-type-bits",
            Tar,
            format!("{:o}", ours.header.mode),
            format!("{:o}", theirs.header.mode),
        );
    }
    v
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
