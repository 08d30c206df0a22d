//! An LSB-first bit sink over an in-memory byte buffer.
//!
//! Deflate packs codes starting at the least significant bit of each byte. How an encoder
//! batches bits into bytes (Go flushes 48 bits at a time into a 248-byte buffer) has no effect
//! on the stream, so we pick what is fastest for us: a 64-bit accumulator spilled 32 bits at a
//! time into a `Vec` that the owning writer drains to its `io::Write`.

/// The bit accumulator plus the completed bytes not yet handed to the inner writer.
#[derive(Debug, Default)]
pub(super) struct BitWriter {
    acc: u64,
    nbits: u32,
    /// Completed bytes.
    pub(super) out: Vec<u8>,
}

impl BitWriter {
    pub(super) fn new() -> Self {
        BitWriter {
            acc: 0,
            nbits: 0,
            out: Vec::with_capacity(1 << 17),
        }
    }

    /// Append the low `n` bits of `value` (`n <= 32`; `value` has no bits at or above `n`).
    #[inline(always)]
    pub(super) fn put(&mut self, value: u32, n: u32) {
        // nbits < 32 on entry, so the shifted value fits in 64 bits.
        self.acc |= u64::from(value) << self.nbits;
        self.nbits += n;
        if self.nbits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.nbits -= 32;
        }
    }

    /// Bits written so far (completed bytes and pending bits).
    pub(super) fn bit_len(&self) -> u64 {
        self.out.len() as u64 * 8 + u64::from(self.nbits)
    }

    /// Pad with zero bits to the next byte boundary and move every pending byte to `out`.
    pub(super) fn align(&mut self) {
        while self.nbits > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits = self.nbits.saturating_sub(8);
        }
        self.acc = 0;
    }

    /// Append raw bytes; only valid on a byte boundary (callers [`align`](Self::align) first).
    pub(super) fn put_bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.nbits, 0);
        self.out.extend_from_slice(bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_lsb_first() {
        let mut w = BitWriter::new();
        w.put(0b1, 1);
        w.put(0b10, 2);
        w.put(0x1f, 5);
        w.put(0xabcd, 16);
        w.put(0x3, 3);
        w.align();
        assert_eq!(w.out, vec![0b1111_1101, 0xcd, 0xab, 0x03]);
    }

    #[test]
    fn spills_whole_words() {
        let mut w = BitWriter::new();
        for _ in 0..10 {
            w.put(0x7fff_ffff, 31);
        }
        w.align();
        assert_eq!(w.out.len(), 310_usize.div_ceil(8));
        assert_eq!(w.out[0], 0xff);
    }
}
