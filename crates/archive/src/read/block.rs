//! Header blocks and data sections (Go's `readHeader`, `handleRegularFile`, `regFileReader`,
//! `readSpecialFile`).

use std::io::Read;

use super::{ErrorKind, Reader, Result};
use crate::skeleton::Observer;
use crate::tar::{BLOCK, BlockFormat, Header, checksums, field, is_header_only, padding};

/// The block's format, if its checksum field parses and matches the unsigned or the signed
/// byte sum (Go's `getFormat`).
fn block_format(blk: &[u8; BLOCK]) -> Option<BlockFormat> {
    let stored = field::parse_octal(field::CHKSUM.of(blk))?;
    let (unsigned, signed) = checksums(blk);
    if stored != unsigned && stored != signed {
        return None;
    }
    Some(BlockFormat::of(blk))
}

/// The fields of a checksum-valid header block (nothing of PAX or long names applied yet).
pub(super) fn parse_block(blk: &[u8; BLOCK]) -> Result<(Header, BlockFormat)> {
    let format = block_format(blk).ok_or(ErrorKind::InvalidHeader(
        "checksum mismatch or unparsable checksum field",
    ))?;
    let h = Header::from_block(blk, format)
        .map_err(|_| ErrorKind::InvalidHeader("invalid numeric field"))?;
    Ok((h, format))
}

impl<R: Read, O: Observer> Reader<R, O> {
    /// The next header block, after the rest of the current data section and its padding;
    /// `None` at the end of the archive (EOF, or two zero blocks), as Go's `readHeader`.
    pub(super) fn next_block(&mut self, blk: &mut [u8; BLOCK]) -> Result<Option<u64>> {
        self.ctx_offset = self.src.pos;
        let skip = std::mem::take(&mut self.physical);
        self.sparse = None;
        if self.src.discard(skip)? < skip {
            self.ctx_offset = self.src.pos;
            return Err(ErrorKind::UnexpectedEof);
        }
        let pad = std::mem::take(&mut self.pad);
        if self.src.discard(pad)? < pad {
            return Ok(None); // Go: EOF inside padding is a clean end.
        }

        let offset = self.src.pos;
        self.ctx_offset = offset;
        match self.src.read_full(blk)? {
            0 => return Ok(None),
            BLOCK => {}
            _ => return Err(ErrorKind::UnexpectedEof),
        }
        if blk.iter().all(|&c| c == 0) {
            self.ctx_offset = self.src.pos;
            match self.src.read_full(blk)? {
                0 => return Ok(None),
                BLOCK => {}
                _ => return Err(ErrorKind::UnexpectedEof),
            }
            if blk.iter().all(|&c| c == 0) {
                return Ok(None);
            }
            return Err(ErrorKind::InvalidHeader(
                "a zero block followed by a non-zero block",
            ));
        }
        Ok(Some(offset))
    }

    /// Go's `handleRegularFile`.
    pub(super) fn set_data_section(&mut self, flag: u8, size: i64) -> Result<()> {
        let nb = if is_header_only(flag) { 0 } else { size };
        if nb < 0 {
            return Err(ErrorKind::InvalidHeader("negative size"));
        }
        self.physical = nb as u64;
        self.pad = padding(nb as u64) as u64;
        self.sparse = None;
        Ok(())
    }

    /// Go's `regFileReader.Read` over the current data section.
    pub(super) fn read_physical(&mut self, buf: &mut [u8]) -> Result<usize> {
        if self.physical == 0 || buf.is_empty() {
            return Ok(0);
        }
        let want = usize::try_from(self.physical)
            .unwrap_or(usize::MAX)
            .min(buf.len());
        self.src.raw_pass = self.split_len.is_none();
        let n = self.src.read(&mut buf[..want]);
        self.src.raw_pass = true;
        let n = n?;
        if n == 0 {
            return Err(ErrorKind::UnexpectedEof);
        }
        self.physical -= n as u64;
        Ok(n)
    }

    /// Fill `buf` from the data section; `Ok(false)` if the section ends first (Go's `tryReadFull`
    /// returning `io.EOF`), an error if the stream does.
    pub(super) fn read_physical_full(&mut self, buf: &mut [u8]) -> Result<bool> {
        let mut n = 0;
        while n < buf.len() {
            match self.read_physical(&mut buf[n..])? {
                0 => return Ok(false),
                k => n += k,
            }
        }
        Ok(true)
    }

    /// Go's `readSpecialFile` over the current data section.
    pub(super) fn read_special(
        &mut self,
        limit: u64,
        what: &'static str,
        option: &'static str,
    ) -> Result<Vec<u8>> {
        let want = self.physical.min(limit.saturating_add(1));
        let mut buf = vec![0u8; usize::try_from(want).unwrap_or(usize::MAX)];
        if !self.read_physical_full(&mut buf)? {
            return Err(ErrorKind::UnexpectedEof);
        }
        if want > limit {
            return Err(ErrorKind::FieldTooLong {
                what,
                limit,
                option,
            });
        }
        Ok(buf)
    }
}
