//! Tests of the shared field and PAX codecs (formatting; parsing is tested with the reader).

use super::Timestamp;
use super::field::{fits_in_octal, format_octal, format_string};
use super::pax::{format_pax_record, format_pax_time};

#[test]
fn octal_fields() {
    let mut f = [0xffu8; 8];
    format_octal(&mut f, 0o755);
    assert_eq!(&f, b"0000755\0");
    format_octal(&mut f, 0o40755);
    assert_eq!(&f, b"0040755\0");
    // 8^7 does not fit: written as zero.
    format_octal(&mut f, 2_097_152);
    assert_eq!(&f, b"0000000\0");
    format_octal(&mut f, 2_097_151);
    assert_eq!(&f, b"7777777\0");
    format_octal(&mut f, -1);
    assert_eq!(&f, b"0000000\0");
    let mut s = [0u8; 12];
    format_octal(&mut s, 15);
    assert_eq!(&s, b"00000000017\0");
    format_octal(&mut s, 1 << 33);
    assert_eq!(&s, b"00000000000\0");
}

#[test]
fn octal_fields_match_formatted_digits() {
    // the digits Go's formatOctal writes, from Rust's own formatting
    let values = [
        0,
        1,
        7,
        8,
        0o777,
        2_097_151,
        2_097_152,
        1 << 33,
        i64::MAX,
        -1,
        i64::MIN,
    ];
    for len in 1..=30 {
        for &x in &values {
            let x = if fits_in_octal(len, x) { x } else { 0 };
            let mut want = vec![0xaa; len];
            let digits = format!("{:0width$o}", x, width = len - 1);
            format_string(&mut want, digits.as_bytes());
            let mut got = vec![0xaa; len];
            format_octal(&mut got, x);
            assert_eq!(got, want, "len {len}, x {x}");
        }
    }
}

#[test]
fn string_truncation_and_trailing_slash() {
    let mut f = [0xffu8; 5];
    format_string(&mut f, b"ab");
    assert_eq!(&f, b"ab\0\xff\xff");
    format_string(&mut f, b"abcde");
    assert_eq!(&f, b"abcde");
    format_string(&mut f, b"abcdefg");
    assert_eq!(&f, b"abcde");
    // Truncated field ending in a run of slashes: NUL at the first slash of the run.
    format_string(&mut f, b"ab///x");
    assert_eq!(&f, b"ab\0//");
    format_string(&mut f, b"/////x");
    assert_eq!(&f, b"\0////");
    // Not truncated: the trailing slash stays.
    format_string(&mut f, b"abc/");
    assert_eq!(&f, b"abc/\0");
}

#[test]
fn pax_records_count_themselves() {
    assert_eq!(format_pax_record(b"uid", b"3000000"), b"15 uid=3000000\n");
    assert_eq!(format_pax_record(b"gid", b"3000001"), b"15 gid=3000001\n");
    // 9 + 90 + 3 = 102 → 105 with "105"; base 99+... check the re-count boundary.
    let v = vec![b'a'; 93];
    let rec = format_pax_record(b"path", &v);
    assert_eq!(rec.len(), 103);
    assert!(rec.starts_with(b"103 path="));
    let v = vec![b'a'; 94]; // base 101 → "101"+... = 104
    let rec = format_pax_record(b"path", &v);
    assert!(
        rec.starts_with(b"104 path="),
        "{}",
        String::from_utf8_lossy(&rec)
    );
    assert_eq!(rec.len(), 104);
    // The re-check case: base 98 → 100 with 2 digits, but 100 has 3 digits → 101.
    let v = vec![b'a'; 91]; // 4 + 91 + 3 = 98
    let rec = format_pax_record(b"path", &v);
    assert_eq!(rec.len(), 101);
    assert!(rec.starts_with(b"101 "));
}

#[test]
fn pax_time() {
    assert_eq!(format_pax_time(Timestamp::from_secs(5)), b"5");
    let t = Timestamp {
        sec: 1_700_000_000,
        nsec: 500_000_000,
    };
    assert_eq!(format_pax_time(t), b"1700000000.5");
    let t = Timestamp {
        sec: -1,
        nsec: 500_000_000,
    };
    assert_eq!(format_pax_time(t), b"-0.5");
    let t = Timestamp {
        sec: -2,
        nsec: 250_000_000,
    }; // -1.75
    assert_eq!(format_pax_time(t), b"-1.75");
}
