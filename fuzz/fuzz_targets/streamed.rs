//! The streamed comparison on arbitrary published layers and sources: the published layer's
//! shape is read (bodies skipped by seeking), the source unpacked with a `Streamer` tapping it,
//! and each profile's headers checked against the shape. Whenever the check says "same", the
//! bytes the streamer hashed must be exactly the layer that profile writes: the soundness of
//! `compared: "streamed"`.
//!
//! Input: two bytes (little-endian) giving the published layer's length, the published layer,
//! then the source tarball.
#![no_main]

use std::io::{self, Read};

use layerproof_archive::Bodies;
use layerproof_layer::Profile;
use layerproof_verifier::layerscan::scan_shape;
use layerproof_verifier::rebuild::{self, Params, Unpacked};
use layerproof_verifier::streamed::{Plan, ShapeCheck, Streamer};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

fn params(profile: &'static Profile, bodies: Bodies) -> Params<'static> {
    let mut p = Params::new(profile, b"rootfs.tar".to_vec());
    p.bodies = bodies;
    p.memory_budget = 2 << 20;
    p.limits.decompress.max_decompressed_bytes = Some(1 << 20);
    p.limits.unpack.max_entries = 5_000;
    p.limits.unpack.max_lookups = 1_000_000;
    p.limits.unpack.max_data_bytes = 1 << 20;
    p
}

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let split = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let (published, source) = rest.split_at(split);
    let Ok(Some(shaped)) = scan_shape(io::Cursor::new(published), Default::default(), 1 << 20)
    else {
        return;
    };
    let Ok(plan) = Plan::new(shaped.shape, &shaped.body_entries, &shaped.scan) else {
        return;
    };
    let open = || Ok(Box::new(io::Cursor::new(source.to_vec())) as Box<dyn Read + Send>);
    let profile = &Profile::all()[usize::from(len[0]) % Profile::all().len()];
    let p = params(profile, Bodies::Lengths);
    let mut streamer = Streamer::new(&plan, 64 << 10);
    let Ok(Unpacked::Tree(mut prepared)) = rebuild::unpack_tapped(&open, &p, &mut streamer) else {
        return;
    };
    let Ok(streamed) = streamer.finish() else {
        return;
    };
    let mut check = ShapeCheck::new(&plan, &streamed.ids);
    if rebuild::emit(&mut prepared, &p, &mut check).is_err() || !check.same() {
        return;
    }
    // "same": the layer this profile writes is the bytes the streamer hashed
    let keep = params(profile, Bodies::Keep);
    let Ok(Unpacked::Tree(mut full)) = rebuild::unpack(&open, &keep) else {
        panic!("the source unpacked with lengths only, not with its bodies");
    };
    let (layer, summary) = rebuild::write(&mut full, &keep, Vec::new()).expect("write");
    assert_eq!(
        streamed.diff_id.to_string(),
        format!("sha256:{}", hex(&Sha256::digest(&layer))),
        "streamed digest differs from the written layer"
    );
    assert_eq!(streamed.size, layer.len() as u64);
    assert_eq!(summary.size, layer.len() as u64);
});

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
