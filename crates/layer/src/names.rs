//! uid → user name and gid → group name tables, for engines that fill `Uname`/`Gname`.
//!
//! Debian's Docker 20.10 build uses Go's stdlib `tar.FileInfoHeader`, which looks every file's
//! uid and gid up in the daemon host's user database (`os/user`, first match wins, unknown ids
//! give an empty name). We never consult the host: the table is data, built from a
//! `passwd`/`group` pair (e.g. the rootfs's own `/etc/passwd` and `/etc/group` via
//! [`NameTable::from_tree`], or files the user names), or filled by hand.

use std::collections::BTreeMap;
use std::io::Read;

use layerproof_archive::Tree;
use layerproof_archive::tree::{Kind, ROOT};

/// uid → name and gid → name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameTable {
    users: BTreeMap<i64, Vec<u8>>,
    groups: BTreeMap<i64, Vec<u8>>,
}

impl NameTable {
    /// An empty table (every lookup misses, so names stay empty).
    pub fn new() -> Self {
        Self::default()
    }

    /// Set the name of `uid` (replacing any earlier one).
    pub fn insert_user(&mut self, uid: i64, name: impl Into<Vec<u8>>) {
        self.users.insert(uid, name.into());
    }

    /// Set the name of `gid` (replacing any earlier one).
    pub fn insert_group(&mut self, gid: i64, name: impl Into<Vec<u8>>) {
        self.groups.insert(gid, name.into());
    }

    /// Learn names from one layer header: a non-empty uname names its uid, a non-empty gname
    /// its gid; the first name seen for an id is kept. Returns true when either name was
    /// non-empty.
    pub fn note_header(&mut self, uid: i64, uname: &[u8], gid: i64, gname: &[u8]) -> bool {
        if !uname.is_empty() {
            self.users.entry(uid).or_insert_with(|| uname.to_vec());
        }
        if !gname.is_empty() {
            self.groups.entry(gid).or_insert_with(|| gname.to_vec());
        }
        !uname.is_empty() || !gname.is_empty()
    }

    /// The user name for `uid`, if known.
    pub fn user(&self, uid: i64) -> Option<&[u8]> {
        self.users.get(&uid).map(Vec::as_slice)
    }

    /// The group name for `gid`, if known.
    pub fn group(&self, gid: i64) -> Option<&[u8]> {
        self.groups.get(&gid).map(Vec::as_slice)
    }

    /// Number of known users and groups.
    pub fn len(&self) -> (usize, usize) {
        (self.users.len(), self.groups.len())
    }

    /// The table for messages: `users 0=root, 1000=app; groups 0=root`.
    pub fn describe(&self) -> String {
        let show = |m: &BTreeMap<i64, Vec<u8>>| {
            m.iter()
                .map(|(id, n)| format!("{id}={}", String::from_utf8_lossy(n)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!("users {}; groups {}", show(&self.users), show(&self.groups))
    }

    /// True when no name is known.
    pub fn is_empty(&self) -> bool {
        self.users.is_empty() && self.groups.is_empty()
    }

    /// Parse `passwd(5)` and `group(5)` contents: `name:x:id:...` lines. The first line for an id
    /// wins (as `getpwuid` and Go's pure lookup do); comments, blank and malformed lines are
    /// skipped.
    pub fn from_passwd_group(passwd: &[u8], group: &[u8]) -> Self {
        let mut t = NameTable::new();
        for (name, id) in entries(passwd) {
            t.users.entry(id).or_insert(name);
        }
        for (name, id) in entries(group) {
            t.groups.entry(id).or_insert(name);
        }
        t
    }

    /// Read `etc/passwd` and `etc/group` from the tree (regular files only; a missing or
    /// non-regular file contributes nothing).
    pub fn from_tree(tree: &Tree) -> std::io::Result<Self> {
        let read = |name: &[u8]| -> std::io::Result<Vec<u8>> {
            let Some(etc) = tree.child(ROOT, b"etc") else {
                return Ok(Vec::new());
            };
            if tree.inode_of(etc).kind != Kind::Dir {
                return Ok(Vec::new());
            }
            let Some(node) = tree.child(etc, name) else {
                return Ok(Vec::new());
            };
            let inode = tree.inode_of(node);
            let (Kind::File, Some(c)) = (inode.kind, inode.content) else {
                return Ok(Vec::new());
            };
            let mut buf = Vec::new();
            tree.content()
                .open(&c)
                .take(16 << 20)
                .read_to_end(&mut buf)?;
            Ok(buf)
        };
        Ok(Self::from_passwd_group(&read(b"passwd")?, &read(b"group")?))
    }
}

impl NameTable {
    /// Infer the table from a published layer tar: every entry with a non-empty uname/gname
    /// contributes `uid → uname` / `gid → gname` (first seen wins). This recovers the host
    /// database of an engine that looked names up, for exactly the ids the layer uses.
    pub fn from_layer<R: Read>(layer: R) -> Result<Self, crate::compare::Error> {
        let mut t = NameTable::new();
        for item in crate::compare::Reader::new(layer) {
            if let crate::compare::Item::Entry(e) = item? {
                let p = e.parse()?;
                t.note_header(p.uid, &p.uname, p.gid, &p.gname);
            }
        }
        Ok(t)
    }
}

fn entries(text: &[u8]) -> impl Iterator<Item = (Vec<u8>, i64)> + '_ {
    text.split(|&c| c == b'\n').filter_map(|line| {
        if line.is_empty() || line[0] == b'#' {
            return None;
        }
        let mut fields = line.split(|&c| c == b':');
        let name = fields.next()?;
        let _password = fields.next()?;
        let id = std::str::from_utf8(fields.next()?)
            .ok()?
            .parse::<i64>()
            .ok()?;
        if name.is_empty() || id < 0 {
            return None;
        }
        Some((name.to_vec(), id))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use layerproof_archive::tree::{Inode, Origin};

    #[test]
    fn parses_passwd_and_group_first_match_wins() {
        let passwd = b"root:x:0:0:root:/root:/bin/bash\n# comment\n\nbad\nuser:x:1000:1000::/home/u:/bin/sh\nalias:x:0:0::/:/bin/sh\n";
        let group = b"root:x:0:\nstaff:x:50:\n";
        let t = NameTable::from_passwd_group(passwd, group);
        assert_eq!(t.user(0), Some(&b"root"[..]));
        assert_eq!(t.user(1000), Some(&b"user"[..]));
        assert_eq!(t.user(5), None);
        assert_eq!(t.group(50), Some(&b"staff"[..]));
        assert_eq!(t.len(), (2, 2));
    }

    #[test]
    fn reads_from_tree() {
        let mut tree = Tree::new(1 << 20);
        let etc = tree.add_inode(Inode::new(Kind::Dir));
        let etc = tree.link(ROOT, b"etc", etc, Origin::Implied);
        let body = tree
            .content_mut()
            .put_bytes(b"daemon:x:1:1::/:/bin/false\n")
            .unwrap();
        let mut f = Inode::new(Kind::File);
        f.content = Some(body);
        let f = tree.add_inode(f);
        tree.link(etc, b"passwd", f, Origin::Implied);
        let t = NameTable::from_tree(&tree).unwrap();
        assert_eq!(t.user(1), Some(&b"daemon"[..]));
        assert_eq!(t.group(1), None);
    }
}
