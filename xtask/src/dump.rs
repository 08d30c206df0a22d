//! A raw tar reader for what Docker wrote: `docker save` archives and layer tars.
//!
//! It reports every header as stored (raw mode digits, PAX records, magic), so a dump shows
//! exactly what the engine put in each field; it interprets nothing beyond block framing.

use anyhow::{Result, bail};

/// One 512-byte header and the data that follows it.
pub struct Raw<'a> {
    pub block: &'a [u8],
    pub data: &'a [u8],
    pub offset: usize,
}

impl Raw<'_> {
    pub fn field(&self, off: usize, len: usize) -> &[u8] {
        let f = &self.block[off..off + len];
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
        &f[..end]
    }
    pub fn name(&self) -> Vec<u8> {
        let mut n = Vec::new();
        let prefix = self.field(345, 155);
        if self.block[257..263] == *b"ustar\0" && !prefix.is_empty() {
            n.extend_from_slice(prefix);
            n.push(b'/');
        }
        n.extend_from_slice(self.field(0, 100));
        n
    }
    pub fn typeflag(&self) -> u8 {
        self.block[156]
    }
}

fn octal(f: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(f).ok()?;
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// Splits an archive into headers; stops at the first zero block. Returns the headers and the
/// number of trailing bytes after the last header's data (end blocks included).
pub fn parse(buf: &[u8]) -> Result<(Vec<Raw<'_>>, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 512 <= buf.len() {
        let block = &buf[off..off + 512];
        if block.iter().all(|&b| b == 0) {
            return Ok((out, buf.len() - off));
        }
        let Some(size) = octal(&block[124..136]) else {
            bail!("tar header at offset {off}: size field is not octal");
        };
        let size = usize::try_from(size)?;
        let start = off + 512;
        let end = start + size;
        if end > buf.len() {
            bail!(
                "tar entry at offset {off}: data runs past the end ({end} > {})",
                buf.len()
            );
        }
        out.push(Raw {
            block,
            data: &buf[start..end],
            offset: off,
        });
        off = start + size.div_ceil(512) * 512;
    }
    if off != buf.len() {
        bail!("archive ends inside a header at offset {off}");
    }
    Ok((out, 0))
}

/// The members of a tar as (name, data) pairs, for `docker save` output.
pub fn members(buf: &[u8]) -> Result<Vec<(String, &[u8])>> {
    let (raws, _) = parse(buf)?;
    let mut pax_path: Option<String> = None;
    let mut v = Vec::new();
    for r in raws {
        match r.typeflag() {
            b'x' => {
                for (k, val) in pax_records(r.data) {
                    if k == "path" {
                        pax_path = Some(String::from_utf8_lossy(&val).into_owned());
                    }
                }
            }
            b'g' => {}
            _ => {
                let name = pax_path
                    .take()
                    .unwrap_or_else(|| String::from_utf8_lossy(&r.name()).into_owned());
                v.push((name.trim_start_matches("./").to_string(), r.data));
            }
        }
    }
    Ok(v)
}

pub fn pax_records(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let Some(sp) = rest.iter().position(|&b| b == b' ') else {
            break;
        };
        let Some(len) = std::str::from_utf8(&rest[..sp])
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
        else {
            break;
        };
        if len <= sp + 1 || len > rest.len() {
            break;
        }
        let rec = &rest[sp + 1..len - 1];
        if let Some(eq) = rec.iter().position(|&b| b == b'=') {
            v.push((
                String::from_utf8_lossy(&rec[..eq]).into_owned(),
                rec[eq + 1..].to_vec(),
            ));
        }
        rest = &rest[len..];
    }
    v
}

fn show(b: &[u8]) -> String {
    let mut s = String::new();
    for &c in b {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(c as char);
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

fn show_val(k: &str, v: &[u8]) -> String {
    if k.starts_with("SCHILY.xattr.") && !v.iter().all(|c| c.is_ascii_graphic()) {
        format!("hex:{}", hex::encode(v))
    } else {
        show(v)
    }
}

/// One entry of a dump, with the mtime kept apart so callers can mask wall-clock values.
pub struct Line {
    pub text: String,
    pub mtime: Option<u64>,
}

/// A field-by-field dump of a layer tar: one line per header, raw field contents.
pub fn dump(buf: &[u8]) -> Result<Vec<Line>> {
    let (raws, trailing) = parse(buf)?;
    let mut lines = Vec::new();
    for r in &raws {
        let b = r.block;
        let mtime = octal(&b[136..148]);
        let mut text = format!(
            "@{} type={} name={:?} mode={} uid={} gid={} size={} mtime={} link={:?} magic={} uname={:?} gname={:?} dev={},{} prefix={:?} chksum={}",
            r.offset,
            show(&[r.typeflag()]),
            show(r.field(0, 100)),
            show(&b[100..108]),
            show(&b[108..116]),
            show(&b[116..124]),
            show(&b[124..136]),
            show(&b[136..148]),
            show(r.field(157, 100)),
            show(&b[257..265]),
            show(r.field(265, 32)),
            show(r.field(297, 32)),
            show(&b[329..337]),
            show(&b[337..345]),
            show(r.field(345, 155)),
            show(&b[148..156]),
        );
        if r.typeflag() == b'x' || r.typeflag() == b'g' {
            for (k, v) in pax_records(r.data) {
                text += &format!("\n    pax {k}={}", show_val(&k, &v));
            }
        } else if !r.data.is_empty() {
            text += &format!(" data.sha256={}", &crate::sha256_hex(r.data)[..16]);
        }
        lines.push(Line { text, mtime });
    }
    lines.push(Line {
        text: format!("end: {trailing} bytes of trailer (zero blocks)"),
        mtime: None,
    });
    Ok(lines)
}

/// Renders a dump, marking mtimes inside `window` (the build's wall clock).
pub fn render(lines: &[Line], window: Option<(u64, u64)>) -> String {
    let mut s = String::new();
    for l in lines {
        s += &l.text;
        if let (Some(m), Some((a, b))) = (l.mtime, window)
            && m + 2 >= a
            && m <= b + 2
        {
            s += "  # mtime = build wall-clock";
        }
        s.push('\n');
    }
    s
}

/// Dump lines with wall-clock mtimes replaced, for comparisons across builds.
pub fn masked(lines: &[Line], window: Option<(u64, u64)>) -> Vec<String> {
    lines
        .iter()
        .map(|l| match (l.mtime, window) {
            (Some(m), Some((a, b))) if m + 2 >= a && m <= b + 2 => {
                let raw = format!("mtime={}", show(&format!("{m:011o}\0").into_bytes()));
                l.text.replacen(&raw, "mtime=<wall-clock>", 1)
            }
            _ => l.text.clone(),
        })
        .map(|t| {
            // The checksum depends on the mtime digits; drop it from masked comparisons.
            match t.find(" chksum=") {
                Some(i) => {
                    let rest = &t[i + 8..];
                    let end = rest.find(['\n', ' ']).unwrap_or(rest.len());
                    format!("{}{}", &t[..i], &rest[end..])
                }
                None => t,
            }
        })
        .collect()
}
