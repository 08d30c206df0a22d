//! The streamed comparison: our layer's diff_id from one pass over the source, with the
//! published layer read for its headers only.
//!
//! A published layer that is stored uncompressed on disk (a `docker save` of Docker ≥ 25, an
//! OCI layout with `tar` layers) has its diff_id in the image config and its blob digest in the
//! manifest. To prove that our rebuild is that layer it is enough to show that the layer we
//! would write hashes to that digest — the published file's bodies never need to be read.
//!
//! 1. The published layer's [`Shape`] is read: every byte outside file bodies, and where each
//!    body sits (a few megabytes for a rootfs; bodies are skipped unread).
//! 2. The source is unpacked once with a [`Streamer`] tapping every file body as it streams
//!    past ([`layerproof_archive::source::add_tapped`]). The streamer hashes the published
//!    bytes outside bodies with, in each body's place, the source body destined for the same
//!    path, and notes which stored body ([`layerproof_archive::ContentRef::id`]) went where.
//!    Bodies that arrive before their turn wait in memory, up to a budget.
//! 3. After the unpack, each candidate profile encodes the headers of its layer and
//!    [`ShapeCheck`] compares them with the published bytes, and every body with the one the
//!    streamer put in its place (by content id).
//!
//! When the headers match and the bodies are the ones the tree holds at those paths, the bytes
//! the streamer hashed *are* our layer: its digest is our diff_id. Anything unusual — a body
//! that does not fit its slot, a path met twice, bodies far out of order — gives up the
//! streamed comparison ([`Streamed::failed`]) and the verifier falls back to reading both
//! layers whole.

use std::collections::{BTreeMap, HashMap};

use layerproof_archive::ContentRef;
use layerproof_archive::header::{Header, typeflag};
use layerproof_archive::skeleton::Shape;
use layerproof_archive::source::Tap;
use layerproof_archive::tree::Tree;
use layerproof_layer::{Error as LayerError, LayerSink};
use sha2::{Digest as _, Sha256};

use crate::layerscan::{Scan, normalise};

/// Where each published body goes, by path.
#[derive(Debug)]
pub struct Plan {
    shape: Shape,
    /// Path → body slot; a hard link's path leads to its target's slot.
    slot_of: HashMap<Vec<u8>, usize>,
    /// Path of each slot, for messages.
    paths: Vec<Vec<u8>>,
}

impl Plan {
    /// The plan for a published layer (the parts of its [`crate::layerscan::ShapeScan`]), or
    /// why there is none (a path stored twice, bodies that cannot be placed).
    pub fn new(shape: Shape, body_entries: &[usize], scan: &Scan) -> Result<Plan, String> {
        if body_entries.len() != shape.bodies.len() {
            return Err("the published layer's bodies could not be placed".into());
        }
        let mut slot_of = HashMap::with_capacity(body_entries.len());
        let mut paths = Vec::with_capacity(body_entries.len());
        for (slot, &e) in body_entries.iter().enumerate() {
            let path = scan.entries[e].path.clone();
            if slot_of.insert(path.clone(), slot).is_some() {
                return Err(format!(
                    "the published layer stores {} twice",
                    crate::layerscan::display_path(&path)
                ));
            }
            paths.push(path);
        }
        for e in &scan.entries {
            if let Some(target) = &e.hardlink_to
                && let Some(&slot) = slot_of.get(target)
                && slot_of.insert(e.path.clone(), slot).is_some()
            {
                return Err(format!(
                    "the published layer stores {} twice",
                    e.display_path()
                ));
            }
        }
        Ok(Plan {
            shape,
            slot_of,
            paths,
        })
    }

    /// Number of bodies.
    pub fn bodies(&self) -> usize {
        self.shape.bodies.len()
    }
}

/// The sha256 of the layer being streamed, and its length so far.
///
/// It runs on the unpacking thread: a hashing thread of its own cost a copy of every body into
/// its chunks (≈ 18 ms of CPU for minbase) and gained nothing on two cores, where the
/// decompression thread is the longest anyway.
#[derive(Default)]
struct LayerHasher {
    sha: Sha256,
    len: u64,
}

impl LayerHasher {
    fn update(&mut self, bytes: &[u8]) {
        self.sha.update(bytes);
        self.len += bytes.len() as u64;
    }

    /// The digest and the number of bytes hashed.
    fn finish(self) -> ([u8; 32], u64) {
        (self.sha.finalize().into(), self.len)
    }
}

/// Where the data of the entry being applied goes.
enum Current {
    /// Nowhere: not a file body, or the comparison gave up.
    Nothing,
    /// Straight into the hash: this body's turn has come.
    Direct { slot: usize, got: u64 },
    /// Into memory: a later slot's body, arriving early.
    Early { slot: usize, bytes: Vec<u8> },
}

/// The [`Tap`] of the streamed comparison: hashes the published layer's bytes outside bodies
/// with the source's bodies in their places.
pub struct Streamer<'p> {
    plan: &'p Plan,
    hasher: LayerHasher,
    /// Next slot to hash.
    cursor: usize,
    /// Raw bytes hashed so far.
    raw_done: usize,
    /// Content id of the body put in each slot.
    ids: Vec<Option<u32>>,
    /// Bodies that arrived before their turn, with their content ids.
    early: BTreeMap<usize, Vec<u8>>,
    early_bytes: u64,
    budget: u64,
    current: Current,
    failed: Option<String>,
}

/// What a [`Streamer`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// `sha256:<hex>` of the bytes hashed: the published bytes outside bodies with the
    /// source's bodies in their places.
    pub diff_id: String,
    /// Length of those bytes.
    pub size: u64,
    /// The content id put in each body slot.
    pub ids: Vec<u32>,
}

impl<'p> Streamer<'p> {
    /// A streamer for `plan`, holding at most `budget` bytes of early bodies.
    pub fn new(plan: &'p Plan, budget: u64) -> Streamer<'p> {
        Streamer {
            plan,
            hasher: LayerHasher::default(),
            cursor: 0,
            raw_done: 0,
            ids: vec![None; plan.bodies()],
            early: BTreeMap::new(),
            early_bytes: 0,
            budget,
            current: Current::Nothing,
            failed: None,
        }
    }

    fn fail(&mut self, why: String) {
        if self.failed.is_none() {
            self.failed = Some(why);
        }
        self.current = Current::Nothing;
        self.early.clear();
        self.early_bytes = 0;
    }

    /// Hash raw bytes up to the start of `slot`'s body.
    fn raw_to(&mut self, slot: usize) {
        let to = self.plan.shape.bodies[slot].0 as usize;
        let raw = &self.plan.shape.raw;
        self.hasher.update(&raw[self.raw_done..to]);
        self.raw_done = to;
    }

    /// Hash the early bodies whose turn has come.
    fn drain(&mut self) {
        while let Some(bytes) = self.early.remove(&self.cursor) {
            self.raw_to(self.cursor);
            self.hasher.update(&bytes);
            self.early_bytes -= bytes.len() as u64;
            self.cursor += 1;
        }
    }

    /// The digest of the bytes hashed, or why the comparison gave up.
    pub fn finish(mut self) -> Result<Streamed, String> {
        if let Some(why) = self.failed.take() {
            return Err(why);
        }
        if self.cursor < self.plan.bodies() {
            return Err(format!(
                "the published body of {} has no source body in its place",
                crate::layerscan::display_path(&self.plan.paths[self.cursor])
            ));
        }
        let raw = &self.plan.shape.raw;
        self.hasher.update(&raw[self.raw_done..]);
        let Streamer { hasher, ids, .. } = self;
        let (sha, size) = hasher.finish();
        Ok(Streamed {
            diff_id: format!("sha256:{}", hex::encode(sha)),
            size,
            ids: ids.into_iter().map(|i| i.unwrap_or(u32::MAX)).collect(),
        })
    }
}

impl Tap for Streamer<'_> {
    fn entry(&mut self, _index: u64, header: &Header) {
        self.current = Current::Nothing;
        if self.failed.is_some()
            || !matches!(
                header.typeflag,
                typeflag::REG | typeflag::REGA | typeflag::CONT
            )
        {
            return;
        }
        let path = normalise(&header.name);
        let Some(&slot) = self.plan.slot_of.get(&path) else {
            // an empty file has no body in either layer
            if header.size != 0 {
                self.fail(format!(
                    "{} has no body in the published layer",
                    crate::layerscan::display_path(&path)
                ));
            }
            return;
        };
        if self.ids[slot].is_some() || slot < self.cursor {
            self.fail(format!(
                "{} is in the source more than once",
                crate::layerscan::display_path(&path)
            ));
            return;
        }
        if slot == self.cursor {
            self.raw_to(slot);
            self.current = Current::Direct { slot, got: 0 };
        } else {
            self.current = Current::Early {
                slot,
                bytes: Vec::new(),
            };
        }
    }

    fn data(&mut self, bytes: &[u8]) {
        match &mut self.current {
            Current::Nothing => {}
            Current::Direct { got, .. } => {
                *got += bytes.len() as u64;
                self.hasher.update(bytes);
            }
            Current::Early { bytes: held, .. } => {
                held.extend_from_slice(bytes);
                self.early_bytes += bytes.len() as u64;
                if self.early_bytes > self.budget {
                    let budget = self.budget;
                    self.fail(format!(
                        "the source's bodies are further out of layer order than {} MiB",
                        budget >> 20
                    ));
                }
            }
        }
    }

    fn applied(&mut self, stored: Option<(u32, u64)>) {
        let current = std::mem::replace(&mut self.current, Current::Nothing);
        let (slot, got) = match &current {
            Current::Nothing => return,
            Current::Direct { slot, got } => (*slot, *got),
            Current::Early { slot, bytes } => (*slot, bytes.len() as u64),
        };
        let want = self.plan.shape.bodies[slot].1;
        let Some((id, _)) = stored.filter(|&(_, len)| len == got && len == want) else {
            self.fail(format!(
                "the source body of {} ({got} bytes) does not fit the published one ({want} bytes)",
                crate::layerscan::display_path(&self.plan.paths[slot])
            ));
            return;
        };
        self.ids[slot] = Some(id);
        match current {
            Current::Direct { .. } => self.cursor += 1,
            Current::Early { bytes, .. } => {
                self.early.insert(slot, bytes);
            }
            Current::Nothing => {}
        }
        self.drain();
    }
}

/// A [`LayerSink`] that compares the layer a profile would write with the published shape and
/// the bodies the [`Streamer`] put in each place, without producing it.
pub struct ShapeCheck<'a> {
    plan: &'a Plan,
    ids: &'a [u32],
    raw_pos: usize,
    slot: usize,
    same: bool,
}

impl<'a> ShapeCheck<'a> {
    /// A check against `plan`, whose slots hold the bodies `ids`.
    pub fn new(plan: &'a Plan, ids: &'a [u32]) -> ShapeCheck<'a> {
        ShapeCheck {
            plan,
            ids,
            raw_pos: 0,
            slot: 0,
            same: true,
        }
    }

    /// Whether everything emitted matched, and nothing of the published layer is left over.
    pub fn same(&self) -> bool {
        self.same && self.raw_pos == self.plan.shape.raw.len() && self.slot == self.plan.bodies()
    }
}

impl LayerSink for ShapeCheck<'_> {
    fn raw(&mut self, bytes: &[u8]) -> Result<(), LayerError> {
        if self.same {
            let raw = &self.plan.shape.raw;
            let end = self.raw_pos + bytes.len();
            if raw.get(self.raw_pos..end) == Some(bytes) {
                self.raw_pos = end;
            } else {
                self.same = false;
            }
        }
        Ok(())
    }

    fn body(&mut self, _tree: &Tree, body: &ContentRef, _path: &[u8]) -> Result<(), LayerError> {
        if self.same {
            let here = (self.raw_pos as u64, body.len);
            if self.plan.shape.bodies.get(self.slot) == Some(&here)
                && self.ids.get(self.slot) == Some(&body.id)
            {
                self.slot += 1;
            } else {
                self.same = false;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layerscan::scan_shape;
    use crate::rebuild::{self, Params, Unpacked};
    use layerproof_archive::Bodies;
    use layerproof_layer::Profile;
    use std::io::{self, Read};

    /// A source tar with these regular files (and their parent directories first).
    fn source(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut dirs = std::collections::BTreeSet::new();
        for (path, _) in files {
            if let Some((dir, _)) = path.rsplit_once('/')
                && dirs.insert(dir.to_string())
            {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_mtime(1_700_000_000);
                h.set_size(0);
                b.append_data(&mut h, format!("{dir}/"), io::empty())
                    .unwrap();
            }
        }
        for (path, data) in files {
            let mut h = tar::Header::new_ustar();
            h.set_mode(0o644);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            b.append_data(&mut h, path, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn params(bodies: Bodies) -> Params<'static> {
        let mut p = Params::new(
            Profile::by_name("docker-24-27").unwrap(),
            b"rootfs.tar".to_vec(),
        );
        p.bodies = bodies;
        p
    }

    fn opener(bytes: &[u8]) -> impl Fn() -> io::Result<Box<dyn Read + Send>> + '_ {
        move || Ok(Box::new(io::Cursor::new(bytes.to_vec())) as Box<dyn Read + Send>)
    }

    /// The layer the profile writes for `src`.
    fn layer(src: &[u8]) -> Vec<u8> {
        let Unpacked::Tree(mut p) = rebuild::unpack(&opener(src), &params(Bodies::Keep)).unwrap()
        else {
            panic!("refused")
        };
        rebuild::write(&mut p, &params(Bodies::Keep), Vec::new())
            .unwrap()
            .0
    }

    fn plan(layer: &[u8]) -> Plan {
        let s = scan_shape(io::Cursor::new(layer), Default::default(), 1 << 20)
            .unwrap()
            .unwrap();
        Plan::new(s.shape, &s.body_entries, &s.scan).unwrap()
    }

    /// Stream `src` against `plan`; the digest, and whether the profile's headers and bodies
    /// check out against the plan.
    fn stream(plan: &Plan, src: &[u8], budget: u64) -> Result<(String, bool), String> {
        let p = params(Bodies::Lengths);
        let mut streamer = Streamer::new(plan, budget);
        let Unpacked::Tree(mut prepared) =
            rebuild::unpack_tapped(&opener(src), &p, &mut streamer).unwrap()
        else {
            panic!("refused")
        };
        let streamed = streamer.finish()?;
        let mut check = ShapeCheck::new(plan, &streamed.ids);
        rebuild::emit(&mut prepared, &p, &mut check).unwrap();
        Ok((streamed.diff_id, check.same()))
    }

    fn sha(bytes: &[u8]) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
    }

    const FILES: &[(&str, &[u8])] = &[
        ("a/one", b"first body"),
        ("a/two", b""),
        ("b/three", &[7u8; 3000]),
        ("c", b"x"),
    ];

    #[test]
    fn in_order_source_hashes_to_the_layer_digest_and_checks_out() {
        let src = source(FILES);
        let layer = layer(&src);
        let plan = plan(&layer);
        assert_eq!(plan.bodies(), 3);
        assert_eq!(stream(&plan, &src, 0), Ok((sha(&layer), true)));
    }

    #[test]
    fn early_bodies_wait_within_the_budget_and_give_up_beyond_it() {
        let mut reversed = FILES.to_vec();
        reversed.reverse();
        let layer = layer(&source(FILES));
        let plan = plan(&layer);
        let src = source(&reversed);
        assert_eq!(stream(&plan, &src, 1 << 20), Ok((sha(&layer), true)));
        let err = stream(&plan, &src, 100).unwrap_err();
        assert!(err.contains("out of layer order"), "{err}");
    }

    #[test]
    fn another_body_of_the_same_length_changes_the_digest_not_the_shape() {
        let layer = layer(&source(FILES));
        let plan = plan(&layer);
        let mut changed = FILES.to_vec();
        changed[0].1 = b"FIRST BODY";
        let (digest, same) = stream(&plan, &source(&changed), 0).unwrap();
        assert_ne!(digest, sha(&layer));
        assert!(same);
    }

    #[test]
    fn other_lengths_paths_or_duplicates_give_up() {
        let layer = layer(&source(FILES));
        let plan = plan(&layer);
        let mut longer = FILES.to_vec();
        longer[3].1 = b"xy";
        let err = stream(&plan, &source(&longer), 0).unwrap_err();
        assert!(err.contains("does not fit"), "{err}");
        let mut extra = FILES.to_vec();
        extra.push(("d", b"new"));
        let err = stream(&plan, &source(&extra), 0).unwrap_err();
        assert!(err.contains("no body in the published layer"), "{err}");
        let mut twice = FILES.to_vec();
        twice.push(("c", b"y"));
        let err = stream(&plan, &source(&twice), 0).unwrap_err();
        assert!(err.contains("more than once"), "{err}");
        let missing = &FILES[..3];
        let err = stream(&plan, &source(missing), 0).unwrap_err();
        assert!(err.contains("no source body in its place"), "{err}");
    }

    #[test]
    fn shape_check_wants_each_body_in_its_own_place() {
        let src = source(FILES);
        let layer = layer(&src);
        let plan = plan(&layer);
        let p = params(Bodies::Lengths);
        let mut streamer = Streamer::new(&plan, 0);
        let Unpacked::Tree(mut prepared) =
            rebuild::unpack_tapped(&opener(&src), &p, &mut streamer).unwrap()
        else {
            panic!("refused")
        };
        let mut ids = streamer.finish().unwrap().ids;
        ids.swap(0, 2);
        let mut check = ShapeCheck::new(&plan, &ids);
        rebuild::emit(&mut prepared, &p, &mut check).unwrap();
        assert!(!check.same());
        // other headers: another profile's owner names
        let other = plan_of_other_headers(&layer);
        let mut check = ShapeCheck::new(&other, &ids);
        rebuild::emit(&mut prepared, &p, &mut check).unwrap();
        assert!(!check.same());
    }

    /// The plan of `layer` with one header byte changed (the first entry's mtime field).
    fn plan_of_other_headers(layer: &[u8]) -> Plan {
        let mut other = layer.to_vec();
        other[136] ^= 1;
        // the checksum no longer matches: recompute it as a writer would
        let sum: u32 = other[..512]
            .iter()
            .enumerate()
            .map(|(i, b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(*b)
                }
            })
            .sum();
        other[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        plan(&other)
    }
}
