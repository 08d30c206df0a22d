//! Huffman tables for the inflater: the fixed codes, and the dynamic ones read from a block
//! header (RFC 1951 §3.2.6–3.2.7).
//!
//! Decoding uses a 12-bit first-level table per code; longer codes fall back to a canonical
//! bit-by-bit walk (they are rare: a code longer than 12 bits stands for a symbol with
//! frequency below 1/4096).

use std::io::Read;

use super::{Bits, Error};

const FAST_BITS: u32 = 12;

/// A Huffman decoding table.
pub(super) struct Huffman {
    /// `sym << 4 | len` for codes of ≤ `FAST_BITS` bits, indexed by the next bits; 0 = slow path.
    fast: Vec<u16>,
    /// Codes per length, and symbols ordered by (length, value), for the canonical walk.
    count: [u16; 16],
    sorted: Vec<u16>,
}

impl Huffman {
    /// Build from code lengths; `None` if the lengths are over-subscribed, or incomplete other
    /// than the single-code case deflate allows.
    fn new(lens: &[u8], complete: bool) -> Option<Huffman> {
        let mut count = [0u16; 16];
        for &l in lens {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut left: i32 = 1;
        for &c in &count[1..] {
            left = left * 2 - c as i32;
            if left < 0 {
                return None;
            }
        }
        let max = (1..16).rev().find(|&l| count[l] != 0).unwrap_or(0);
        if left > 0 && (complete || max > 1) {
            return None;
        }
        let mut offs = [0u16; 16];
        for l in 1..15 {
            offs[l + 1] = offs[l] + count[l];
        }
        let mut sorted = vec![0u16; lens.len()];
        for (sym, &l) in lens.iter().enumerate() {
            if l != 0 {
                sorted[offs[l as usize] as usize] = sym as u16;
                offs[l as usize] += 1;
            }
        }
        // First-level table: canonical codes, bit-reversed.
        let mut fast = vec![0u16; 1 << FAST_BITS];
        let mut code: u32 = 0;
        let mut idx = 0usize;
        for len in 1..=15u32 {
            for _ in 0..count[len as usize] {
                if len <= FAST_BITS {
                    let rev = (code.reverse_bits() >> (32 - len)) as usize;
                    let entry = (sorted[idx] << 4) | len as u16;
                    let mut i = rev;
                    while i < fast.len() {
                        fast[i] = entry;
                        i += 1 << len;
                    }
                }
                code += 1;
                idx += 1;
            }
            code <<= 1;
        }
        Some(Huffman {
            fast,
            count,
            sorted,
        })
    }

    /// Decode one symbol; the caller guarantees ≥ 15 bits are buffered or input has ended.
    #[inline]
    pub(super) fn decode<R: Read>(&self, b: &mut Bits<R>) -> Result<u16, Error> {
        let e = self.fast[b.peek(FAST_BITS) as usize];
        let len = (e & 15) as u32;
        if len != 0 && len <= b.n {
            b.drop_bits(len);
            return Ok(e >> 4);
        }
        self.decode_slow(b)
    }

    fn decode_slow<R: Read>(&self, b: &mut Bits<R>) -> Result<u16, Error> {
        let bit = b.bit_pos();
        let mut code: i32 = 0;
        let mut first: i32 = 0;
        let mut index: i32 = 0;
        for len in 1..16 {
            code |= b.bits(1, "a Huffman code")? as i32;
            let c = self.count[len] as i32;
            if code - first < c {
                return Ok(self.sorted[(index + code - first) as usize]);
            }
            index += c;
            first = (first + c) << 1;
            code <<= 1;
        }
        Err(Error::Corrupt {
            bit,
            what: "invalid Huffman code",
        })
    }
}

const CL_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

pub(super) fn fixed_tables() -> &'static (Huffman, Huffman) {
    static T: std::sync::OnceLock<(Huffman, Huffman)> = std::sync::OnceLock::new();
    T.get_or_init(|| {
        let mut l = [0u8; 288];
        for (i, v) in l.iter_mut().enumerate() {
            *v = match i {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        // 32 codes make the fixed distance code complete; 30 and 31 are rejected when decoded.
        let d = [5u8; 32];
        // Fixed lengths are complete codes; construction cannot fail.
        let lit = Huffman::new(&l, true).unwrap_or_else(unreachable_tables);
        let dist = Huffman::new(&d, false).unwrap_or_else(unreachable_tables);
        (lit, dist)
    })
}

fn unreachable_tables() -> Huffman {
    Huffman {
        fast: vec![0; 1 << FAST_BITS],
        count: [0; 16],
        sorted: Vec::new(),
    }
}

pub(super) fn dynamic_tables<R: Read>(
    b: &mut Bits<R>,
    bit: u64,
) -> Result<(Huffman, Huffman), Error> {
    let what = "a dynamic block header";
    let hlit = b.bits(5, what)? as usize + 257;
    let hdist = b.bits(5, what)? as usize + 1;
    let hclen = b.bits(4, what)? as usize + 4;
    if hlit > 286 || hdist > 30 {
        return Err(Error::Corrupt {
            bit,
            what: "too many length or distance codes",
        });
    }
    let mut cl = [0u8; 19];
    for &i in &CL_ORDER[..hclen] {
        cl[i] = b.bits(3, what)? as u8;
    }
    let clh = Huffman::new(&cl, true).ok_or(Error::Corrupt {
        bit,
        what: "bad code-length code",
    })?;
    let mut lens = [0u8; 286 + 30];
    let mut i = 0;
    while i < hlit + hdist {
        if b.n < 16 {
            b.refill()?;
        }
        let sym = clh.decode(b)?;
        match sym {
            0..=15 => {
                lens[i] = sym as u8;
                i += 1;
            }
            16..=18 => {
                let (prev, k) = match sym {
                    16 => {
                        if i == 0 {
                            return Err(Error::Corrupt {
                                bit,
                                what: "repeat with no length",
                            });
                        }
                        (lens[i - 1], 3 + b.bits(2, what)? as usize)
                    }
                    17 => (0, 3 + b.bits(3, what)? as usize),
                    _ => (0, 11 + b.bits(7, what)? as usize),
                };
                if i + k > hlit + hdist {
                    return Err(Error::Corrupt {
                        bit,
                        what: "code lengths overflow",
                    });
                }
                lens[i..i + k].fill(prev);
                i += k;
            }
            _ => {
                return Err(Error::Corrupt {
                    bit,
                    what: "bad code-length symbol",
                });
            }
        }
    }
    if lens[256] == 0 {
        return Err(Error::Corrupt {
            bit,
            what: "no end-of-block code",
        });
    }
    let lit = Huffman::new(&lens[..hlit], false).ok_or(Error::Corrupt {
        bit,
        what: "bad literal/length code",
    })?;
    let dist = Huffman::new(&lens[hlit..hlit + hdist], false).ok_or(Error::Corrupt {
        bit,
        what: "bad distance code",
    })?;
    Ok((lit, dist))
}
