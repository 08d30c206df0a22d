//! The streamed comparison on small layers built in code.

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
    let mut p = Params::new(Profile::preferred(), b"rootfs.tar".to_vec());
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
fn stream(plan: &Plan, src: &[u8], budget: u64) -> Result<(Digest, bool), String> {
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

fn sha(bytes: &[u8]) -> Digest {
    Digest::of(bytes)
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
