//! Header dumps and the first difference between two layer tars.
//!
//! This is a deliberately small, raw parser: it reads 512-byte blocks, keeps every header block
//! exactly as written, merges PAX `x` (and GNU `L`/`K`) extension blocks into the entry they
//! precede, and hashes data instead of holding it. It never normalises anything away, so two
//! entries compare equal only if their bytes are equal; when they differ, [`Difference`] lists
//! each differing field with both raw values (`"0100644\0"` vs `"0000644\0"`).
//!
//! ```
//! use layerproof_layer::compare::first_difference;
//! let empty = [0u8; 1024];
//! assert!(first_difference(&empty[..], &empty[..]).unwrap().is_none());
//! ```

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io::{self, Read};

use sha2::{Digest, Sha256};

const BLOCK: usize = 512;

/// Errors while reading a tar.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading failed.
    #[error("reading the tar: {0}")]
    Io(#[from] io::Error),
    /// The stream ended inside a header, extension or data area.
    #[error("tar truncated at byte {offset} (inside {what})")]
    Truncated {
        /// Byte offset where more bytes were expected.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// A numeric field that is neither octal nor base-256.
    #[error("bad {field} field in the header at byte {offset}: {raw:?}")]
    BadNumber {
        /// Header offset.
        offset: u64,
        /// Field name.
        field: &'static str,
        /// Raw bytes, escaped.
        raw: String,
    },
    /// A malformed PAX record.
    #[error("bad PAX record in the extended header at byte {offset}")]
    BadPax {
        /// Extension header offset.
        offset: u64,
    },
}

/// The fixed fields of a header block: (name, offset, length).
pub const FIELDS: [(&str, usize, usize); 17] = [
    ("name", 0, 100),
    ("mode", 100, 8),
    ("uid", 108, 8),
    ("gid", 116, 8),
    ("size", 124, 12),
    ("mtime", 136, 12),
    ("chksum", 148, 8),
    ("typeflag", 156, 1),
    ("linkname", 157, 100),
    ("magic", 257, 6),
    ("version", 263, 2),
    ("uname", 265, 32),
    ("gname", 297, 32),
    ("devmajor", 329, 8),
    ("devminor", 337, 8),
    ("prefix", 345, 155),
    ("pad", 500, 12),
];

/// A header block as written.
#[derive(Clone, PartialEq, Eq)]
pub struct Block(pub Box<[u8; BLOCK]>);

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(trim_nuls(&self.0[..])))
    }
}

impl Block {
    /// The raw bytes of a field from [`FIELDS`].
    pub fn field(&self, name: &str) -> &[u8] {
        let (_, off, len) = FIELDS
            .iter()
            .copied()
            .find(|(n, _, _)| *n == name)
            .unwrap_or(("pad", 500, 12));
        &self.0[off..off + len]
    }

    /// The typeflag byte.
    pub fn typeflag(&self) -> u8 {
        self.0[156]
    }
}

/// An extension (PAX `x`/`g`, GNU `L`/`K`) that precedes an entry's main header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    /// Byte offset of its header block.
    pub offset: u64,
    /// The header block.
    pub block: Block,
    /// The body (unpadded).
    pub body: Vec<u8>,
    /// The body's padding bytes (normally zeros).
    pub padding: Vec<u8>,
}

impl Extension {
    /// PAX records of an `x`/`g` body, in written order.
    pub fn records(&self) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        parse_pax(&self.body)
    }
}

/// One archive member as written: extension blocks, main header, data digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// 0-based index (extensions are part of the entry they precede).
    pub index: u64,
    /// Byte offset of the entry's first block.
    pub offset: u64,
    /// Extension headers before the main header.
    pub extensions: Vec<Extension>,
    /// The main header block.
    pub header: Block,
    /// Data bytes that followed (0 for header-only types).
    pub data_len: u64,
    /// sha256 of the data bytes.
    pub data_sha256: [u8; 32],
    /// True if the data padding was all zeros.
    pub padding_zero: bool,
}

/// The end of the archive: everything from the first zero header block on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trailer {
    /// Byte offset of the first zero block (the archive size if the stream just ended).
    pub offset: u64,
    /// Bytes from there to the end of the stream.
    pub len: u64,
    /// True if all of them are zero.
    pub all_zero: bool,
    /// sha256 of those bytes.
    pub sha256: [u8; 32],
}

/// An entry's values as Go's reader would present them (PAX records applied).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    /// Name (PAX `path`, or USTAR prefix + `/` + name).
    pub name: Vec<u8>,
    /// Link name.
    pub linkname: Vec<u8>,
    /// Typeflag.
    pub typeflag: u8,
    /// Mode field.
    pub mode: i64,
    /// Owner.
    pub uid: i64,
    /// Group.
    pub gid: i64,
    /// Owner name.
    pub uname: Vec<u8>,
    /// Group name.
    pub gname: Vec<u8>,
    /// Size.
    pub size: i64,
    /// Modification time: whole seconds and nanoseconds.
    pub mtime: (i64, u32),
    /// Device major.
    pub devmajor: i64,
    /// Device minor.
    pub devminor: i64,
    /// PAX records of the `x` header, by key.
    pub pax: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl RawEntry {
    /// Parse the fields the way Go's reader would (minimal: octal/base-256 numbers, PAX
    /// overrides for path, linkpath, uid, gid, uname, gname, size, mtime).
    pub fn parse(&self) -> Result<Parsed, Error> {
        let h = &self.header;
        let num = |field: &'static str| {
            parse_numeric(h.field(field)).ok_or_else(|| Error::BadNumber {
                offset: self.offset,
                field,
                raw: escape(h.field(field)),
            })
        };
        let mut p = Parsed {
            name: cstr(h.field("name")).to_vec(),
            linkname: cstr(h.field("linkname")).to_vec(),
            typeflag: h.typeflag(),
            mode: num("mode")?,
            uid: num("uid")?,
            gid: num("gid")?,
            uname: cstr(h.field("uname")).to_vec(),
            gname: cstr(h.field("gname")).to_vec(),
            size: num("size")?,
            mtime: (num("mtime")?, 0),
            devmajor: num("devmajor")?,
            devminor: num("devminor")?,
            pax: BTreeMap::new(),
        };
        if h.field("magic") == b"ustar\0" {
            let prefix = cstr(h.field("prefix"));
            if !prefix.is_empty() {
                let mut n = prefix.to_vec();
                n.push(b'/');
                n.extend_from_slice(&p.name);
                p.name = n;
            }
        }
        for ext in &self.extensions {
            match ext.block.typeflag() {
                b'x' => {
                    let recs = ext.records().ok_or(Error::BadPax { offset: ext.offset })?;
                    p.pax.extend(recs);
                }
                b'L' => p.name = cstr(&ext.body).to_vec(),
                b'K' => p.linkname = cstr(&ext.body).to_vec(),
                _ => {}
            }
        }
        let pax = p.pax.clone();
        let int = |v: &[u8]| {
            std::str::from_utf8(v)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
        };
        for (k, v) in &pax {
            match k.as_slice() {
                b"path" => p.name = v.clone(),
                b"linkpath" => p.linkname = v.clone(),
                b"uname" => p.uname = v.clone(),
                b"gname" => p.gname = v.clone(),
                b"uid" => {
                    p.uid = int(v).ok_or(Error::BadPax {
                        offset: self.offset,
                    })?
                }
                b"gid" => {
                    p.gid = int(v).ok_or(Error::BadPax {
                        offset: self.offset,
                    })?
                }
                b"size" => {
                    p.size = int(v).ok_or(Error::BadPax {
                        offset: self.offset,
                    })?
                }
                b"mtime" => {
                    p.mtime = parse_pax_time(v).ok_or(Error::BadPax {
                        offset: self.offset,
                    })?
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// The entry's name for messages (PAX path if present), lossy UTF-8.
    pub fn display_name(&self) -> String {
        match self.parse() {
            Ok(p) => String::from_utf8_lossy(&p.name).into_owned(),
            Err(_) => String::from_utf8_lossy(cstr(self.header.field("name"))).into_owned(),
        }
    }
}

/// Either an entry or the end of the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// An archive member.
    Entry(RawEntry),
    /// The end: first zero block and everything after it.
    End(Trailer),
}

/// Reads a tar stream entry by entry, hashing data instead of keeping it.
#[derive(Debug)]
pub struct Reader<R> {
    r: R,
    offset: u64,
    index: u64,
    done: bool,
}

impl<R: Read> Reader<R> {
    /// Read from `r`.
    pub fn new(r: R) -> Self {
        Reader {
            r,
            offset: 0,
            index: 0,
            done: false,
        }
    }

    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(Error::Io(e)),
            }
        }
        self.offset += got as u64;
        Ok(got)
    }

    fn exact(&mut self, buf: &mut [u8], what: &'static str) -> Result<(), Error> {
        let start = self.offset;
        if self.fill(buf)? != buf.len() {
            return Err(Error::Truncated {
                offset: start + buf.len() as u64,
                what,
            });
        }
        Ok(())
    }

    /// The next entry, or the trailer (once), then `None`.
    pub fn next_item(&mut self) -> Result<Option<Item>, Error> {
        if self.done {
            return Ok(None);
        }
        let start = self.offset;
        let mut extensions = Vec::new();
        loop {
            let mut b = Box::new([0u8; BLOCK]);
            let hstart = self.offset;
            let got = self.fill(&mut b[..])?;
            if got == 0 && extensions.is_empty() {
                self.done = true;
                return Ok(Some(Item::End(Trailer {
                    offset: hstart,
                    len: 0,
                    all_zero: true,
                    sha256: Sha256::digest(b"").into(),
                })));
            }
            if got < BLOCK {
                return Err(Error::Truncated {
                    offset: self.offset,
                    what: "a header block",
                });
            }
            if extensions.is_empty() && b.iter().all(|&c| c == 0) {
                return self.trailer(hstart, &b[..]).map(Some);
            }
            let block = Block(b);
            let size = parse_numeric(block.field("size")).ok_or_else(|| Error::BadNumber {
                offset: hstart,
                field: "size",
                raw: escape(block.field("size")),
            })?;
            match block.typeflag() {
                b'x' | b'g' | b'L' | b'K' => {
                    let size = usize::try_from(size.max(0)).unwrap_or(usize::MAX);
                    if size > 64 << 20 {
                        return Err(Error::BadPax { offset: hstart });
                    }
                    let mut body = vec![0u8; size];
                    self.exact(&mut body, "an extension body")?;
                    let mut padding = vec![0u8; crate::tarheader::padding(size as u64)];
                    self.exact(&mut padding, "extension padding")?;
                    extensions.push(Extension {
                        offset: hstart,
                        block,
                        body,
                        padding,
                    });
                }
                flag => {
                    let mut data_len = if crate::tarheader::is_header_only(flag) {
                        0
                    } else {
                        size.max(0) as u64
                    };
                    if !crate::tarheader::is_header_only(flag) {
                        for ext in &extensions {
                            if ext.block.typeflag() == b'x'
                                && let Some(recs) = ext.records()
                                && let Some((_, v)) = recs.iter().find(|(k, _)| k == b"size")
                                && let Some(n) = std::str::from_utf8(v)
                                    .ok()
                                    .and_then(|s| s.parse::<u64>().ok())
                            {
                                data_len = n;
                            }
                        }
                    }
                    let mut hasher = Sha256::new();
                    let mut left = data_len;
                    let mut buf = vec![0u8; 64 << 10];
                    while left > 0 {
                        let n = left.min(buf.len() as u64) as usize;
                        self.exact(&mut buf[..n], "entry data")?;
                        hasher.update(&buf[..n]);
                        left -= n as u64;
                    }
                    let mut pad = vec![0u8; crate::tarheader::padding(data_len)];
                    self.exact(&mut pad, "data padding")?;
                    let entry = RawEntry {
                        index: self.index,
                        offset: start,
                        extensions,
                        header: block,
                        data_len,
                        data_sha256: hasher.finalize().into(),
                        padding_zero: pad.iter().all(|&c| c == 0),
                    };
                    self.index += 1;
                    return Ok(Some(Item::Entry(entry)));
                }
            }
        }
    }

    fn trailer(&mut self, offset: u64, first: &[u8]) -> Result<Item, Error> {
        self.done = true;
        let mut hasher = Sha256::new();
        hasher.update(first);
        let mut len = first.len() as u64;
        let mut all_zero = true;
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = self.fill(&mut buf)?;
            if n == 0 {
                break;
            }
            all_zero &= buf[..n].iter().all(|&c| c == 0);
            hasher.update(&buf[..n]);
            len += n as u64;
        }
        Ok(Item::End(Trailer {
            offset,
            len,
            all_zero,
            sha256: hasher.finalize().into(),
        }))
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<Item, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_item().transpose()
    }
}

/// One differing field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDiff {
    /// Field name: a header field (`mode`), `pax:<key>`, `x.<field>` for the extended header's own
    /// block, or `data.sha256` / `data.len`.
    pub field: String,
    /// Left value, escaped.
    pub left: String,
    /// Right value, escaped.
    pub right: String,
}

/// The first place where two tars differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// The entry index (or the number of entries, when the trailers differ).
    pub index: u64,
    /// Left side at that point.
    pub left: Item,
    /// Right side at that point.
    pub right: Item,
    /// Differing fields (empty when one side is an entry and the other the end).
    pub fields: Vec<FieldDiff>,
}

/// Compare two tars and return the first differing entry (or trailer), or `None` if the streams
/// are byte-identical in every header, extension, data digest and trailer.
pub fn first_difference<A: Read, B: Read>(left: A, right: B) -> Result<Option<Difference>, Error> {
    let mut a = Reader::new(left);
    let mut b = Reader::new(right);
    let mut index = 0;
    loop {
        let (x, y) = match (a.next_item()?, b.next_item()?) {
            (Some(x), Some(y)) => (x, y),
            _ => return Ok(None),
        };
        if x == y {
            if matches!(x, Item::End(_)) {
                return Ok(None);
            }
            index += 1;
            continue;
        }
        let fields = match (&x, &y) {
            (Item::Entry(l), Item::Entry(r)) => entry_fields(l, r),
            (Item::End(l), Item::End(r)) => vec![
                diff("trailer.len", l.len.to_string(), r.len.to_string()),
                diff(
                    "trailer.all_zero",
                    l.all_zero.to_string(),
                    r.all_zero.to_string(),
                ),
                diff(
                    "trailer.sha256",
                    hex::encode(l.sha256),
                    hex::encode(r.sha256),
                ),
            ]
            .into_iter()
            .flatten()
            .collect(),
            _ => Vec::new(),
        };
        return Ok(Some(Difference {
            index,
            left: x,
            right: y,
            fields,
        }));
    }
}

fn diff(field: &str, left: String, right: String) -> Option<FieldDiff> {
    (left != right).then(|| FieldDiff {
        field: field.to_string(),
        left,
        right,
    })
}

fn block_fields(prefix: &str, l: &Block, r: &Block, out: &mut Vec<FieldDiff>) {
    for (name, off, len) in FIELDS {
        let (a, b) = (&l.0[off..off + len], &r.0[off..off + len]);
        if a != b {
            out.push(FieldDiff {
                field: format!("{prefix}{name}"),
                left: escape(trim_nuls(a)),
                right: escape(trim_nuls(b)),
            });
        }
    }
}

fn entry_fields(l: &RawEntry, r: &RawEntry) -> Vec<FieldDiff> {
    let mut out = Vec::new();
    // Extensions: compare the x headers' own blocks and the records.
    let n = l.extensions.len().max(r.extensions.len());
    for i in 0..n {
        match (l.extensions.get(i), r.extensions.get(i)) {
            (Some(a), Some(b)) => {
                block_fields("x.", &a.block, &b.block, &mut out);
                let (ra, rb) = (a.records(), b.records());
                match (ra, rb) {
                    (Some(ra), Some(rb)) => {
                        let ma: BTreeMap<_, _> = ra.iter().cloned().collect();
                        let mb: BTreeMap<_, _> = rb.iter().cloned().collect();
                        let keys: std::collections::BTreeSet<_> =
                            ma.keys().chain(mb.keys()).cloned().collect();
                        for k in keys {
                            let show = |m: &BTreeMap<Vec<u8>, Vec<u8>>| {
                                m.get(&k)
                                    .map_or_else(|| "(absent)".to_string(), |v| escape(v))
                            };
                            out.extend(diff(
                                &format!("pax:{}", String::from_utf8_lossy(&k)),
                                show(&ma),
                                show(&mb),
                            ));
                        }
                        let order = |r: &Vec<(Vec<u8>, Vec<u8>)>| {
                            r.iter()
                                .map(|(k, _)| String::from_utf8_lossy(k).into_owned())
                                .collect::<Vec<_>>()
                                .join(",")
                        };
                        out.extend(diff("pax.order", order(&ra), order(&rb)));
                    }
                    _ => out.extend(diff("x.body", escape(&a.body), escape(&b.body))),
                }
                out.extend(
                    diff("x.body.raw", escape(&a.body), escape(&b.body))
                        .filter(|_| out.iter().all(|f| !f.field.starts_with("pax"))),
                );
                out.extend(diff(
                    "x.padding",
                    escape(trim_nuls(&a.padding)),
                    escape(trim_nuls(&b.padding)),
                ));
            }
            (a, b) => {
                let show = |e: Option<&Extension>| {
                    e.map_or_else(
                        || "(none)".to_string(),
                        |e| {
                            format!(
                                "{} header, {} bytes",
                                e.block.typeflag() as char,
                                e.body.len()
                            )
                        },
                    )
                };
                out.extend(diff(&format!("extension[{i}]"), show(a), show(b)));
            }
        }
    }
    block_fields("", &l.header, &r.header, &mut out);
    out.extend(diff(
        "data.len",
        l.data_len.to_string(),
        r.data_len.to_string(),
    ));
    out.extend(diff(
        "data.sha256",
        hex::encode(l.data_sha256),
        hex::encode(r.data_sha256),
    ));
    out.extend(diff(
        "data.padding_zero",
        l.padding_zero.to_string(),
        r.padding_zero.to_string(),
    ));
    out
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let describe = |i: &Item| match i {
            Item::Entry(e) => format!("{:?} at byte {}", e.display_name(), e.offset),
            Item::End(t) => format!("end of archive at byte {}", t.offset),
        };
        writeln!(f, "first difference at entry #{}:", self.index)?;
        writeln!(f, "  left:  {}", describe(&self.left))?;
        writeln!(f, "  right: {}", describe(&self.right))?;
        if self.fields.is_empty() {
            return Ok(());
        }
        let w = self
            .fields
            .iter()
            .map(|d| d.field.len())
            .max()
            .unwrap_or(5)
            .max(5);
        writeln!(f, "  {:<w$}  left | right", "field")?;
        for d in &self.fields {
            writeln!(f, "  {:<w$}  {} | {}", d.field, d.left, d.right)?;
        }
        Ok(())
    }
}

/// A field-by-field dump of one entry, for logs.
pub fn dump(entry: &RawEntry) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "entry #{} at byte {}", entry.index, entry.offset);
    for ext in &entry.extensions {
        let _ = writeln!(
            s,
            "  {} header {:?} ({} bytes)",
            ext.block.typeflag() as char,
            String::from_utf8_lossy(cstr(ext.block.field("name"))),
            ext.body.len()
        );
        if let Some(recs) = ext.records() {
            for (k, v) in recs {
                let _ = writeln!(s, "    {}={}", String::from_utf8_lossy(&k), escape(&v));
            }
        }
    }
    for (name, off, len) in FIELDS {
        let _ = writeln!(
            s,
            "  {name:<9} {}",
            escape(trim_nuls(&entry.header.0[off..off + len]))
        );
    }
    let _ = writeln!(
        s,
        "  data      {} bytes sha256:{}",
        entry.data_len,
        hex::encode(entry.data_sha256)
    );
    s
}

/// Escape bytes for display: printable ASCII as is, `\0`, `\n`, others `\xNN`, in quotes.
pub fn escape(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            0 => s.push_str("\\0"),
            b'\n' => s.push_str("\\n"),
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(c as char),
            _ => {
                let _ = write!(s, "\\x{c:02x}");
            }
        }
    }
    s.push('"');
    s
}

/// Drop trailing NULs beyond the first one (so `"0000755\0"` stays, `"etc\0\0\0…"` → `"etc\0"`).
fn trim_nuls(b: &[u8]) -> &[u8] {
    let end = b.iter().rposition(|&c| c != 0).map_or(0, |i| i + 1);
    &b[..(end + 1).min(b.len())]
}

fn cstr(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// Go's `parseNumeric` (the archive crate's reader owns the one implementation).
pub use layerproof_archive::tar::field::parse_numeric;

/// Parse PAX records (`"%d %s=%s\n"`), in order. `None` if malformed.
pub fn parse_pax(mut body: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let sp = body.iter().position(|&c| c == b' ')?;
        let n: usize = std::str::from_utf8(&body[..sp]).ok()?.parse().ok()?;
        if n < 5 || n > body.len() || body[n - 1] != b'\n' || sp + 1 > n - 1 {
            return None;
        }
        let rec = &body[sp + 1..n - 1];
        let eq = rec.iter().position(|&c| c == b'=')?;
        out.push((rec[..eq].to_vec(), rec[eq + 1..].to_vec()));
        body = &body[n..];
    }
    Some(out)
}

fn parse_pax_time(v: &[u8]) -> Option<(i64, u32)> {
    let s = std::str::from_utf8(v).ok()?;
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let sec: i64 = secs.parse().ok()?;
    if frac.is_empty() {
        return Some((sec, 0));
    }
    if !frac.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let mut digits = frac.chars().take(9).collect::<String>();
    while digits.len() < 9 {
        digits.push('0');
    }
    let ns: u32 = digits.parse().ok()?;
    if secs.starts_with('-') && ns > 0 {
        Some((sec - 1, 1_000_000_000 - ns))
    } else {
        Some((sec, ns))
    }
}
