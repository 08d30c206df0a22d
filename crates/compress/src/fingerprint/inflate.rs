//! A streaming gzip/deflate decoder (RFC 1951/1952) that reports every deflate block it walks:
//! type, final bit, compressed bit offset, uncompressed offset and length, symbol count.
//!
//! Written for fingerprinting, so it is strict and bounded: every malformed input is a typed
//! [`Error`] (never a panic), memory is a fixed 32 KiB + 256 KiB window plus a 256 KiB read
//! buffer plus header fields capped at [`MAX_FIELD`], whatever the input.
//!
//! Huffman decoding (a 12-bit first-level table, a canonical walk for longer codes; the fixed
//! codes and the dynamic ones of a block header) is in the `huffman` submodule.

mod huffman;

use std::io::{self, Read};

use huffman::{Huffman, dynamic_tables, fixed_tables};

/// Longest gzip header field (FNAME, FCOMMENT, FEXTRA) we accept.
pub const MAX_FIELD: usize = 1 << 16;

const HIST: usize = 32 * 1024;
const CHUNK: usize = 256 * 1024;

/// Why a gzip stream could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the blob failed.
    #[error("reading the blob: {0}")]
    Io(#[from] io::Error),
    /// The blob does not start with a gzip member.
    #[error("not gzip: bad magic at byte {offset}")]
    NotGzip {
        /// Byte offset of the member.
        offset: u64,
    },
    /// Compression method other than deflate (8).
    #[error("gzip member at byte {offset}: compression method {method} is not deflate")]
    Method {
        /// Byte offset of the member.
        offset: u64,
        /// The CM byte.
        method: u8,
    },
    /// Reserved FLG bits set (RFC 1952 says a decoder must refuse them).
    #[error("gzip member at byte {offset}: reserved header flags {flags:#04x}")]
    ReservedFlags {
        /// Byte offset of the member.
        offset: u64,
        /// The FLG byte.
        flags: u8,
    },
    /// A header field longer than [`MAX_FIELD`].
    #[error("gzip member at byte {offset}: header field longer than {MAX_FIELD} bytes")]
    FieldTooLong {
        /// Byte offset of the member.
        offset: u64,
    },
    /// The header CRC (FHCRC) does not match.
    #[error("gzip member at byte {offset}: header CRC mismatch")]
    HeaderCrc {
        /// Byte offset of the member.
        offset: u64,
    },
    /// The input ended inside a member.
    #[error("truncated gzip stream: ended at byte {offset} inside {what}")]
    Truncated {
        /// Where the input ended.
        offset: u64,
        /// What was being read.
        what: &'static str,
    },
    /// Malformed deflate data.
    #[error("corrupt deflate data at bit {bit}: {what}")]
    Corrupt {
        /// Bit offset (from the start of the blob) of the offending element.
        bit: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// The member's CRC-32 does not match its data.
    #[error("gzip member {member}: CRC-32 {actual:08x} but trailer says {expected:08x}")]
    Crc {
        /// Member number (0-based).
        member: u32,
        /// CRC in the trailer.
        expected: u32,
        /// CRC of the decoded data.
        actual: u32,
    },
    /// The member's ISIZE does not match its length mod 2³².
    #[error("gzip member {member}: length {actual} (mod 2^32) but trailer says {expected}")]
    Size {
        /// Member number (0-based).
        member: u32,
        /// ISIZE in the trailer.
        expected: u32,
        /// Decoded length mod 2³².
        actual: u32,
    },
    /// Bytes after the last member that are not another member.
    #[error("{len_hint} bytes of trailing data after the last gzip member, at byte {offset}")]
    TrailingData {
        /// Where they start.
        offset: u64,
        /// At least this many bytes.
        len_hint: u64,
    },
}

/// The kind of a deflate block (BTYPE).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// BTYPE 00.
    Stored,
    /// BTYPE 01: the fixed codes.
    Fixed,
    /// BTYPE 10: codes sent in the block.
    Dynamic,
}

/// One deflate block as walked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockRecord {
    /// Member number (0-based).
    pub member: u32,
    /// BTYPE.
    pub kind: BlockKind,
    /// BFINAL.
    pub last: bool,
    /// Bit offset of the block header from the start of the blob.
    pub bit: u64,
    /// Uncompressed offset (over all members) where the block's output starts.
    pub out: u64,
    /// Uncompressed bytes the block produced.
    pub len: u64,
    /// Literals + matches (stored blocks: 0).
    pub symbols: u64,
    /// The block's last symbol before end-of-block was a back-reference (stored blocks: false).
    pub ends_with_match: bool,
}

/// A gzip member header (RFC 1952 §2.3).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GzipHeader {
    /// FLG.
    pub flags: u8,
    /// MTIME.
    pub mtime: u32,
    /// XFL: 2 = maximum compression, 4 = fastest, by convention.
    pub xfl: u8,
    /// OS: 3 = Unix (gzip, pigz, zlib on Unix), 255 = unknown (Go, Python).
    pub os: u8,
    /// FEXTRA contents.
    pub extra: Option<Vec<u8>>,
    /// FNAME (without the NUL).
    pub name: Option<Vec<u8>>,
    /// FCOMMENT (without the NUL).
    pub comment: Option<Vec<u8>>,
    /// FHCRC present.
    pub header_crc: bool,
    /// Header length in bytes.
    pub len: u64,
}

impl GzipHeader {
    /// The header as bytes again (FHCRC recomputed), so a re-encoder can write the same one.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut h = vec![0x1f, 0x8b, 8, self.flags];
        h.extend_from_slice(&self.mtime.to_le_bytes());
        h.extend_from_slice(&[self.xfl, self.os]);
        if self.flags & 4 != 0 {
            let x = self.extra.as_deref().unwrap_or_default();
            h.extend_from_slice(&(x.len() as u16).to_le_bytes());
            h.extend_from_slice(x);
        }
        for (bit, field) in [(8u8, &self.name), (16u8, &self.comment)] {
            if self.flags & bit != 0 {
                h.extend_from_slice(field.as_deref().unwrap_or_default());
                h.push(0);
            }
        }
        if self.flags & 2 != 0 {
            let crc = crc32fast::hash(&h) as u16;
            h.extend_from_slice(&crc.to_le_bytes());
        }
        h
    }
}

/// Where decoded data and block records go.
pub(crate) trait Sink {
    fn data(&mut self, bytes: &[u8]);
    fn block(&mut self, rec: &BlockRecord);
    fn header(&mut self, member: u32, h: &GzipHeader);
}

/// Bit reader over any `Read`, LSB first.
struct Bits<R> {
    r: R,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    /// Bytes of the input before `buf[0]`.
    base: u64,
    acc: u64,
    n: u32,
    eof: bool,
}

impl<R: Read> Bits<R> {
    fn new(r: R) -> Bits<R> {
        Bits {
            r,
            buf: vec![0; CHUNK],
            pos: 0,
            end: 0,
            base: 0,
            acc: 0,
            n: 0,
            eof: false,
        }
    }

    /// Bits consumed so far.
    fn bit_pos(&self) -> u64 {
        (self.base + self.pos as u64) * 8 - self.n as u64
    }

    fn byte_pos(&self) -> u64 {
        self.bit_pos() / 8
    }

    fn fill_buf(&mut self) -> io::Result<()> {
        if self.eof {
            return Ok(());
        }
        self.base += self.end as u64;
        self.pos = 0;
        self.end = 0;
        loop {
            match self.r.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(k) => {
                    self.end = k;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Top the accumulator up to at least 56 bits if input allows.
    #[inline]
    fn refill(&mut self) -> io::Result<()> {
        if self.end - self.pos >= 8 {
            let v = u64::from_le_bytes(
                self.buf[self.pos..self.pos + 8]
                    .try_into()
                    .unwrap_or([0; 8]),
            );
            self.acc |= v << self.n;
            let take = (63 - self.n) / 8;
            self.pos += take as usize;
            self.n += take * 8;
            return Ok(());
        }
        while self.n <= 56 {
            if self.pos == self.end {
                self.fill_buf()?;
                if self.pos == self.end {
                    return Ok(());
                }
                if self.end - self.pos >= 8 {
                    return self.refill();
                }
            }
            self.acc |= (self.buf[self.pos] as u64) << self.n;
            self.pos += 1;
            self.n += 8;
        }
        Ok(())
    }

    #[inline]
    fn need(&mut self, k: u32, what: &'static str) -> Result<(), Error> {
        if self.n < k {
            self.refill()?;
            if self.n < k {
                return Err(Error::Truncated {
                    offset: self.byte_pos(),
                    what,
                });
            }
        }
        Ok(())
    }

    #[inline]
    fn peek(&self, k: u32) -> u32 {
        (self.acc & ((1u64 << k) - 1)) as u32
    }

    #[inline]
    fn drop_bits(&mut self, k: u32) {
        self.acc >>= k;
        self.n -= k;
    }

    #[inline]
    fn bits(&mut self, k: u32, what: &'static str) -> Result<u32, Error> {
        self.need(k, what)?;
        let v = self.peek(k);
        self.drop_bits(k);
        Ok(v)
    }

    fn align(&mut self) {
        let k = self.n % 8;
        self.drop_bits(k);
    }

    fn byte(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.bits(8, what)? as u8)
    }

    /// At end of input (after aligning)? Pulls more input to find out.
    fn at_end(&mut self) -> Result<bool, Error> {
        if self.n >= 8 {
            return Ok(false);
        }
        self.refill()?;
        Ok(self.n < 8)
    }
}

const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
/// Output window: the last 32 KiB plus a chunk, handed to the sink as it fills.
struct Window {
    buf: Vec<u8>,
    pos: usize,
    sent: usize,
    /// Bytes produced in this member (for distance checks before the window is full).
    member_total: u64,
}

impl Window {
    fn new() -> Window {
        Window {
            buf: vec![0; HIST + CHUNK + 512],
            pos: 0,
            sent: 0,
            member_total: 0,
        }
    }

    fn reset(&mut self) {
        self.pos = 0;
        self.sent = 0;
        self.member_total = 0;
    }

    fn flush<S: Sink>(&mut self, sink: &mut S, crc: &mut crc32fast::Hasher) {
        let fresh = &self.buf[self.sent..self.pos];
        crc.update(fresh);
        sink.data(fresh);
        self.sent = self.pos;
    }

    /// Make room for at least 258 more bytes.
    #[inline]
    fn room<S: Sink>(&mut self, sink: &mut S, crc: &mut crc32fast::Hasher) {
        if self.pos >= HIST + CHUNK {
            self.flush(sink, crc);
            self.buf.copy_within(self.pos - HIST..self.pos, 0);
            self.pos = HIST;
            self.sent = HIST;
        }
    }
}

/// Decode a whole gzip blob (all members), reporting to `sink`. Returns (members, compressed
/// bytes, uncompressed bytes).
pub(crate) fn gunzip<R: Read, S: Sink>(r: R, sink: &mut S) -> Result<(u32, u64, u64), Error> {
    let mut b = Bits::new(r);
    let mut w = Window::new();
    let mut out_total: u64 = 0;
    let mut member: u32 = 0;
    loop {
        let start = b.byte_pos();
        let header = read_header(&mut b, start)?;
        sink.header(member, &header);
        w.reset();
        let mut crc = crc32fast::Hasher::new();
        inflate_member(&mut b, &mut w, &mut crc, sink, member, &mut out_total)?;
        w.flush(sink, &mut crc);
        b.align();
        let mut t = [0u8; 8];
        for v in t.iter_mut() {
            *v = b.byte("the gzip trailer")?;
        }
        let expected = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let isize = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        let actual = crc.finalize();
        if expected != actual {
            return Err(Error::Crc {
                member,
                expected,
                actual,
            });
        }
        if isize != w.member_total as u32 {
            return Err(Error::Size {
                member,
                expected: isize,
                actual: w.member_total as u32,
            });
        }
        member += 1;
        if b.at_end()? {
            return Ok((member, b.byte_pos(), out_total));
        }
        // Another member must follow.
        if b.peek(16) != 0x8b1f {
            let offset = b.byte_pos();
            return Err(Error::TrailingData {
                offset,
                len_hint: (b.n / 8) as u64,
            });
        }
    }
}

fn read_header<R: Read>(b: &mut Bits<R>, offset: u64) -> Result<GzipHeader, Error> {
    let what = "the gzip header";
    let mut raw = Vec::with_capacity(10);
    for _ in 0..10 {
        raw.push(b.byte(what).map_err(|e| match e {
            Error::Truncated { .. } if raw.len() < 2 => Error::NotGzip { offset },
            e => e,
        })?);
    }
    if raw[0] != 0x1f || raw[1] != 0x8b {
        return Err(Error::NotGzip { offset });
    }
    if raw[2] != 8 {
        return Err(Error::Method {
            offset,
            method: raw[2],
        });
    }
    let flags = raw[3];
    if flags & 0xe0 != 0 {
        return Err(Error::ReservedFlags { offset, flags });
    }
    let mut h = GzipHeader {
        flags,
        mtime: u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]),
        xfl: raw[8],
        os: raw[9],
        ..GzipHeader::default()
    };
    if flags & 4 != 0 {
        let lo = b.byte(what)?;
        let hi = b.byte(what)?;
        raw.extend_from_slice(&[lo, hi]);
        let xlen = u16::from_le_bytes([lo, hi]) as usize;
        let mut x = Vec::with_capacity(xlen);
        for _ in 0..xlen {
            x.push(b.byte(what)?);
        }
        raw.extend_from_slice(&x);
        h.extra = Some(x);
    }
    for (bit, slot) in [(8u8, 0), (16u8, 1)] {
        if flags & bit != 0 {
            let mut s = Vec::new();
            loop {
                let c = b.byte(what)?;
                raw.push(c);
                if c == 0 {
                    break;
                }
                if s.len() >= MAX_FIELD {
                    return Err(Error::FieldTooLong { offset });
                }
                s.push(c);
            }
            if slot == 0 {
                h.name = Some(s)
            } else {
                h.comment = Some(s)
            }
        }
    }
    if flags & 2 != 0 {
        let lo = b.byte(what)?;
        let hi = b.byte(what)?;
        let want = u16::from_le_bytes([lo, hi]);
        if crc32fast::hash(&raw) as u16 != want {
            return Err(Error::HeaderCrc { offset });
        }
        h.header_crc = true;
        raw.extend_from_slice(&[lo, hi]);
    }
    h.len = raw.len() as u64;
    Ok(h)
}

fn inflate_member<R: Read, S: Sink>(
    b: &mut Bits<R>,
    w: &mut Window,
    crc: &mut crc32fast::Hasher,
    sink: &mut S,
    member: u32,
    out_total: &mut u64,
) -> Result<(), Error> {
    loop {
        let bit = b.bit_pos();
        let hdr = b.bits(3, "a deflate block header")?;
        let last = hdr & 1 == 1;
        let out_start = *out_total;
        let mut rec = BlockRecord {
            member,
            kind: BlockKind::Stored,
            last,
            bit,
            out: out_start,
            len: 0,
            symbols: 0,
            ends_with_match: false,
        };
        match hdr >> 1 {
            0 => {
                b.align();
                let len = b.bits(16, "a stored block length")?;
                let nlen = b.bits(16, "a stored block length")?;
                if len != !nlen & 0xffff {
                    return Err(Error::Corrupt {
                        bit,
                        what: "stored block length check failed",
                    });
                }
                let mut left = len as usize;
                // Bits already in the accumulator first, then straight from the buffer.
                while left > 0 && b.n >= 8 {
                    w.room(sink, crc);
                    w.buf[w.pos] = b.peek(8) as u8;
                    b.drop_bits(8);
                    w.pos += 1;
                    left -= 1;
                }
                if left > 0 {
                    // The accumulator is empty (the block started on a byte boundary); its
                    // stale upper bits would otherwise be OR-ed into the next refill.
                    b.acc = 0;
                }
                while left > 0 {
                    if b.pos == b.end {
                        b.fill_buf()?;
                        if b.pos == b.end {
                            return Err(Error::Truncated {
                                offset: b.byte_pos(),
                                what: "a stored block",
                            });
                        }
                    }
                    w.room(sink, crc);
                    let k = left
                        .min(b.end - b.pos)
                        .min(w.buf.len() - 512 - w.pos)
                        .max(1);
                    w.buf[w.pos..w.pos + k].copy_from_slice(&b.buf[b.pos..b.pos + k]);
                    w.pos += k;
                    b.pos += k;
                    left -= k;
                }
                rec.len = len as u64;
            }
            1 => {
                rec.kind = BlockKind::Fixed;
                let (lit, dist) = fixed_tables();
                let (n, syms, ends_with_match) = codes(b, w, crc, sink, lit, dist)?;
                rec.len = n;
                rec.symbols = syms;
                rec.ends_with_match = ends_with_match;
            }
            2 => {
                rec.kind = BlockKind::Dynamic;
                let (lit, dist) = dynamic_tables(b, bit)?;
                let (n, syms, ends_with_match) = codes(b, w, crc, sink, &lit, &dist)?;
                rec.len = n;
                rec.symbols = syms;
                rec.ends_with_match = ends_with_match;
            }
            _ => {
                return Err(Error::Corrupt {
                    bit,
                    what: "reserved block type 11",
                });
            }
        }
        w.member_total += rec.len;
        *out_total += rec.len;
        sink.block(&rec);
        if last {
            return Ok(());
        }
    }
}

/// Decode one compressed block's symbols; returns (bytes out, symbols).
fn codes<R: Read, S: Sink>(
    b: &mut Bits<R>,
    w: &mut Window,
    crc: &mut crc32fast::Hasher,
    sink: &mut S,
    lit: &Huffman,
    dist: &Huffman,
) -> Result<(u64, u64, bool), Error> {
    let start_total = w.member_total;
    let start_pos = w.pos;
    let mut produced: u64 = 0; // bytes before the current w.pos origin
    let mut origin = start_pos;
    let mut syms: u64 = 0;
    let mut last_match = false;
    loop {
        if b.n < 48 {
            b.refill()?;
        }
        let sym = lit.decode(b)? as usize;
        if sym < 256 {
            if w.pos >= HIST + CHUNK {
                produced += (w.pos - origin) as u64;
                w.room(sink, crc);
                origin = w.pos;
            }
            w.buf[w.pos] = sym as u8;
            w.pos += 1;
            syms += 1;
            last_match = false;
            continue;
        }
        if sym == 256 {
            produced += (w.pos - origin) as u64;
            return Ok((produced, syms, last_match));
        }
        let li = sym - 257;
        if li >= 29 {
            return Err(Error::Corrupt {
                bit: b.bit_pos(), // where decoding stopped, within a few bits of the fault
                what: "invalid length code",
            });
        }
        let len = LEN_BASE[li] as usize + b.bits(LEN_EXTRA[li] as u32, "a length")? as usize;
        if b.n < 15 {
            b.refill()?;
        }
        let dsym = dist.decode(b)? as usize;
        if dsym >= 30 {
            return Err(Error::Corrupt {
                bit: b.bit_pos(), // where decoding stopped, within a few bits of the fault
                what: "invalid distance code",
            });
        }
        let d = DIST_BASE[dsym] as usize + b.bits(DIST_EXTRA[dsym] as u32, "a distance")? as usize;
        let have = start_total + produced + (w.pos - origin) as u64;
        if d as u64 > have {
            return Err(Error::Corrupt {
                bit: b.bit_pos(), // where decoding stopped, within a few bits of the fault
                what: "distance reaches before the start",
            });
        }
        if w.pos >= HIST + CHUNK {
            produced += (w.pos - origin) as u64;
            w.room(sink, crc);
            origin = w.pos;
        }
        let from = w.pos - d;
        if d >= 8 {
            // 8 bytes at a time: each read is at least 8 bytes behind its write, so overlapping
            // copies come out right; the last word may spill up to 7 bytes past the match into
            // the window's slack, to be overwritten by what follows.
            let mut k = 0;
            while k < len {
                let mut word = [0u8; 8];
                word.copy_from_slice(&w.buf[from + k..from + k + 8]);
                w.buf[w.pos + k..w.pos + k + 8].copy_from_slice(&word);
                k += 8;
            }
        } else {
            for k in 0..len {
                w.buf[w.pos + k] = w.buf[from + k];
            }
        }
        w.pos += len;
        syms += 1;
        last_match = true;
    }
}
