//! Our encoder against bytes written by Go's archive/tar (tests/data/go-writer, made by gen.go).

use std::collections::BTreeMap;

use layerproof_archive::tar::END_OF_ARCHIVE;
use layerproof_archive::{Header, Timestamp};
use layerproof_layer::compare::first_difference;
use layerproof_layer::tarheader::{HeaderError, WantFormat, encode};
use sha2::{Digest, Sha256};

const FIXTURE: &[u8] = include_bytes!("../data/go-writer/go-writer.tar");
const FIXTURE_SHA256: &str = "7573d3ecf91b1b4d4b11d6837e2153d8a2d5292e1ac026b608eeb70e392cbe2e";

fn h(flag: u8, name: &str, mode: i64) -> Header {
    Header {
        name: name.as_bytes().to_vec(),
        typeflag: flag,
        mode,
        mtime: Timestamp::from_secs(1_700_000_000),
        ..Header::default()
    }
}

/// The same headers as gen.go, in the same order, with their data.
fn cases() -> Vec<(Header, WantFormat, Vec<u8>)> {
    let r = |s: &str, n: usize| s.repeat(n);
    let cap20 = vec![
        1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut v = Vec::new();
    v.push((h(b'5', "etc/", 0o755), WantFormat::Pax, vec![]));
    v.push((h(b'5', "etc2/", 0o40755), WantFormat::Pax, vec![]));
    let mut x = h(b'0', "etc/passwd", 0o644);
    x.size = 15;
    v.push((x, WantFormat::Pax, b"root:x:0:0::/:\n".to_vec()));
    let mut x = h(b'0', "big-ids", 0o100600);
    x.uid = 3_000_000;
    x.gid = 3_000_001;
    v.push((x, WantFormat::Pax, vec![]));
    v.push((h(b'0', "opt/ü.txt", 0o644), WantFormat::Pax, vec![]));
    let name = format!("opt/{}/{}.txt", r("a", 60), r("b", 57));
    v.push((h(b'0', &name, 0o644), WantFormat::Pax, vec![]));
    v.push((
        h(b'0', &format!("opt/{}", r("c", 120)), 0o644),
        WantFormat::Pax,
        vec![],
    ));
    v.push((h(b'0', &r("n", 100), 0o644), WantFormat::Pax, vec![]));
    let mut x = h(b'2', "lnk", 0o777);
    x.linkname = format!("/{}", r("t", 120)).into_bytes();
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'1', "etc/hl", 0o100644);
    x.linkname = b"etc/passwd".to_vec();
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'3', "dev/null", 0o20666);
    x.devmajor = 1;
    x.devminor = 3;
    v.push((x, WantFormat::Pax, vec![]));
    v.push((h(b'6', "fifo", 0o10644), WantFormat::Pax, vec![]));
    let mut x = h(b'0', "usr/bin/ping", 0o4755);
    x.pax_records
        .insert(b"SCHILY.xattr.security.capability".to_vec(), cap20);
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'5', &format!("{}/{}/", r("a", 99), r("b", 30)), 0o755);
    x.uid = 3_000_000;
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'0', "named", 0o644);
    x.uname = b"root".to_vec();
    x.gname = r("g", 40).into_bytes();
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'0', "old", 0o644);
    x.mtime = Timestamp::from_secs(-100);
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'0', "nanos", 0o644);
    x.mtime = Timestamp {
        sec: 1_700_000_000,
        nsec: 500_000_000,
    };
    v.push((x, WantFormat::Pax, vec![]));
    let mut x = h(b'0', "etc/.wh..wh..opq", 0o755);
    x.uid = 5;
    x.gid = 6;
    x.mtime = Timestamp::EPOCH;
    v.push((x, WantFormat::Unknown, vec![]));
    let mut x = h(b'3', "dev/huge", 0o600);
    x.devmajor = 1 << 21;
    v.push((x, WantFormat::Pax, vec![]));
    v.push((h(b'0', "nul\0name", 0o644), WantFormat::Pax, vec![]));
    let mut x = h(b'0', "sorted", 0o644);
    x.uid = 3_000_000;
    x.pax_records = BTreeMap::from([
        (b"SCHILY.xattr.user.b".to_vec(), b"2".to_vec()),
        (b"SCHILY.xattr.a".to_vec(), b"1".to_vec()),
    ]);
    v.push((x, WantFormat::Pax, vec![]));
    v.push((
        h(b'0', &format!("ü{}", r("a", 89)), 0o644),
        WantFormat::Pax,
        vec![],
    ));
    let mut x = h(b'0', "data", 0o644);
    x.size = 513;
    v.push((x, WantFormat::Pax, r("x", 513).into_bytes()));
    v
}

#[test]
fn fixture_is_unedited() {
    assert_eq!(hex::encode(Sha256::digest(FIXTURE)), FIXTURE_SHA256);
}

#[test]
fn encoder_matches_go_byte_for_byte() {
    let mut out = Vec::new();
    let mut refused = Vec::new();
    for (i, (hdr, format, data)) in cases().into_iter().enumerate() {
        match encode(&hdr, format) {
            Ok(e) => {
                out.extend_from_slice(&e.blocks);
                assert_eq!(e.data_len, data.len() as u64, "case {i}");
                out.extend_from_slice(&data);
                out.resize(out.len() + e.padding(), 0);
            }
            Err(err) => refused.push((i, err)),
        }
    }
    out.extend_from_slice(&END_OF_ARCHIVE);
    if let Some(d) = first_difference(&out[..], FIXTURE).unwrap() {
        panic!("differs from Go:\n{d}");
    }
    assert_eq!(out, FIXTURE);
    // gen.go's refusals.txt: 18 (devmajor 2^21) and 19 (NUL in the name).
    assert_eq!(refused.len(), 2, "{refused:?}");
    assert_eq!(refused[0].0, 18);
    assert!(matches!(refused[0].1, HeaderError::Unencodable(_)));
    assert_eq!(refused[1].0, 19);
    assert!(matches!(refused[1].1, HeaderError::InvalidPaxRecord { .. }));
}
