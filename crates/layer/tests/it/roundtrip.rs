//! Property test: random headers → our encoder → the raw parser gives the same values back; and
//! the first-difference report names the field that was changed.

use std::collections::BTreeMap;

use layerproof_archive::tar::END_OF_ARCHIVE;
use layerproof_archive::{Header, Timestamp};
use layerproof_layer::compare::{Item, Reader, first_difference};
use layerproof_layer::tarheader::{self, Chosen, WantFormat, encode, to_ascii};
use proptest::prelude::*;

fn name_strategy() -> impl Strategy<Value = Vec<u8>> {
    // Path-like names over a small alphabet with non-ASCII and slashes; lengths around the
    // 100/155 boundaries.
    let piece = prop_oneof![
        Just(b"a".to_vec()),
        Just(b"/".to_vec()),
        Just("ü".as_bytes().to_vec()),
        Just(b"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".to_vec()),
        Just(b"-.".to_vec()),
    ];
    proptest::collection::vec(piece, 1..12).prop_map(|v| {
        let mut n: Vec<u8> = v.concat();
        while n.last() == Some(&b'/') {
            n.pop();
        }
        if n.is_empty() {
            n.push(b'x');
        }
        n
    })
}

fn header_strategy() -> impl Strategy<Value = (Header, usize)> {
    (
        name_strategy(),
        prop_oneof![
            Just(b'0'),
            Just(b'5'),
            Just(b'2'),
            Just(b'1'),
            Just(b'3'),
            Just(b'6')
        ],
        0i64..0o200000,
        prop_oneof![0i64..2_097_152, 2_097_152i64..5_000_000_000],
        0i64..3_000_000,
        (0usize..1500),
        prop_oneof![
            0i64..8_589_934_592,
            -1_000_000i64..0,
            8_589_934_592i64..1 << 40
        ],
        prop_oneof![Just(0u32), 0u32..1_000_000_000],
        proptest::collection::btree_map(
            "[a-z.]{1,12}",
            proptest::collection::vec(any::<u8>(), 0..30),
            0..3,
        ),
        name_strategy(),
        (0i64..4096, 0i64..1_048_576),
        prop_oneof![Just(Vec::new()), "[a-z]{1,40}".prop_map(String::into_bytes)],
    )
        .prop_map(
            |(name, flag, mode, uid, gid, size, sec, nsec, xattrs, link, (maj, min), uname)| {
                let mut name = name;
                if flag == b'5' {
                    name.push(b'/');
                }
                let data = if flag == b'0' { size } else { 0 };
                let h = Header {
                    name,
                    linkname: if matches!(flag, b'1' | b'2') {
                        link
                    } else {
                        Vec::new()
                    },
                    typeflag: flag,
                    mode,
                    uid,
                    gid,
                    uname,
                    gname: Vec::new(),
                    size: data as i64,
                    mtime: Timestamp { sec, nsec },
                    atime: None,
                    ctime: None,
                    devmajor: maj,
                    devminor: min,
                    pax_records: xattrs
                        .into_iter()
                        .map(|(k, v)| (format!("SCHILY.xattr.{k}").into_bytes(), v))
                        .collect::<BTreeMap<_, _>>(),
                    ..Header::default()
                };
                (h, data)
            },
        )
}

fn write(h: &Header, data: usize) -> Vec<u8> {
    let e = encode(h, WantFormat::Pax).expect("encodable");
    let mut out = e.blocks.clone();
    out.extend(std::iter::repeat_n(b'd', data));
    out.resize(out.len() + e.padding(), 0);
    out.extend_from_slice(&END_OF_ARCHIVE);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encoded_headers_parse_back((h, data) in header_strategy()) {
        let e = encode(&h, WantFormat::Pax).unwrap();
        prop_assert_eq!(e.blocks.len() % 512, 0);
        let bytes = write(&h, data);
        let mut r = Reader::new(&bytes[..]);
        let Some(Ok(Item::Entry(raw))) = r.next() else { panic!("no entry") };
        let p = raw.parse().unwrap();
        prop_assert_eq!(&p.name, &h.name);
        prop_assert_eq!(&p.linkname, &h.linkname);
        prop_assert_eq!(p.typeflag, h.typeflag);
        prop_assert_eq!(p.mode, h.mode);
        prop_assert_eq!(p.uid, h.uid);
        prop_assert_eq!(p.gid, h.gid);
        prop_assert_eq!(&p.uname, &h.uname);
        prop_assert_eq!(p.size, h.size);
        prop_assert_eq!(p.mtime, h.mtime);
        prop_assert_eq!((p.devmajor, p.devminor), (h.devmajor, h.devminor));
        for (k, v) in &h.pax_records {
            prop_assert_eq!(p.pax_records.get(k), Some(v));
        }
        prop_assert_eq!(raw.data_len, data as u64);
        // USTAR exactly when nothing needed PAX.
        let ustar_ok = h.pax_records.is_empty()
            && h.uid < 2_097_152
            && h.gid < 2_097_152
            && h.mtime.nsec == 0
            && (0..8_589_934_592).contains(&h.mtime.sec)
            && h.uname.len() <= 32
            && (h.linkname.is_empty() || (tarheader::is_ascii(&h.linkname) && h.linkname.len() <= 100))
            && (tarheader::is_ascii(&h.name)
                && (h.name.len() <= 100 || tarheader::split_ustar_path(&h.name).is_some()));
        prop_assert_eq!(e.chosen == Chosen::Ustar, ustar_ok);
        if e.chosen == Chosen::Pax {
            // Main header name field: toASCII, cut to 100.
            let mut want = to_ascii(&h.name);
            want.truncate(100);
            let field = raw.header.field("name");
            let got = &field[..field.iter().position(|&c| c == 0).unwrap_or(100)];
            prop_assert!(want.starts_with(got), "{:?} vs {:?}", got, want);
        }
        let Some(Ok(Item::End(t))) = r.next() else { panic!("no trailer") };
        prop_assert_eq!(t.len, 1024);
    }

    #[test]
    fn first_difference_names_the_changed_field((h, data) in header_strategy(), bump in 1i64..7) {
        let a = write(&h, data);
        let mut h2 = h.clone();
        h2.gid = h.gid + bump;
        let b = write(&h2, data);
        let d = first_difference(&a[..], &b[..]).unwrap().expect("differs");
        prop_assert_eq!(d.index, 0);
        prop_assert!(d.fields.iter().any(|f| f.field == "gid" || f.field == "pax:gid"), "{}", d);
        prop_assert!(first_difference(&a[..], &a[..]).unwrap().is_none());
    }
}

#[test]
fn difference_report_is_readable() {
    let mut h = Header {
        name: b"etc/passwd".to_vec(),
        typeflag: b'0',
        mode: 0o100644,
        ..Header::default()
    };
    let a = write(&h, 0);
    h.mode = 0o644;
    let b = write(&h, 0);
    let d = first_difference(&a[..], &b[..]).unwrap().unwrap();
    let text = d.to_string();
    assert!(text.contains("\"etc/passwd\""), "{text}");
    assert!(text.contains("mode"), "{text}");
    assert!(text.contains("\"0100644\\0\" | \"0000644\\0\""), "{text}");
    assert!(text.contains("chksum"), "{text}");
    // An extra entry on one side.
    let mut c = a[..a.len() - 1024].to_vec();
    c.extend_from_slice(&a);
    let d = first_difference(&a[..], &c[..]).unwrap().unwrap();
    assert_eq!(d.index, 1);
    assert!(matches!(d.left, Item::End(_)));
    assert!(matches!(d.right, Item::Entry(_)));
    // Trailing garbage after the trailer.
    let mut g = a.clone();
    g.extend_from_slice(&[0u8; 512]);
    let d = first_difference(&a[..], &g[..]).unwrap().unwrap();
    assert!(d.fields.iter().any(|f| f.field == "trailer.len"), "{d}");
}
