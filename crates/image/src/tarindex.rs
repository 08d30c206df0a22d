//! The outer tar of a docker-archive or oci-archive, indexed by reading only its headers, with
//! the rules of Go's `archive/tar` (the reader behind `docker load`): names from the USTAR
//! prefix, GNU long names and links and PAX `path`/`linkpath`, PAX `size` overriding the header,
//! link and directory headers carrying no data, and at most 1 MiB for an `L`, `K`, `x` or `g`
//! header (Go's limit: a larger one is never read into memory). Every member with data must end
//! inside the file: a header claiming more bytes than the file holds is a truncated archive.
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use crate::error::Error;

const BLOCK: u64 = 512;

/// Largest GNU long name/link or PAX header body, as in Go's `archive/tar` (`maxSpecialFileSize`).
pub(crate) const MAX_SPECIAL: u64 = 1 << 20;

/// What one member of the archive is.
pub(crate) enum Member {
    /// A regular file: its data is `size` bytes from `offset`.
    File {
        /// Where the data starts in the archive.
        offset: u64,
        /// Its length.
        size: u64,
    },
    /// A symbolic link and its target.
    Symlink(String),
    /// A hard link and the name it links to.
    Hardlink(String),
    /// A directory.
    Dir,
}

/// Extension headers seen since the last member.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax_path: Option<Vec<u8>>,
    pax_linkpath: Option<Vec<u8>>,
    pax_size: Option<u64>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.long_name.is_none()
            && self.long_link.is_none()
            && self.pax_path.is_none()
            && self.pax_linkpath.is_none()
            && self.pax_size.is_none()
    }
}

struct Indexer<'a> {
    file: &'a mut File,
    len: u64,
    what: &'a str,
}

impl Indexer<'_> {
    fn bad(&self, reason: String) -> Error {
        Error::Layout {
            what: self.what.to_string(),
            reason,
        }
    }

    fn read_at(&mut self, at: u64, buf: &mut [u8]) -> Result<(), Error> {
        self.file
            .seek(SeekFrom::Start(at))
            .and_then(|_| self.file.read_exact(buf))
            .map_err(|e| Error::io(self.what, e))
    }

    /// Checks that `size` bytes of data from `at` lie inside the file.
    fn inside(&self, name: &str, at: u64, size: u64) -> Result<(), Error> {
        if at.checked_add(size).is_none_or(|end| end > self.len) {
            return Err(self.bad(format!(
                "member {name:?} claims {size} bytes at offset {at}, but the file ends at {}: the \
                 archive is truncated",
                self.len
            )));
        }
        Ok(())
    }

    /// Reads the body of an `L`, `K`, `x` or `g` header, refusing more than Go reads.
    fn special(&mut self, kind: &str, at: u64, size: u64) -> Result<Vec<u8>, Error> {
        if size > MAX_SPECIAL {
            return Err(self.bad(format!(
                "the {kind} at offset {} is {size} bytes, over the {MAX_SPECIAL} bytes Go's \
                 archive/tar (and so docker load) accepts",
                at - BLOCK
            )));
        }
        self.inside(kind, at, size)?;
        let mut body = vec![0u8; usize::try_from(size).unwrap_or(0)];
        self.read_at(at, &mut body)?;
        Ok(body)
    }

    fn run(&mut self) -> Result<Vec<(String, Member)>, Error> {
        let mut out = Vec::new();
        let mut pending = Pending::default();
        let mut pos = 0u64;
        let mut block = [0u8; BLOCK as usize];
        loop {
            if pos == self.len && pending.is_empty() {
                break; // end of file at a header boundary, as Go's io.EOF
            }
            self.inside("header", pos, BLOCK)?;
            self.read_at(pos, &mut block)?;
            if block.iter().all(|&b| b == 0) {
                if !pending.is_empty() {
                    return Err(self.bad(format!(
                        "extension headers at offset {pos} describe no member"
                    )));
                }
                break;
            }
            check_sum(&block).map_err(|r| self.bad(format!("header at offset {pos}: {r}")))?;
            let header_at = pos;
            pos += BLOCK;
            let size = parse_size(&block[124..136])
                .map_err(|r| self.bad(format!("header at offset {header_at}: {r}")))?;
            let typ = block[156];
            let special = match typ {
                b'L' => Some("GNU long name"),
                b'K' => Some("GNU long link"),
                b'x' => Some("PAX header"),
                b'g' => Some("PAX global header"),
                _ => None,
            };
            if let Some(kind) = special {
                let body = self.special(kind, pos, size)?;
                pos += padded(size);
                match typ {
                    b'L' => pending.long_name = Some(until_nul(&body).to_vec()),
                    b'K' => pending.long_link = Some(until_nul(&body).to_vec()),
                    b'x' => parse_pax(&body, &mut pending)
                        .map_err(|r| self.bad(format!("PAX header at offset {header_at}: {r}")))?,
                    _ => {} // global records change nothing docker load reads
                }
                continue;
            }
            let p = std::mem::take(&mut pending);
            let name = p
                .pax_path
                .or(p.long_name)
                .unwrap_or_else(|| header_name(&block));
            let name = String::from_utf8_lossy(&name).into_owned();
            let link = p
                .pax_linkpath
                .or(p.long_link)
                .unwrap_or_else(|| until_nul(&block[157..257]).to_vec());
            let link = String::from_utf8_lossy(&link).into_owned();
            let size = p.pax_size.unwrap_or(size);
            if typ == b'S' {
                pos = self.skip_sparse_map(&block, pos)?;
            }
            let member = match typ {
                b'0' | b'7' => Some(Member::File { offset: pos, size }),
                0 if name.ends_with('/') => Some(Member::Dir),
                0 => Some(Member::File { offset: pos, size }),
                b'1' => Some(Member::Hardlink(link)),
                b'2' => Some(Member::Symlink(link)),
                b'5' => Some(Member::Dir),
                _ => None,
            };
            // links, directories, devices and FIFOs carry no data in Go's reader
            let data = match typ {
                b'1' | b'2' | b'3' | b'4' | b'5' | b'6' => 0,
                _ => size,
            };
            self.inside(&name, pos, data)?;
            pos += padded(data);
            if let Some(m) = member {
                out.push((name, m));
            }
        }
        Ok(out)
    }

    /// Skips the extension blocks of an old GNU sparse header (`isextended` flags).
    fn skip_sparse_map(&mut self, header: &[u8], mut pos: u64) -> Result<u64, Error> {
        let mut extended = header[482] != 0;
        let mut block = [0u8; BLOCK as usize];
        while extended {
            self.inside("GNU sparse map", pos, BLOCK)?;
            self.read_at(pos, &mut block)?;
            pos += BLOCK;
            extended = block[504] != 0;
        }
        Ok(pos)
    }
}

/// Indexes the tar `file` of `len` bytes; `what` names it in errors.
pub(crate) fn index(file: &mut File, len: u64, what: &str) -> Result<Vec<(String, Member)>, Error> {
    Indexer { file, len, what }.run()
}

fn padded(size: u64) -> u64 {
    size.div_ceil(BLOCK).saturating_mul(BLOCK)
}

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |i| &b[..i])
}

/// The name of a header: `prefix/name` for POSIX USTAR, the name field otherwise.
fn header_name(block: &[u8]) -> Vec<u8> {
    let name = until_nul(&block[..100]);
    if &block[257..263] == b"ustar\0" {
        let prefix = until_nul(&block[345..500]);
        if !prefix.is_empty() {
            let mut full = prefix.to_vec();
            full.push(b'/');
            full.extend_from_slice(name);
            return full;
        }
    }
    name.to_vec()
}

fn parse_octal(field: &[u8]) -> Result<u64, String> {
    let text = until_nul(field);
    let digits = std::str::from_utf8(text)
        .map_err(|_| "invalid numeric field".to_string())?
        .trim_matches(' ');
    if digits.is_empty() {
        return Ok(0);
    }
    u64::from_str_radix(digits, 8).map_err(|_| format!("invalid numeric field {digits:?}"))
}

/// A size field: octal, or GNU base-256 when the top bit of the first byte is set.
fn parse_size(field: &[u8]) -> Result<u64, String> {
    if field[0] & 0x80 == 0 {
        return parse_octal(field);
    }
    if field[0] & 0x40 != 0 {
        return Err("negative size".into());
    }
    let mut n: u64 = u64::from(field[0] & 0x3f);
    for &b in &field[1..] {
        n = n
            .checked_mul(256)
            .map(|v| v | u64::from(b))
            .filter(|v| *v <= i64::MAX as u64)
            .ok_or("size overflows int64")?;
    }
    Ok(n)
}

/// The header checksum, summed unsigned or signed as Go accepts.
fn check_sum(block: &[u8]) -> Result<(), String> {
    let want = parse_octal(&block[148..156])?;
    let (mut unsigned, mut signed) = (0u64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += u64::from(b);
        signed += i64::from(b as i8);
    }
    if want != unsigned && i64::try_from(want).ok() != Some(signed) {
        return Err("header checksum mismatch".into());
    }
    Ok(())
}

/// PAX records `"%d %s=%s\n"`: the ones that change where a member is or what it is called.
fn parse_pax(mut body: &[u8], p: &mut Pending) -> Result<(), String> {
    while !body.is_empty() {
        let sp = body
            .iter()
            .position(|&b| b == b' ')
            .ok_or("malformed record")?;
        let len: usize = std::str::from_utf8(&body[..sp])
            .ok()
            .and_then(|s| s.parse().ok())
            .filter(|&n| n > sp + 1 && n <= body.len())
            .ok_or("malformed record length")?;
        let record = &body[sp + 1..len];
        body = &body[len..];
        let record = record.strip_suffix(b"\n").ok_or("record without newline")?;
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or("record without '='")?;
        let (key, value) = (&record[..eq], &record[eq + 1..]);
        match key {
            b"path" => p.pax_path = Some(value.to_vec()),
            b"linkpath" => p.pax_linkpath = Some(value.to_vec()),
            b"size" => {
                p.pax_size = Some(
                    std::str::from_utf8(value)
                        .ok()
                        .and_then(|s| s.parse::<u64>().ok())
                        .filter(|n| *n <= i64::MAX as u64)
                        .ok_or("invalid size record")?,
                );
            }
            _ => {}
        }
    }
    Ok(())
}
