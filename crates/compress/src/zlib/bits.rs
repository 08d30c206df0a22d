//! An LSB-first bit writer, the way deflate packs codes into bytes (RFC 1951 §3.1.1).
//!
//! zlib and GNU gzip both keep a 16-bit bit buffer and spill whole bytes; the byte stream that
//! results is the same as any LSB-first packer's, so we use a 64-bit accumulator and spill four
//! bytes at a time. The only state that is observable from outside is the number of bits not
//! yet making up a whole byte ([`BitWriter::pending_bits`], zlib's `deflatePending`).

/// Bits on their way into a byte vector.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    /// Completed bytes not yet handed to the caller.
    pub(crate) out: Vec<u8>,
    acc: u64,
    nbits: u32,
}

impl BitWriter {
    /// Append the low `n` bits of `value` (n ≤ 32), first bit first.
    #[inline]
    pub(crate) fn put(&mut self, value: u32, n: u32) {
        debug_assert!(n <= 32);
        let v = if n == 32 {
            value as u64
        } else {
            (value as u64) & ((1u64 << n) - 1)
        };
        self.acc |= v << self.nbits;
        self.nbits += n;
        if self.nbits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.nbits -= 32;
        }
    }

    /// Bits written since the last byte boundary (0..=7): what zlib's `deflatePending` reports
    /// after a `Z_BLOCK` flush, and what pigz looks at to decide how to reach a byte boundary.
    pub(crate) fn pending_bits(&self) -> u32 {
        self.nbits & 7
    }

    /// Move every whole byte of the accumulator to `out`.
    pub(crate) fn flush_bytes(&mut self) {
        while self.nbits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.nbits -= 8;
        }
    }

    /// Pad with zero bits to a byte boundary (zlib's `bi_windup`).
    pub(crate) fn align(&mut self) {
        self.flush_bytes();
        if self.nbits > 0 {
            self.out.push(self.acc as u8);
            self.acc = 0;
            self.nbits = 0;
        }
    }

    /// Raw bytes, which must start on a byte boundary (stored block contents).
    pub(crate) fn put_bytes(&mut self, bytes: &[u8]) {
        debug_assert_eq!(self.nbits, 0);
        self.out.extend_from_slice(bytes);
    }

    /// Take the completed bytes out.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        self.flush_bytes();
        std::mem::take(&mut self.out)
    }
}
