//! Header dumps and the first difference between two layer tars.
//!
//! This is a deliberately small, raw parser: it reads 512-byte blocks, keeps every header block
//! exactly as written, merges PAX `x` (and GNU `L`/`K`) extension blocks into the entry they
//! precede, and hashes data instead of holding it. What a block or a PAX record *means*
//! ([`RawEntry::parse`], [`Extension::records`]) is read with the shared codecs of
//! `layerproof_archive::tar`, so with the reader's (Go's) rules. It never normalises anything away, so two
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

use layerproof_archive::tar::field::{FIELDS, cstr, parse_decimal, parse_numeric};
use layerproof_archive::tar::{BLOCK, BlockFormat, Header, is_header_only, padding, pax, typeflag};
use sha2::{Digest, Sha256};

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

/// A header block as written.
#[derive(Clone, PartialEq, Eq)]
pub struct Block(pub Box<[u8; BLOCK]>);

impl fmt::Debug for Block {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&escape(trim_nuls(&self.0[..])))
    }
}

impl Block {
    /// The raw bytes of the field of a USTAR block with that name
    /// (`layerproof_archive::tar::field::FIELDS`; the unused tail for an unknown name).
    pub fn field(&self, name: &str) -> &[u8] {
        let f = FIELDS
            .iter()
            .find(|f| f.name == name)
            .unwrap_or(&FIELDS[FIELDS.len() - 1]);
        f.of(&self.0)
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
    /// PAX records of an `x`/`g` body, in written order (duplicates kept). `None` if a record
    /// is malformed as Go's reader judges it (`layerproof_archive::tar::pax::parse_pax_record`).
    pub fn records(&self) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        let mut body = &self.body[..];
        while !body.is_empty() {
            let (k, v, rest) = pax::parse_pax_record(body)?;
            out.push((k.to_vec(), v.to_vec()));
            body = rest;
        }
        Some(out)
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

impl RawEntry {
    /// The entry's header as Go's reader would present it: the main block's fields read by
    /// the reader's rules (`Header::from_block`; the checksum is not checked), then the last
    /// PAX `x` record set and the GNU `L`/`K` names applied (`Header::apply`).
    pub fn parse(&self) -> Result<Header, Error> {
        let blk = &*self.header.0;
        let mut h =
            Header::from_block(blk, BlockFormat::of(blk)).map_err(|field| Error::BadNumber {
                offset: self.offset,
                field,
                raw: escape(self.header.field(field)),
            })?;
        let (mut records, mut long_name, mut long_link) = (None, Vec::new(), Vec::new());
        for ext in &self.extensions {
            match ext.block.typeflag() {
                typeflag::XHEADER => {
                    let r = pax::parse_pax_records(&ext.body);
                    records = Some(r.ok_or(Error::BadPax { offset: ext.offset })?);
                }
                typeflag::GNU_LONGNAME => long_name = cstr(&ext.body).to_vec(),
                typeflag::GNU_LONGLINK => long_link = cstr(&ext.body).to_vec(),
                _ => {}
            }
        }
        h.offset = self.offset;
        h.apply(records, long_name, long_link)
            .map_err(|_| Error::BadPax {
                offset: self.offset,
            })?;
        Ok(h)
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
                typeflag::XHEADER
                | typeflag::XGLOBAL
                | typeflag::GNU_LONGNAME
                | typeflag::GNU_LONGLINK => {
                    let size = usize::try_from(size.max(0)).unwrap_or(usize::MAX);
                    if size > 64 << 20 {
                        return Err(Error::BadPax { offset: hstart });
                    }
                    let mut body = vec![0u8; size];
                    self.exact(&mut body, "an extension body")?;
                    let mut padding = vec![0u8; padding(size as u64)];
                    self.exact(&mut padding, "extension padding")?;
                    extensions.push(Extension {
                        offset: hstart,
                        block,
                        body,
                        padding,
                    });
                }
                flag => {
                    let mut data_len = if is_header_only(flag) {
                        0
                    } else {
                        size.max(0) as u64
                    };
                    if !is_header_only(flag) {
                        for ext in &extensions {
                            if ext.block.typeflag() == typeflag::XHEADER
                                && let Some(recs) = pax::parse_pax_records(&ext.body)
                                && let Some(v) = recs.get(pax::SIZE)
                                && let Some(n) =
                                    parse_decimal(v).and_then(|n| u64::try_from(n).ok())
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
                    let mut pad = vec![0u8; padding(data_len)];
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
    for f in FIELDS {
        let (a, b) = (f.of(&l.0), f.of(&r.0));
        if a != b {
            out.push(FieldDiff {
                field: format!("{prefix}{}", f.name),
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
    for f in FIELDS {
        let _ = writeln!(
            s,
            "  {:<9} {}",
            f.name,
            escape(trim_nuls(f.of(&entry.header.0)))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn pax_entry(body: &[u8]) -> RawEntry {
        let mut x = Box::new([0u8; BLOCK]);
        x[156] = typeflag::XHEADER;
        let mut main = Box::new([0u8; BLOCK]);
        main[..1].copy_from_slice(b"f");
        main[156] = typeflag::REG;
        RawEntry {
            index: 0,
            offset: 0,
            extensions: vec![Extension {
                offset: 0,
                block: Block(x),
                body: body.to_vec(),
                padding: Vec::new(),
            }],
            header: Block(main),
            data_len: 0,
            data_sha256: [0; 32],
            padding_zero: true,
        }
    }

    #[test]
    fn pax_records_are_judged_as_go_judges_them() {
        let ok = pax_entry(b"11 path=ab\n6 k=v\n6 k=w\n");
        let recs = ok.extensions[0].records().unwrap();
        assert_eq!(recs.len(), 3, "written order, duplicates kept");
        let h = ok.parse().unwrap();
        assert_eq!(h.name, b"ab");
        assert_eq!(h.pax_records[&b"k"[..]], b"w", "the last record wins");
        // Go's reader rejects an empty key, a NUL in a key and a NUL in a path value
        for bad in [&b"6 =v\n"[..], b"8 k\0y=v\n", b"10 path=a\0\n", b"6 kv\n\n"] {
            let e = pax_entry(bad);
            assert_eq!(e.extensions[0].records(), None, "{:?}", escape(bad));
            assert!(
                matches!(e.parse(), Err(Error::BadPax { .. })),
                "{:?}",
                escape(bad)
            );
        }
    }
}
