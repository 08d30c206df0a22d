//! Kernel-style path resolution in the tree (symlinks followed as Linux follows them, `..` to
//! the real parent, at most [`MAX_SYMLINKS`]) and the lexical name helpers the rules share.

use super::{Errno, Unpacker};
use crate::tar::Timestamp;
use crate::tree::{Kind, NodeId, ROOT, Tree};

/// Linux follows at most this many symlinks while resolving one path (`MAXSYMLINKS`).
const MAX_SYMLINKS: u32 = 40;

/// The outcome of resolving a path in the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Resolved {
    /// The last component exists.
    Found(NodeId),
    /// Every directory up to the last component exists; the last one does not.
    Missing { parent: NodeId, name: Vec<u8> },
}

impl Unpacker {
    /// Kernel-style path resolution from the root. `follow_last` follows a final symlink.
    pub(super) fn resolve(
        &self,
        components: &[Vec<u8>],
        follow_last: bool,
    ) -> Result<Resolved, Errno> {
        let mut walk = Walk {
            symlinks: MAX_SYMLINKS,
            steps: 0,
        };
        let r = resolve_in(&self.tree, ROOT, components, follow_last, &mut walk);
        self.lookups
            .set(self.lookups.get().saturating_add(walk.steps));
        r
    }
}

/// What one path resolution may still do, and what it did.
struct Walk {
    /// Symlinks it may still follow.
    symlinks: u32,
    /// Components looked up so far.
    steps: u64,
}

fn resolve_in(
    tree: &Tree,
    start: NodeId,
    components: &[Vec<u8>],
    follow_last: bool,
    walk: &mut Walk,
) -> Result<Resolved, Errno> {
    let mut cur = start;
    let n = components.len();
    if n == 0 {
        return Ok(Resolved::Found(cur));
    }
    for (i, comp) in components.iter().enumerate() {
        let last = i + 1 == n;
        walk.steps += 1;
        if tree.inode_of(cur).kind != Kind::Dir {
            return Err(Errno::Enotdir);
        }
        if comp.is_empty() || comp == b"." {
            if last {
                return Ok(Resolved::Found(cur));
            }
            continue;
        }
        if comp == b".." {
            cur = tree.node(cur).parent;
            if last {
                return Ok(Resolved::Found(cur));
            }
            continue;
        }
        let Some(child) = tree.child(cur, comp) else {
            if last {
                return Ok(Resolved::Missing {
                    parent: cur,
                    name: comp.clone(),
                });
            }
            return Err(Errno::Enoent);
        };
        let ino = tree.inode_of(child);
        if ino.kind == Kind::Symlink && (!last || follow_last) {
            if walk.symlinks == 0 {
                return Err(Errno::Eloop);
            }
            walk.symlinks -= 1;
            let target = &ino.link_target;
            if target.is_empty() {
                return Err(Errno::Enoent);
            }
            let base = if target.starts_with(b"/") { ROOT } else { cur };
            let parts: Vec<Vec<u8>> = target.split(|&b| b == b'/').map(<[u8]>::to_vec).collect();
            // A dangling symlink (intermediate, or final and followed) is ENOENT.
            let Resolved::Found(t) = resolve_in(tree, base, &parts, true, walk)? else {
                return Err(Errno::Enoent);
            };
            if last {
                return Ok(Resolved::Found(t));
            }
            cur = t;
            continue;
        }
        if last {
            return Ok(Resolved::Found(child));
        }
        cur = child;
    }
    Ok(Resolved::Found(cur))
}

/// Lexically clean a slash-separated name into components (Go's `path.Clean`). With
/// `clamp_at_root`, `..` above the start is dropped (`Join("/", Clean(name))`); without it, such
/// a name gives `None` (it is not `filepath.IsLocal`).
pub fn clean_components(name: &[u8], clamp_at_root: bool) -> Option<Vec<Vec<u8>>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for part in name.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                if out.pop().is_none() && !clamp_at_root {
                    return None;
                }
            }
            p => out.push(p.to_vec()),
        }
    }
    Some(out)
}

pub(super) fn clean_lexical_is_dot(name: &[u8]) -> bool {
    // filepath.Clean(name) == "." : relative and every component cancels out without `..`
    // escaping the start.
    !name.starts_with(b"/") && lexical_depth(0, name) == Some(0)
}

/// Depth reached by walking a relative `path` lexically from depth `start`; `None` as soon as a
/// `..` climbs above depth 0.
fn lexical_depth(start: i64, path: &[u8]) -> Option<i64> {
    let mut depth = start;
    for part in path.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            _ => depth += 1,
        }
    }
    Some(depth)
}

/// Docker's `boundTime`: before the epoch or after Go's maximum `time.Unix(0, 1<<63-1)`
/// (2262-04-11T23:47:16.854775807Z) becomes the epoch (spec §3 step 14).
pub fn bound_time(t: Timestamp) -> Timestamp {
    const MAX_SEC: i64 = 9_223_372_036;
    const MAX_NSEC: u32 = 854_775_807;
    if t.sec < 0 || (t.sec, t.nsec) > (MAX_SEC, MAX_NSEC) {
        Timestamp::EPOCH
    } else {
        t
    }
}

pub(super) fn display_path(components: &[Vec<u8>]) -> String {
    String::from_utf8_lossy(&components.join(&b'/')).into_owned()
}

/// True when a relative symlink target at `components` climbs above the root lexically.
pub(super) fn climbs_above_root(components: &[Vec<u8>], target: &[u8]) -> bool {
    !target.starts_with(b"/") && lexical_depth(components.len() as i64 - 1, target).is_none()
}
