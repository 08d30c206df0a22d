//! Tests of the Go-exact header encoder: hand-checked blocks and Go's refusals.

use super::*;

fn hdr(name: &str, flag: u8, mode: i64) -> Header {
    Header {
        name: name.as_bytes().to_vec(),
        typeflag: flag,
        mode,
        ..Header::default()
    }
}

fn field(b: &[u8], range: std::ops::Range<usize>) -> &[u8] {
    &b[range]
}

#[test]
fn ustar_split() {
    let prefix = format!("opt/{}", "a".repeat(60));
    let name = format!("{prefix}/{}.txt", "b".repeat(60));
    let (p, s) = split_ustar_path(name.as_bytes()).unwrap();
    assert_eq!(p, prefix.as_bytes());
    assert_eq!(s, format!("{}.txt", "b".repeat(60)).as_bytes());
    // Unsplittable: the base is longer than 100.
    let long = format!("opt/{}", "c".repeat(120));
    assert!(split_ustar_path(long.as_bytes()).is_none());
    // Leading slash only: i == 0.
    let lead = format!("/{}", "d".repeat(101));
    assert!(split_ustar_path(lead.as_bytes()).is_none());
    // Directory with trailing slash: the slash is ignored when searching.
    let dir = format!("{}/{}/", "e".repeat(50), "f".repeat(99));
    let (p, s) = split_ustar_path(dir.as_bytes()).unwrap();
    assert_eq!(p, "e".repeat(50).as_bytes());
    assert_eq!(s, format!("{}/", "f".repeat(99)).as_bytes());
    assert!(split_ustar_path(b"short").is_none());
}

#[test]
fn pax_header_names() {
    assert_eq!(pax_header_name(b"opt/x.txt"), b"opt/PaxHeaders.0/x.txt");
    assert_eq!(pax_header_name(b"a/b/"), b"a/b/PaxHeaders.0");
    assert_eq!(pax_header_name(b"x"), b"PaxHeaders.0/x");
    assert_eq!(pax_header_name(b""), b"PaxHeaders.0");
    assert_eq!(pax_header_name(b"a//b"), b"a/PaxHeaders.0/b");
}

#[test]
fn ustar_regular_file_block() {
    let mut h = hdr("etc/passwd", b'0', 0o644);
    h.size = 15;
    h.mtime = Timestamp::from_secs(1_700_000_000);
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Ustar);
    assert_eq!(e.blocks.len(), 512);
    let b = &e.blocks;
    assert_eq!(field(b, 0..11), b"etc/passwd\0");
    assert_eq!(field(b, 100..108), b"0000644\0");
    assert_eq!(field(b, 108..116), b"0000000\0");
    assert_eq!(field(b, 124..136), b"00000000017\0");
    assert_eq!(field(b, 136..148), b"14524770400\0");
    assert_eq!(b[156], b'0');
    assert_eq!(field(b, 257..265), b"ustar\x0000");
    assert_eq!(field(b, 329..337), b"0000000\0");
    assert_eq!(field(b, 337..345), b"0000000\0");
    assert_eq!(b[155], b' ');
    assert_eq!(b[154], 0);
    let mut blk = [0u8; 512];
    blk.copy_from_slice(b);
    let want = format!("{:06o}\0 ", checksums(&blk).0);
    assert_eq!(field(b, 148..156), want.as_bytes());
    assert_eq!(e.data_len, 15);
    assert_eq!(e.padding(), 497);
}

#[test]
fn checksum_example_from_spec() {
    // A directory `etc/` 0755 0:0 mtime 0, no type bits: checksum is fixed by the bytes.
    let h = hdr("etc/", b'5', 0o755);
    let e = encode(&h, WantFormat::Pax).unwrap();
    let b = &e.blocks;
    let mut sum: i64 = 0;
    for (i, &c) in b.iter().enumerate() {
        sum += if (148..156).contains(&i) {
            32
        } else {
            c as i64
        };
    }
    assert_eq!(field(b, 148..156), format!("{sum:06o}\0 ").as_bytes());
}

#[test]
fn big_ids_use_pax_with_zero_fields() {
    let mut h = hdr("f", b'0', 0o644);
    h.uid = 3_000_000;
    h.gid = 3_000_001;
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Pax);
    assert_eq!(e.blocks.len(), 3 * 512);
    let x = &e.blocks[..512];
    assert_eq!(field(x, 0..16), b"PaxHeaders.0/f\0\0");
    assert_eq!(x[156], b'x');
    assert_eq!(field(x, 100..108), b"0000000\0");
    assert_eq!(field(x, 124..136), b"00000000036\0");
    assert_eq!(field(x, 136..148), b"00000000000\0");
    // uname, gname, devmajor, devminor, prefix all NUL in the x header.
    assert!(x[265..500].iter().all(|&c| c == 0));
    assert_eq!(
        field(&e.blocks, 512..542),
        b"15 gid=3000001\n15 uid=3000000\n"
    );
    assert!(e.blocks[542..1024].iter().all(|&c| c == 0));
    let m = e.main_block();
    assert_eq!(field(m, 108..116), b"0000000\0");
    assert_eq!(field(m, 116..124), b"0000000\0");
    assert_eq!(field(m, 329..337), b"0000000\0");
    assert_eq!(field(m, 257..265), b"ustar\x0000");
}

#[test]
fn non_ascii_name_is_dropped_in_header_fields() {
    let h = hdr("opt/ü.txt", b'0', 0o644);
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Pax);
    assert_eq!(field(&e.blocks, 0..21), b"opt/PaxHeaders.0/.txt");
    assert_eq!(field(&e.blocks, 512..531), "19 path=opt/ü.txt\n".as_bytes());
    assert_eq!(field(e.main_block(), 0..9), b"opt/.txt\0");
}

#[test]
fn long_unsplittable_name_truncated_in_main_header() {
    let name = format!("opt/{}", "c".repeat(120));
    assert_eq!(name.len(), 124);
    let h = hdr(&name, b'0', 0o644);
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Pax);
    let rec = format!("134 path={name}\n");
    assert_eq!(&e.blocks[512..512 + rec.len()], rec.as_bytes());
    assert_eq!(field(e.main_block(), 0..100), &name.as_bytes()[..100]);
    assert_eq!(field(e.main_block(), 345..500), &[0u8; 155][..]);
    // The x header name is cut to 100 bytes.
    let xname = format!("opt/PaxHeaders.0/{}", "c".repeat(120));
    assert_eq!(field(&e.blocks, 0..100), &xname.as_bytes()[..100]);
}

#[test]
fn splittable_name_stays_ustar() {
    let name = format!("opt/{}/{}.txt", "a".repeat(60), "b".repeat(57));
    assert_eq!(name.len(), 126);
    let e = encode(&hdr(&name, b'0', 0o644), WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Ustar);
    let suffix = format!("{}.txt\0", "b".repeat(57));
    assert_eq!(field(&e.blocks, 0..suffix.len()), suffix.as_bytes());
    let prefix = format!("opt/{}\0", "a".repeat(60));
    assert_eq!(field(&e.blocks, 345..345 + prefix.len()), prefix.as_bytes());
}

#[test]
fn xattr_forces_pax() {
    let mut h = hdr("usr/bin/ping", b'0', 0o755);
    let cap: Vec<u8> = (0..20).collect();
    h.pax_records
        .insert(b"SCHILY.xattr.security.capability".to_vec(), cap.clone());
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Pax);
    let mut want = b"57 SCHILY.xattr.security.capability=".to_vec();
    want.extend_from_slice(&cap);
    want.push(b'\n');
    assert_eq!(&e.blocks[512..512 + 57], &want[..]);
    assert_eq!(
        field(&e.blocks, 0..30),
        b"usr/bin/PaxHeaders.0/ping\0\0\0\0\0"
    );
}

#[test]
fn basic_keys_in_pax_records_are_ignored_unless_equal() {
    let mut h = hdr("f", b'0', 0o644);
    h.pax_records.insert(b"uid".to_vec(), b"7".to_vec());
    h.pax_records.insert(b"gid".to_vec(), b"0".to_vec());
    let e = encode(&h, WantFormat::Pax).unwrap();
    // gid matches the field (0) so it is kept; uid=7 conflicts and is dropped.
    assert_eq!(field(&e.blocks, 512..521), b"8 gid=0\n\0");
}

#[test]
fn failures() {
    let mut h = hdr("dev", b'3', 0o600);
    h.devmajor = 1 << 21;
    assert!(matches!(
        encode(&h, WantFormat::Pax),
        Err(HeaderError::Unencodable(_))
    ));
    let h = hdr("a\0b", b'0', 0o644);
    assert!(matches!(
        encode(&h, WantFormat::Pax),
        Err(HeaderError::InvalidPaxRecord { .. })
    ));
    let h = hdr("f", b'0', 1 << 21);
    assert!(matches!(
        encode(&h, WantFormat::Pax),
        Err(HeaderError::Unencodable(_))
    ));
    let h = hdr("f/", b'0', 0o644);
    assert_eq!(encode(&h, WantFormat::Pax), Err(HeaderError::TrailingSlash));
    let mut h = hdr("f", b'0', 0o644);
    h.size = -1;
    assert_eq!(encode(&h, WantFormat::Pax), Err(HeaderError::NegativeSize));
    let h = hdr("f", b'0', 1 << 21);
    assert_eq!(encode(&h, WantFormat::Unknown), Err(HeaderError::NeedsGnu));
    let mut h = hdr("f", b'0', 0o644);
    h.pax_records.insert(
        b"SCHILY.xattr.big".to_vec(),
        vec![b'v'; MAX_SPECIAL_FILE_SIZE as usize],
    );
    let err = encode(&h, WantFormat::Pax).unwrap_err();
    assert!(err.is_fatal(), "{err}");
}

#[test]
fn sub_second_mtime_prefers_pax() {
    let mut h = hdr("f", b'0', 0o644);
    h.mtime = Timestamp { sec: 10, nsec: 5 };
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.chosen, Chosen::Pax);
    assert_eq!(field(&e.blocks, 512..534), b"22 mtime=10.000000005\n");
    // Unknown format rounds instead and stays USTAR.
    h.mtime = Timestamp {
        sec: 10,
        nsec: 500_000_000,
    };
    let e = encode(&h, WantFormat::Unknown).unwrap();
    assert_eq!(e.chosen, Chosen::Ustar);
    assert_eq!(field(&e.blocks, 136..148), b"00000000013\0");
}

#[test]
fn negative_mtime_uses_pax_and_zero_field() {
    let mut h = hdr("f", b'0', 0o644);
    h.mtime = Timestamp::from_secs(-100);
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(field(&e.blocks, 512..526), b"14 mtime=-100\n");
    assert_eq!(field(e.main_block(), 136..148), b"00000000000\0");
}

#[test]
fn rega_is_promoted() {
    let e = encode(&hdr("d/", 0, 0o755), WantFormat::Pax).unwrap();
    assert_eq!(e.blocks[156], b'5');
    let e = encode(&hdr("f", 0, 0o644), WantFormat::Pax).unwrap();
    assert_eq!(e.blocks[156], b'0');
}

#[test]
fn header_only_types_carry_no_data() {
    let mut h = hdr("l", b'2', 0o777);
    h.size = 99;
    let e = encode(&h, WantFormat::Pax).unwrap();
    assert_eq!(e.data_len, 0);
    assert_eq!(field(&e.blocks, 124..136), b"00000000143\0");
}
