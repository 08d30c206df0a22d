//! Sparse files: the maps of old GNU `'S'` headers and of PAX GNU sparse 0.0, 0.1 and 1.0, and
//! the expanded reader over them (Go's `common.go` and `reader.go`).

use std::io::Read;

use super::{ErrorKind, GO_MAX_SPARSE_ENTRIES, Reader, Result};
use crate::skeleton::Observer;
use crate::tar::field::{self, Numbers, parse_decimal};
use crate::tar::pax::{
    SPARSE_MAJOR, SPARSE_MAP, SPARSE_MINOR, SPARSE_NAME, SPARSE_NUMBLOCKS, SPARSE_REALSIZE,
    SPARSE_SIZE,
};
use crate::tar::{
    BLOCK, BlockFormat, Formats, Header, MAX_SPECIAL_FILE_SIZE, is_header_only, typeflag,
};

/// `(offset, length)` fragment.
type Fragment = (i64, i64);

fn validate_sparse(sp: &[Fragment], size: i64) -> bool {
    if size < 0 {
        return false;
    }
    let mut pre: Fragment = (0, 0);
    for &(off, len) in sp {
        if off < 0 || len < 0 || off > i64::MAX - len || off + len > size {
            return false;
        }
        if pre.0 + pre.1 > off {
            return false;
        }
        pre = (off, len);
    }
    true
}

/// Data fragments → hole fragments (or back); the last fragment ends at `size`.
fn invert_sparse(src: &[Fragment], size: i64) -> Vec<Fragment> {
    let mut dst = Vec::with_capacity(src.len() + 1);
    let mut pre: Fragment = (0, 0);
    for &(off, len) in src {
        if len == 0 {
            continue;
        }
        pre.1 = off - pre.0;
        if pre.1 > 0 {
            dst.push(pre);
        }
        pre.0 = off + len;
    }
    pre.1 = size - pre.0;
    dst.push(pre);
    dst
}

fn push_fragment(spd: &mut Vec<Fragment>, f: Fragment) -> Result<()> {
    if spd.len() >= GO_MAX_SPARSE_ENTRIES {
        return Err(ErrorKind::SparseTooLong);
    }
    spd.push(f);
    Ok(())
}

/// State of a sparse entry's expanded reader (Go's `sparseFileReader`).
pub(super) struct Sparse {
    holes: Vec<Fragment>,
    idx: usize,
    pos: i64,
}

impl Sparse {
    pub(super) fn logical_remaining(&self) -> i64 {
        self.holes.last().map_or(0, |h| h.0 + h.1) - self.pos
    }
}

impl<R: Read, O: Observer> Reader<R, O> {
    /// Go's `handleSparseFile`.
    pub(super) fn handle_sparse(
        &mut self,
        h: &mut Header,
        blk: &[u8; BLOCK],
        format: BlockFormat,
        formats: &mut Formats,
    ) -> Result<()> {
        let spd = if h.typeflag == typeflag::GNU_SPARSE {
            formats.gnu = true;
            Some(self.read_old_gnu_sparse_map(h, blk, format)?)
        } else {
            self.read_pax_sparse(h)?
        };
        if let Some(spd) = spd {
            if is_header_only(h.typeflag) || !validate_sparse(&spd, h.size) {
                return Err(ErrorKind::InvalidHeader("invalid sparse map"));
            }
            self.sparse = Some(Sparse {
                holes: invert_sparse(&spd, h.size),
                idx: 0,
                pos: 0,
            });
        }
        Ok(())
    }

    /// Go's `readOldGNUSparseMap`. Extension blocks are read from the raw stream.
    fn read_old_gnu_sparse_map(
        &mut self,
        h: &mut Header,
        blk: &[u8; BLOCK],
        format: BlockFormat,
    ) -> Result<Vec<Fragment>> {
        if format != BlockFormat::Gnu {
            return Err(ErrorKind::InvalidHeader(
                "old GNU sparse entry without GNU magic",
            ));
        }
        let mut p = Numbers::default();
        h.size = p.field(blk, field::GNU_REALSIZE);
        if p.failed.is_some() {
            return Err(ErrorKind::InvalidHeader("invalid numeric field"));
        }
        let mut area: Vec<u8> = field::GNU_SPARSE.of(blk).to_vec();
        let mut total = area.len() as u64;
        let mut spd = Vec::new();
        while total < MAX_SPECIAL_FILE_SIZE {
            let entries = area.len() / 24;
            for i in 0..entries {
                let e = &area[i * 24..i * 24 + 24];
                if e[0] == 0 {
                    break;
                }
                let off = p.num("sparse offset", &e[..12]);
                let len = p.num("sparse length", &e[12..]);
                if p.failed.is_some() {
                    return Err(ErrorKind::InvalidHeader(
                        "invalid numeric field in sparse map",
                    ));
                }
                push_fragment(&mut spd, (off, len))?;
            }
            if area[entries * 24] > 0 {
                let mut ext = [0u8; BLOCK];
                self.ctx_offset = self.src.pos;
                if self.src.read_full(&mut ext)? < BLOCK {
                    return Err(ErrorKind::UnexpectedEof);
                }
                area = ext.to_vec();
                total += BLOCK as u64;
                continue;
            }
            return Ok(spd);
        }
        Err(ErrorKind::SparseTooLong)
    }

    /// Go's `readGNUSparsePAXHeaders`.
    fn read_pax_sparse(&mut self, h: &mut Header) -> Result<Option<Vec<Fragment>>> {
        let rec = |k: &[u8]| -> Vec<u8> { h.pax_records.get(k).cloned().unwrap_or_default() };
        let (major, minor) = (rec(SPARSE_MAJOR), rec(SPARSE_MINOR));
        let is_1x0 = match (major.as_slice(), minor.as_slice()) {
            (b"0", b"0" | b"1") => false,
            (b"1", b"0") => true,
            (a, b) if !a.is_empty() || !b.is_empty() => return Ok(None),
            _ if !rec(SPARSE_MAP).is_empty() => false,
            _ => return Ok(None),
        };
        let name = rec(SPARSE_NAME);
        let mut size = rec(SPARSE_SIZE);
        if size.is_empty() {
            size = rec(SPARSE_REALSIZE);
        }
        let map = rec(SPARSE_MAP);
        let numblocks = rec(SPARSE_NUMBLOCKS);
        if !name.is_empty() {
            h.name = name;
        }
        if !size.is_empty() {
            h.size =
                parse_decimal(&size).ok_or(ErrorKind::InvalidHeader("invalid GNU.sparse size"))?;
        }
        if is_1x0 {
            self.read_sparse_map_1x0().map(Some)
        } else {
            read_sparse_map_0x1(&numblocks, &map).map(Some)
        }
    }

    /// Go's `readGNUSparseMap1x0`: newline-separated decimals at the start of the data section.
    fn read_sparse_map_1x0(&mut self) -> Result<Vec<Fragment>> {
        let mut buf: Vec<u8> = Vec::new();
        let mut cursor = 0usize;
        let mut newlines: i64 = 0;
        let mut total: u64 = 0;
        let mut feed = |this: &mut Self, buf: &mut Vec<u8>, newlines: &mut i64, want: i64| {
            while *newlines < want {
                total += BLOCK as u64;
                if total > MAX_SPECIAL_FILE_SIZE {
                    return Err(ErrorKind::SparseTooLong);
                }
                let mut blk = [0u8; BLOCK];
                if !this.read_physical_full(&mut blk)? {
                    return Err(ErrorKind::UnexpectedEof);
                }
                buf.extend_from_slice(&blk);
                *newlines += blk.iter().filter(|&&c| c == b'\n').count() as i64;
            }
            Ok(())
        };
        let token = |buf: &Vec<u8>, newlines: &mut i64, cursor: &mut usize| -> Option<i64> {
            *newlines -= 1;
            let rest = buf.get(*cursor..).unwrap_or_default();
            let end = rest.iter().position(|&c| c == b'\n').unwrap_or(rest.len());
            let tok = &rest[..end];
            *cursor += (end + 1).min(rest.len());
            parse_decimal(tok)
        };
        feed(self, &mut buf, &mut newlines, 1)?;
        let n = token(&buf, &mut newlines, &mut cursor)
            .filter(|&n| n >= 0 && n.checked_mul(2).is_some())
            .ok_or(ErrorKind::InvalidHeader("invalid GNU sparse 1.0 map"))?;
        feed(self, &mut buf, &mut newlines, 2 * n)?;
        let mut spd = Vec::new();
        for _ in 0..n {
            let off = token(&buf, &mut newlines, &mut cursor);
            let len = token(&buf, &mut newlines, &mut cursor);
            match (off, len) {
                (Some(off), Some(len)) => push_fragment(&mut spd, (off, len))?,
                _ => return Err(ErrorKind::InvalidHeader("invalid GNU sparse 1.0 map")),
            }
        }
        Ok(spd)
    }
    /// Go's `sparseFileReader.Read`: returns the bytes produced and a deferred error.
    pub(super) fn read_sparse(&mut self, buf: &mut [u8]) -> Result<(usize, Option<ErrorKind>)> {
        let Some(sp) = self.sparse.as_ref() else {
            return Ok((0, None));
        };
        let remaining = sp.logical_remaining().max(0);
        let len = usize::try_from(remaining)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        let buf = &mut buf[..len];
        let mut n = 0usize;
        let mut err = None;
        while n < buf.len() {
            let Some(sp) = self.sparse.as_ref() else {
                break;
            };
            let Some(&(hole_start, hole_len)) = sp.holes.get(sp.idx) else {
                break;
            };
            let (pos, hole_end) = (sp.pos, hole_start + hole_len);
            let room = buf.len() - n;
            let nf = if pos < hole_start {
                let want = usize::try_from(hole_start - pos)
                    .unwrap_or(usize::MAX)
                    .min(room);
                match self.read_physical_full(&mut buf[n..n + want]) {
                    Ok(true) => want,
                    Ok(false) => {
                        err = Some(ErrorKind::SparseMissingData);
                        0
                    }
                    Err(e) => return Err(e),
                }
            } else {
                let want = usize::try_from(hole_end - pos)
                    .unwrap_or(usize::MAX)
                    .min(room);
                buf[n..n + want].fill(0);
                want
            };
            if err.is_some() {
                break;
            }
            if nf == 0 {
                return Err(ErrorKind::InvalidHeader("sparse map makes no progress"));
            }
            n += nf;
            if let Some(sp) = self.sparse.as_mut() {
                sp.pos += nf as i64;
                if sp.pos >= hole_end && sp.idx + 1 < sp.holes.len() {
                    sp.idx += 1;
                }
            }
        }
        if err.is_none()
            && self
                .sparse
                .as_ref()
                .is_some_and(|s| s.logical_remaining() == 0)
            && self.physical > 0
        {
            err = Some(ErrorKind::SparseUnreferencedData);
        }
        Ok((n, err))
    }
}
/// Go's `readGNUSparseMap0x1`: the map is in the `GNU.sparse.map` record.
fn read_sparse_map_0x1(numblocks: &[u8], map: &[u8]) -> Result<Vec<Fragment>> {
    let bad = || ErrorKind::InvalidHeader("invalid GNU sparse 0.x map");
    let n = parse_decimal(numblocks)
        .filter(|&n| n >= 0)
        .and_then(|n| n.checked_mul(2))
        .ok_or_else(bad)?;
    let parts: Vec<&[u8]> = if map.is_empty() {
        Vec::new()
    } else {
        map.split(|&c| c == b',').collect()
    };
    if parts.len() as i64 != n {
        return Err(bad());
    }
    let mut spd = Vec::new();
    for pair in parts.chunks_exact(2) {
        match (parse_decimal(pair[0]), parse_decimal(pair[1])) {
            (Some(off), Some(len)) => push_fragment(&mut spd, (off, len))?,
            _ => return Err(bad()),
        }
    }
    Ok(spd)
}
