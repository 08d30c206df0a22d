//! The in-memory filesystem that Docker's `ADD` leaves behind.
//!
//! A [`Tree`] is an arena of [`Node`]s (names in directories) pointing at [`Inode`]s (the
//! metadata and body). Hard links are several nodes sharing one inode. Each directory keeps its
//! children in a `BTreeMap` keyed by the raw name bytes, so [`Tree::walk`] yields exactly the order
//! Go's `filepath.WalkDir` gives on the extracted directory: depth-first pre-order, each
//! directory's children in byte order of their names (spec §5.2).
//!
//! The tree knows nothing of tar or layers; [`crate::unpack`] fills it and `layerproof-layer`
//! writes it.

use std::collections::BTreeMap;

use crate::content::{ContentRef, ContentStore};
use crate::tar::Timestamp;

/// Index of a [`Node`] in its tree.
pub type NodeId = u32;
/// Index of an [`Inode`] in its tree.
pub type InodeId = u32;

/// The root directory's node id.
pub const ROOT: NodeId = 0;

/// What kind of filesystem object an inode is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file.
    File,
    /// A symbolic link.
    Symlink,
    /// A character device.
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A named pipe.
    Fifo,
}

impl Kind {
    /// A short lower-case name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dir => "directory",
            Kind::File => "file",
            Kind::Symlink => "symlink",
            Kind::CharDevice => "char-device",
            Kind::BlockDevice => "block-device",
            Kind::Fifo => "fifo",
        }
    }
}

/// Where a node came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case", tag = "from")]
pub enum Origin {
    /// The root directory of the extraction.
    Root,
    /// Created by the archive entry with this index (0-based, counting only real entries).
    Entry {
        /// Entry index in the archive.
        index: u64,
    },
    /// A parent directory the archive never listed; Docker creates it with mode 0755, owner
    /// 0:0 and the build's wall-clock time (spec §3 step 6).
    Implied,
}

/// Metadata and body of one filesystem object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// Object type.
    pub kind: Kind,
    /// Permission bits including setuid/setgid/sticky (`& 0o7777`). Symlinks are always 0o777.
    pub perm: u32,
    /// Numeric owner.
    pub uid: i64,
    /// Numeric group.
    pub gid: i64,
    /// Modification time with nanoseconds, after Docker's bound (before 1970 or after 2262 → 0).
    pub mtime: Timestamp,
    /// Extended attributes as set on disk: name → value (every `SCHILY.xattr.*` record applied).
    pub xattrs: BTreeMap<Vec<u8>, Vec<u8>>,
    /// Symlink target, verbatim.
    pub link_target: Vec<u8>,
    /// Device major number (devices only).
    pub devmajor: i64,
    /// Device minor number (devices only).
    pub devminor: i64,
    /// Body of a regular file.
    pub content: Option<ContentRef>,
    /// Number of live names for this inode.
    pub nlink: u32,
}

impl Inode {
    /// A fresh inode of `kind` with everything else zero.
    pub fn new(kind: Kind) -> Self {
        Inode {
            kind,
            perm: 0,
            uid: 0,
            gid: 0,
            mtime: Timestamp::EPOCH,
            xattrs: BTreeMap::new(),
            link_target: Vec::new(),
            devmajor: 0,
            devminor: 0,
            content: None,
            nlink: 0,
        }
    }

    /// Body length for regular files, 0 otherwise.
    pub fn size(&self) -> u64 {
        self.content.map_or(0, |c| c.len)
    }
}

/// A name in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// Base name (empty for the root).
    pub name: Vec<u8>,
    /// Parent directory (the root is its own parent).
    pub parent: NodeId,
    /// The object this name refers to.
    pub inode: InodeId,
    /// Children by name; empty unless the inode is a directory.
    pub children: BTreeMap<Vec<u8>, NodeId>,
    /// Where the node came from.
    pub origin: Origin,
    /// False once the name has been removed (replaced or deleted by a later entry).
    pub live: bool,
}

/// One step of [`Tree::walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalkEntry {
    /// Path relative to the root, `/`-separated, no leading `./` or `/`, no trailing `/`.
    pub path: Vec<u8>,
    /// The node.
    pub node: NodeId,
    /// Depth below the root (1 for top-level entries).
    pub depth: usize,
}

/// The extracted filesystem.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<Node>,
    inodes: Vec<Inode>,
    content: ContentStore,
}

impl Tree {
    /// An empty tree: a root directory (0755, 0:0, epoch) and a content store with `budget` bytes
    /// of memory.
    pub fn new(budget: u64) -> Self {
        Self::with_store(ContentStore::new(budget))
    }

    /// An empty tree whose file bodies go to `content` (e.g. [`ContentStore::digest_only`]).
    pub fn with_store(content: ContentStore) -> Self {
        let mut root = Inode::new(Kind::Dir);
        root.perm = 0o755;
        root.nlink = 1;
        Tree {
            nodes: vec![Node {
                name: Vec::new(),
                parent: ROOT,
                inode: 0,
                children: BTreeMap::new(),
                origin: Origin::Root,
                live: true,
            }],
            inodes: vec![root],
            content,
        }
    }

    /// A node by id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id as usize]
    }

    /// An inode by id.
    pub fn inode(&self, id: InodeId) -> &Inode {
        &self.inodes[id as usize]
    }

    /// Mutable access to an inode.
    pub fn inode_mut(&mut self, id: InodeId) -> &mut Inode {
        &mut self.inodes[id as usize]
    }

    /// The inode a node refers to.
    pub fn inode_of(&self, node: NodeId) -> &Inode {
        self.inode(self.node(node).inode)
    }

    /// The content store holding file bodies.
    pub fn content(&self) -> &ContentStore {
        &self.content
    }

    /// Mutable access to the content store.
    pub fn content_mut(&mut self) -> &mut ContentStore {
        &mut self.content
    }

    /// Number of live names, the root included.
    pub fn len(&self) -> usize {
        self.nodes.iter().filter(|n| n.live).count()
    }

    /// Nodes ever allocated, removed ones included (what the tree's memory grows with); O(1).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// True when only the root exists.
    pub fn is_empty(&self) -> bool {
        self.node(ROOT).children.is_empty()
    }

    /// Look up `name` in directory `dir` (no symlink following).
    pub fn child(&self, dir: NodeId, name: &[u8]) -> Option<NodeId> {
        self.node(dir).children.get(name).copied()
    }

    /// Allocate a new inode.
    pub fn add_inode(&mut self, inode: Inode) -> InodeId {
        self.inodes.push(inode);
        (self.inodes.len() - 1) as InodeId
    }

    /// Create the name `name` in directory `dir`, pointing at `inode`. The name must not exist.
    pub fn link(&mut self, dir: NodeId, name: &[u8], inode: InodeId, origin: Origin) -> NodeId {
        debug_assert!(!self.node(dir).children.contains_key(name));
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node {
            name: name.to_vec(),
            parent: dir,
            inode,
            children: BTreeMap::new(),
            origin,
            live: true,
        });
        self.nodes[dir as usize].children.insert(name.to_vec(), id);
        self.inodes[inode as usize].nlink += 1;
        id
    }

    /// Record where a node came from (an implied directory that a later entry adopts).
    pub fn set_origin(&mut self, id: NodeId, origin: Origin) {
        self.nodes[id as usize].origin = origin;
    }

    /// Remove a node and, if it is a directory, everything below it (`os.RemoveAll`).
    pub fn remove(&mut self, id: NodeId) {
        if id == ROOT {
            return;
        }
        let parent = self.node(id).parent;
        let name = self.node(id).name.clone();
        self.nodes[parent as usize].children.remove(&name);
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            let node = &mut self.nodes[n as usize];
            node.live = false;
            stack.extend(std::mem::take(&mut node.children).into_values());
            let inode = node.inode;
            self.inodes[inode as usize].nlink -= 1;
        }
    }

    /// The path of a node relative to the root (empty for the root).
    pub fn path_of(&self, mut id: NodeId) -> Vec<u8> {
        let mut parts = Vec::new();
        while id != ROOT {
            parts.push(self.node(id).name.as_slice());
            id = self.node(id).parent;
        }
        parts.reverse();
        parts.join(&b'/')
    }

    /// A stable, line-per-entry text dump in walk order, for tests and `--dump` output:
    /// `path[/] kind perm uid:gid mtime [-> target] [dev M,m] [size N sha256 PREFIX] [links K]
    /// [xattr NAME=HEX]`.
    pub fn dump(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for e in self.walk() {
            let ino = self.inode_of(e.node);
            let slash = if ino.kind == Kind::Dir { "/" } else { "" };
            let _ = write!(
                out,
                "{}{slash} {} {:04o} {}:{} {}",
                String::from_utf8_lossy(&e.path),
                ino.kind.as_str(),
                ino.perm,
                ino.uid,
                ino.gid,
                ino.mtime
            );
            if ino.kind == Kind::Symlink {
                let _ = write!(out, " -> {}", String::from_utf8_lossy(&ino.link_target));
            }
            if matches!(ino.kind, Kind::CharDevice | Kind::BlockDevice) {
                let _ = write!(out, " dev {},{}", ino.devmajor, ino.devminor);
            }
            if let Some(c) = ino.content {
                let _ = write!(
                    out,
                    " size {} sha256 {}",
                    c.len,
                    &hex::encode(c.sha256)[..12]
                );
            }
            if ino.nlink > 1 {
                let _ = write!(out, " links {}", ino.nlink);
            }
            for (k, v) in &ino.xattrs {
                let _ = write!(
                    out,
                    " xattr {}={}",
                    String::from_utf8_lossy(k),
                    hex::encode(v)
                );
            }
            out.push('\n');
        }
        out
    }

    /// Depth-first pre-order over every live node except the root, children in byte order.
    pub fn walk(&self) -> Walk<'_> {
        let root_children = self.node(ROOT).children.values().rev().copied();
        Walk {
            tree: self,
            stack: root_children.map(|c| (c, 1)).collect(),
            prefix: Vec::new(),
        }
    }
}

/// Iterator returned by [`Tree::walk`].
#[derive(Debug)]
pub struct Walk<'a> {
    tree: &'a Tree,
    stack: Vec<(NodeId, usize)>,
    /// Path components of the current ancestors (`prefix[d-1]` is the name at depth `d`).
    prefix: Vec<&'a [u8]>,
}

impl Iterator for Walk<'_> {
    type Item = WalkEntry;

    fn next(&mut self) -> Option<WalkEntry> {
        let (id, depth) = self.stack.pop()?;
        let node = self.tree.node(id);
        self.prefix.truncate(depth - 1);
        self.prefix.push(&node.name);
        let path = self.prefix.join(&b'/');
        if !node.children.is_empty() {
            self.stack
                .extend(node.children.values().rev().map(|&c| (c, depth + 1)));
        }
        Some(WalkEntry {
            path,
            node: id,
            depth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tree: &mut Tree, parent: NodeId, name: &str) -> NodeId {
        let ino = tree.add_inode(Inode::new(Kind::Dir));
        tree.link(parent, name.as_bytes(), ino, Origin::Implied)
    }

    fn file(tree: &mut Tree, parent: NodeId, name: &str) -> NodeId {
        let ino = tree.add_inode(Inode::new(Kind::File));
        tree.link(parent, name.as_bytes(), ino, Origin::Implied)
    }

    fn paths(tree: &Tree) -> Vec<String> {
        tree.walk()
            .map(|e| String::from_utf8(e.path).unwrap())
            .collect()
    }

    #[test]
    fn walk_orders_children_by_name_not_by_full_path() {
        // spec §5.2: `a/`, `a/z`, then `a-b` ('-' sorts before '/').
        let mut t = Tree::new(0);
        let opt = dir(&mut t, ROOT, "opt");
        file(&mut t, opt, "a-b");
        let a = dir(&mut t, opt, "a");
        file(&mut t, a, "z");
        file(&mut t, ROOT, "B");
        assert_eq!(paths(&t), ["B", "opt", "opt/a", "opt/a/z", "opt/a-b"]);
    }

    #[test]
    fn remove_drops_subtree_and_link_counts() {
        let mut t = Tree::new(0);
        let a = dir(&mut t, ROOT, "a");
        let f = file(&mut t, a, "f");
        let ino = t.node(f).inode;
        let b = dir(&mut t, ROOT, "b");
        t.link(b, b"hl", ino, Origin::Implied);
        assert_eq!(t.inode(ino).nlink, 2);
        t.remove(a);
        assert_eq!(t.inode(ino).nlink, 1);
        assert_eq!(paths(&t), ["b", "b/hl"]);
        assert_eq!(t.path_of(t.child(b, b"hl").unwrap()), b"b/hl");
    }
}
