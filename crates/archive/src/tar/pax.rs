//! PAX extended headers: records (`"%d %s=%s\n"`) and times (`SECONDS[.FRACTION]`), parsed as
//! Go's reader does and formatted as Go's writer does, and how records apply to a [`Header`].

use std::collections::BTreeMap;

use super::field::parse_decimal;
use super::{Header, Timestamp};

/// PAX records by key (later records of one header replace earlier ones).
pub type Records = BTreeMap<Vec<u8>, Vec<u8>>;

/// Key of the entry name record.
pub const PATH: &[u8] = b"path";
/// Key of the link target record.
pub const LINKPATH: &[u8] = b"linkpath";
/// Key of the owner name record.
pub const UNAME: &[u8] = b"uname";
/// Key of the group name record.
pub const GNAME: &[u8] = b"gname";
/// Key of the numeric owner record.
pub const UID: &[u8] = b"uid";
/// Key of the numeric group record.
pub const GID: &[u8] = b"gid";
/// Key of the data size record.
pub const SIZE: &[u8] = b"size";
/// Key of the modification time record.
pub const MTIME: &[u8] = b"mtime";
/// Key of the access time record.
pub const ATIME: &[u8] = b"atime";
/// Key of the change time record.
pub const CTIME: &[u8] = b"ctime";
/// GNU sparse 0.x: number of map entries.
pub const SPARSE_NUMBLOCKS: &[u8] = b"GNU.sparse.numblocks";
/// GNU sparse 0.0: one fragment's offset (repeated).
pub const SPARSE_OFFSET: &[u8] = b"GNU.sparse.offset";
/// GNU sparse 0.0: one fragment's length (repeated).
pub const SPARSE_NUMBYTES: &[u8] = b"GNU.sparse.numbytes";
/// GNU sparse 0.1: the whole map, comma-separated (0.0 pairs are collected into it).
pub const SPARSE_MAP: &[u8] = b"GNU.sparse.map";
/// GNU sparse 1.0: the real name.
pub const SPARSE_NAME: &[u8] = b"GNU.sparse.name";
/// GNU sparse format major version.
pub const SPARSE_MAJOR: &[u8] = b"GNU.sparse.major";
/// GNU sparse format minor version.
pub const SPARSE_MINOR: &[u8] = b"GNU.sparse.minor";
/// GNU sparse 1.0: the expanded size.
pub const SPARSE_SIZE: &[u8] = b"GNU.sparse.size";
/// GNU sparse 0.x: the expanded size.
pub const SPARSE_REALSIZE: &[u8] = b"GNU.sparse.realsize";

/// Go's `validPAXRecord`: keys may not contain NUL; the values of `path`, `linkpath`, `uname`
/// and `gname` may not either.
#[inline]
pub fn valid_pax_record(key: &[u8], value: &[u8]) -> bool {
    match key {
        PATH | LINKPATH | UNAME | GNAME => !value.contains(&0),
        _ => !key.contains(&0),
    }
}

/// Parse one PAX record (`"%d %s=%s\n"`) at the start of `s` as Go's `parsePAXRecord`,
/// returning `(key, value, rest)`; `None` where Go returns `ErrHeader` (a bad length, no `=`,
/// an empty key, a record [`valid_pax_record`] refuses).
pub fn parse_pax_record(s: &[u8]) -> Option<(&[u8], &[u8], &[u8])> {
    let sp = s.iter().position(|&c| c == b' ')?;
    let n = parse_decimal(&s[..sp])?;
    if n < 5 || n > s.len() as i64 {
        return None;
    }
    let n = usize::try_from(n).ok()?.checked_sub(sp + 1)?;
    if n == 0 {
        return None;
    }
    let rest = &s[sp + 1..];
    let (rec, nl, rem) = (&rest[..n - 1], rest[n - 1], &rest[n..]);
    if nl != b'\n' {
        return None;
    }
    let eq = rec.iter().position(|&c| c == b'=')?;
    let (k, v) = (&rec[..eq], &rec[eq + 1..]);
    (!k.is_empty() && valid_pax_record(k, v)).then_some((k, v, rem))
}

/// Parse a whole PAX header body as Go's `parsePAX`: later records win, GNU sparse 0.0
/// `offset`/`numbytes` pairs are collected (in order, without commas) into `GNU.sparse.map`.
pub fn parse_pax_records(mut s: &[u8]) -> Option<Records> {
    let mut records = BTreeMap::new();
    let mut sparse_map: Vec<&[u8]> = Vec::new();
    while !s.is_empty() {
        let (k, v, rest) = parse_pax_record(s)?;
        s = rest;
        if k == SPARSE_OFFSET || k == SPARSE_NUMBYTES {
            let expect = if sparse_map.len().is_multiple_of(2) {
                SPARSE_OFFSET
            } else {
                SPARSE_NUMBYTES
            };
            if k != expect || v.contains(&b',') {
                return None;
            }
            sparse_map.push(v);
        } else {
            records.insert(k.to_vec(), v.to_vec());
        }
    }
    if !sparse_map.is_empty() {
        records.insert(SPARSE_MAP.to_vec(), sparse_map.join(&b','));
    }
    Some(records)
}

/// Go's `formatPAXRecord`: `"<len> <key>=<value>\n"` where `<len>` counts the whole record,
/// itself included.
pub fn format_pax_record(key: &[u8], value: &[u8]) -> Vec<u8> {
    let base = key.len() + value.len() + 3;
    let mut size = base + base.to_string().len();
    if base + size.to_string().len() != size {
        size = base + size.to_string().len();
    }
    let mut rec = Vec::with_capacity(size);
    rec.extend_from_slice(size.to_string().as_bytes());
    rec.push(b' ');
    rec.extend_from_slice(key);
    rec.push(b'=');
    rec.extend_from_slice(value);
    rec.push(b'\n');
    rec
}

/// Go's `time.Unix(sec, nsec)` normalisation for `|nsec| < 1e9`, with Go's wrapping arithmetic.
fn unix(sec: i64, nsec: i64) -> Timestamp {
    let (mut sec, mut nsec) = (sec, nsec);
    if !(0..1_000_000_000).contains(&nsec) {
        let n = nsec / 1_000_000_000;
        sec = sec.wrapping_add(n);
        nsec -= n * 1_000_000_000;
        if nsec < 0 {
            nsec += 1_000_000_000;
            sec = sec.wrapping_sub(1);
        }
    }
    Timestamp {
        sec,
        nsec: nsec as u32,
    }
}

/// Parse a PAX time value as Go's `parsePAXTime`: `SECONDS[.FRACTION]`, seconds a decimal
/// `int64` (sign allowed), the fraction digits only, right-padded or truncated to 9 digits, and
/// for a negative seconds string the fraction counts towards minus infinity
/// (`-1.5` = 1.5 s before the epoch).
pub fn parse_pax_time(s: &[u8]) -> Option<Timestamp> {
    let (ss, sn) = match s.iter().position(|&c| c == b'.') {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, &s[s.len()..]),
    };
    let secs = parse_decimal(ss)?;
    if sn.is_empty() {
        return Some(unix(secs, 0));
    }
    if !sn.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut nsecs: i64 = 0;
    for i in 0..9 {
        nsecs = nsecs * 10 + sn.get(i).map_or(0, |&c| i64::from(c - b'0'));
    }
    if ss.first() == Some(&b'-') {
        Some(unix(secs, -nsecs))
    } else {
        Some(unix(secs, nsecs))
    }
}

/// Go's `formatPAXTime`: seconds, plus `.` and up to nine digits without trailing zeros.
pub fn format_pax_time(t: Timestamp) -> Vec<u8> {
    if t.nsec == 0 {
        return t.sec.to_string().into_bytes();
    }
    let (sign, secs, nsecs) = if t.sec < 0 {
        // Go: secs = -(secs+1), nsecs = 1e9 - nsecs.
        ("-", -(t.sec + 1), 1_000_000_000 - t.nsec)
    } else {
        ("", t.sec, t.nsec)
    };
    let s = format!("{sign}{secs}.{nsecs:09}");
    s.trim_end_matches('0').as_bytes().to_vec()
}

/// Go's `mergePAX`: apply the records to the header's fields (empty values keep the header's
/// value). The error names the record whose value does not parse.
pub fn merge(h: &mut Header, records: &Records) -> Result<(), &'static str> {
    for (k, v) in records {
        if v.is_empty() {
            continue;
        }
        match k.as_slice() {
            PATH => h.name = v.clone(),
            LINKPATH => h.linkname = v.clone(),
            UNAME => h.uname = v.clone(),
            GNAME => h.gname = v.clone(),
            UID => h.uid = parse_decimal(v).ok_or("invalid PAX uid")?,
            GID => h.gid = parse_decimal(v).ok_or("invalid PAX gid")?,
            SIZE => h.size = parse_decimal(v).ok_or("invalid PAX size")?,
            MTIME => h.mtime = parse_pax_time(v).ok_or("invalid PAX mtime")?,
            ATIME => h.atime = Some(parse_pax_time(v).ok_or("invalid PAX atime")?),
            CTIME => h.ctime = Some(parse_pax_time(v).ok_or("invalid PAX ctime")?),
            _ => {}
        }
    }
    Ok(())
}
