//! Go's `allowedFormats`: which encodings can hold a header, and the PAX records it needs.

use layerproof_archive::Header;
use layerproof_archive::tar::field::{fits_in_base256, fits_in_octal};
use layerproof_archive::tar::pax::{self, Records, format_pax_time, valid_pax_record};
use layerproof_archive::tar::{Timestamp, is_header_only, typeflag};

use super::{HeaderError, NAME_SIZE, WantFormat, is_ascii, split_ustar_path};

/// Which formats remain possible (Go's `Format` bit set, restricted to what matters here).
#[derive(Debug, Clone, Copy)]
pub(super) struct Allowed {
    pub(super) ustar: bool,
    pub(super) pax: bool,
    pub(super) gnu: bool,
}

/// Keys of the records Go's writer derives from the header's own fields: a caller's record
/// with one of them is dropped unless it equals what the field says.
const BASIC_KEYS: [&[u8]; 10] = [
    pax::PATH,
    pax::LINKPATH,
    pax::SIZE,
    pax::UID,
    pax::GID,
    pax::UNAME,
    pax::GNAME,
    pax::MTIME,
    pax::ATIME,
    pax::CTIME,
];

/// The state of Go's `allowedFormats` while it checks one field after the other.
struct Check<'a> {
    h: &'a Header,
    f: Allowed,
    pax: Records,
    prefer_pax: bool,
    why: Vec<String>,
}

impl Check<'_> {
    /// Go's `verifyString`.
    fn string(&mut self, s: &[u8], size: usize, name: &str, key: &'static [u8]) {
        let too_long = s.len() > size;
        let allow_long_gnu = key == pax::PATH || key == pax::LINKPATH;
        if s.contains(&0) || (too_long && !allow_long_gnu) {
            self.f.gnu = false;
        }
        if !is_ascii(s) || too_long {
            let can_split = key == pax::PATH;
            if !can_split || split_ustar_path(s).is_none() {
                self.why.push(format!(
                    "USTAR cannot encode {name}={:?}",
                    String::from_utf8_lossy(s)
                ));
                self.f.ustar = false;
            }
            self.pax.insert(key.to_vec(), s.to_vec());
        }
        if self.h.pax_records.get(key).is_some_and(|v| v == s) {
            self.pax.insert(key.to_vec(), s.to_vec());
        }
    }

    /// Go's `verifyNumeric`; `key` is `None` for the fields PAX has no record for.
    fn numeric(&mut self, n: i64, size: usize, name: &str, key: Option<&'static [u8]>) {
        if !fits_in_base256(size, n) {
            self.f.gnu = false;
        }
        if !fits_in_octal(size, n) {
            self.f.ustar = false;
            match key {
                None => {
                    self.why.push(format!("PAX cannot encode {name}={n}"));
                    self.f.pax = false;
                }
                Some(k) => {
                    self.pax.insert(k.to_vec(), n.to_string().into_bytes());
                }
            }
        }
        if let Some(k) = key
            && self
                .h
                .pax_records
                .get(k)
                .is_some_and(|v| *v == n.to_string().into_bytes())
        {
            self.pax.insert(k.to_vec(), n.to_string().into_bytes());
        }
    }

    /// Go's `verifyTime` (12-byte fields always fit base-256).
    fn time(&mut self, ts: Option<Timestamp>, key: &'static [u8]) {
        let Some(ts) = ts else { return };
        let is_mtime = key == pax::MTIME;
        let fits = fits_in_octal(12, ts.sec);
        if !is_mtime || !fits {
            self.f.ustar = false;
        }
        if !is_mtime || !fits || ts.nsec != 0 {
            self.prefer_pax = true;
            self.pax.insert(key.to_vec(), format_pax_time(ts));
        }
        if self
            .h
            .pax_records
            .get(key)
            .is_some_and(|v| *v == format_pax_time(ts))
        {
            self.pax.insert(key.to_vec(), format_pax_time(ts));
        }
    }
}

/// Go's `allowedFormats`: which encodings can hold `h` when `format` is wanted, and the PAX
/// records it would need (by key, so in the order Go sorts them).
pub(super) fn allowed_formats(
    h: &Header,
    format: WantFormat,
) -> Result<(Allowed, Records), HeaderError> {
    let mut c = Check {
        h,
        f: Allowed {
            ustar: true,
            pax: true,
            gnu: true,
        },
        pax: Records::new(),
        prefer_pax: false,
        why: Vec::new(),
    };
    c.string(&h.name, NAME_SIZE, "Name", pax::PATH);
    c.string(&h.linkname, NAME_SIZE, "Linkname", pax::LINKPATH);
    c.string(&h.uname, 32, "Uname", pax::UNAME);
    c.string(&h.gname, 32, "Gname", pax::GNAME);
    c.numeric(h.mode, 8, "Mode", None);
    c.numeric(h.uid, 8, "Uid", Some(pax::UID));
    c.numeric(h.gid, 8, "Gid", Some(pax::GID));
    c.numeric(h.size, 12, "Size", Some(pax::SIZE));
    c.numeric(h.devmajor, 8, "Devmajor", None);
    c.numeric(h.devminor, 8, "Devminor", None);
    c.time(Some(h.mtime), pax::MTIME);
    c.time(h.atime, pax::ATIME);
    c.time(h.ctime, pax::CTIME);
    let Check {
        mut f,
        mut pax,
        prefer_pax,
        why,
        ..
    } = c;

    match h.typeflag {
        typeflag::REG
        | typeflag::CHAR
        | typeflag::BLOCK
        | typeflag::FIFO
        | typeflag::GNU_SPARSE
            if h.name.last() == Some(&b'/') =>
        {
            return Err(HeaderError::TrailingSlash);
        }
        typeflag::XHEADER | typeflag::GNU_LONGNAME | typeflag::GNU_LONGLINK | typeflag::XGLOBAL => {
            return Err(HeaderError::SpecialType(h.typeflag));
        }
        _ => {}
    }
    if !is_header_only(h.typeflag) && h.size < 0 {
        return Err(HeaderError::NegativeSize);
    }

    if !h.pax_records.is_empty() {
        for (k, v) in &h.pax_records {
            if pax.contains_key(k) {
                continue;
            }
            if !BASIC_KEYS.contains(&k.as_slice()) && !k.starts_with(b"GNU.sparse") {
                pax.insert(k.clone(), v.clone());
            }
        }
        f.ustar = false;
        f.gnu = false;
    }
    for (k, v) in &pax {
        if !valid_pax_record(k, v) {
            return Err(HeaderError::InvalidPaxRecord {
                key: String::from_utf8_lossy(k).into_owned(),
            });
        }
    }

    if format == WantFormat::Pax {
        // PAX implies USTAR allowed too, unless a sub-second or extra time wants PAX.
        f.ustar &= !prefer_pax;
        f.gnu = false;
    }
    if !f.ustar && !f.pax {
        if f.gnu {
            return Err(HeaderError::NeedsGnu);
        }
        return Err(HeaderError::Unencodable(why.join("; ")));
    }
    Ok((f, pax))
}
