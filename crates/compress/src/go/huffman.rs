//! Length-limited Huffman code lengths, computed the way Go's `compress/flate` computes them,
//! and canonical codes for them.
//!
//! Many length assignments are equally optimal for a given histogram; a re-encoder must pick
//! the same one as Go, so the tie-breaks below are part of the contract:
//!
//! * symbols with frequency 0 get no code;
//! * with one or two used symbols, each gets a 1-bit code (even a lone symbol, which the RFC
//!   would allow to be 0 bits);
//! * otherwise the used symbols are ordered by (frequency, symbol) ascending and fed to the
//!   *boundary package-merge* algorithm (Katajainen, Moffat & Turpin, "A fast and
//!   space-economical algorithm for length-limited coding", 1995) with the code length limit
//!   `min(max_bits, used - 1)`. When the next leaf and the next package weigh the same, the
//!   package wins. The result is a count of symbols per code length; the most frequent symbols
//!   (the end of the ordered list) take the shortest lengths.
//!
//! Codes are then assigned canonically (RFC 1951 §3.2.2), which is also what Go does.

/// A prefix code word, already bit-reversed for LSB-first output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Code {
    /// The code bits, first bit in bit 0.
    pub(super) bits: u32,
    /// Its length in bits (0 = the symbol has no code).
    pub(super) len: u32,
}

/// Longest code length deflate allows.
pub(super) const MAX_CODE_LEN: usize = 15;

/// One list of the boundary package-merge: its most recent item, the weights of the next leaf
/// and of the next package it could take, and how many more items it must still produce.
#[derive(Clone, Copy)]
struct Level {
    last: u64,
    next_leaf: u64,
    next_pair: u64,
    needed: i64,
}

const NONE: u64 = u64::MAX;

/// Scratch space for [`Self::lengths`], kept between blocks to avoid allocation.
#[derive(Debug, Default)]
pub(super) struct LengthBuilder {
    /// (frequency, symbol) of the used symbols.
    used: Vec<(u32, u16)>,
}

impl LengthBuilder {
    /// Code lengths for `freqs` limited to `max_bits` (`<= 15`), written to `lengths`
    /// (same length as `freqs`).
    pub(super) fn lengths(&mut self, freqs: &[u32], max_bits: usize, lengths: &mut [u8]) {
        self.used.clear();
        for ((sym, &f), len) in freqs.iter().enumerate().zip(lengths.iter_mut()) {
            *len = 0;
            if f != 0 {
                self.used.push((f, sym as u16));
            }
        }
        if self.used.len() <= 2 {
            for &(_, sym) in &self.used {
                if let Some(l) = lengths.get_mut(usize::from(sym)) {
                    *l = 1;
                }
            }
            return;
        }
        self.used.sort_unstable();
        let weights: Vec<u32> = self.used.iter().map(|&(f, _)| f).collect();
        let per_length = package_merge(&weights, max_bits.min(MAX_CODE_LEN));
        // The heaviest symbols sit at the end of `used` and take the shortest codes.
        let mut from_heaviest = self.used.iter().rev();
        for (bits, &count) in per_length.iter().enumerate().skip(1) {
            for &(_, sym) in from_heaviest.by_ref().take(count as usize) {
                if let Some(l) = lengths.get_mut(usize::from(sym)) {
                    *l = bits as u8;
                }
            }
        }
    }
}

/// Boundary package-merge over `weights` (ascending, at least 3 of them): how many symbols
/// get each code length `1..=limit` (index 0 unused). `limit` is lowered to `n - 1`, the
/// longest length an unlimited Huffman code on `n` symbols can need.
fn package_merge(weights: &[u32], limit: usize) -> [u32; MAX_CODE_LEN + 1] {
    let n = weights.len();
    let w = |k: usize| weights.get(k).map_or(NONE, |&f| u64::from(f));
    let top = limit.min(n.saturating_sub(1)).max(1);

    // levels[l] for l in 1..=top; levels[0] is a sentinel that never needs anything.
    let mut levels = [Level {
        last: 0,
        next_leaf: 0,
        next_pair: 0,
        needed: 0,
    }; MAX_CODE_LEN + 2];
    // leaves[l][k]: in the chain behind the latest item of list l, how many leaves list k
    // (k < l) had consumed; leaves[l][l] is how many list l consumed itself.
    let mut leaves = [[0u32; MAX_CODE_LEN + 2]; MAX_CODE_LEN + 2];
    for l in 1..=top {
        // Every list starts with the two lightest leaves already taken.
        levels[l] = Level {
            last: w(1),
            next_leaf: w(2),
            // The bottom list has nothing below it to make packages from.
            next_pair: if l == 1 { NONE } else { w(0) + w(1) },
            needed: 0,
        };
        leaves[l][l] = 2;
    }
    // The top list must end up with 2n - 2 items; it has 2.
    levels[top].needed = 2 * n as i64 - 4;

    let mut l = top;
    loop {
        if levels[l].next_leaf == NONE && levels[l].next_pair == NONE {
            // This list is exhausted: it can only hand "nothing" upwards.
            levels[l].needed = 0;
            if l >= top {
                break; // unreachable for a consistent input; stop rather than run off the end
            }
            levels[l + 1].next_pair = NONE;
            l += 1;
            continue;
        }
        let before = levels[l].last;
        if levels[l].next_leaf < levels[l].next_pair {
            let taken = leaves[l][l] + 1;
            levels[l].last = levels[l].next_leaf;
            leaves[l][l] = taken;
            levels[l].next_leaf = w(taken as usize);
        } else {
            // Take a package: adopt the chain of the list below, which now owes two more
            // items to build the package after this one.
            levels[l].last = levels[l].next_pair;
            let (lower, upper) = leaves.split_at_mut(l);
            if let (Some(below), Some(this)) = (lower.last(), upper.first_mut()) {
                this[..l].copy_from_slice(&below[..l]);
            }
            levels[l - 1].needed = 2;
        }
        levels[l].needed -= 1;
        if levels[l].needed == 0 {
            if l == top {
                break;
            }
            // The two newest items of this list form the next package of the list above.
            levels[l + 1].next_pair = before + levels[l].last;
            l += 1;
        } else {
            // Serve the lowest list that still owes items first.
            while l > 1 && levels[l - 1].needed > 0 {
                l -= 1;
            }
        }
    }

    let mut per_length = [0u32; MAX_CODE_LEN + 1];
    for (bits, slot) in per_length.iter_mut().enumerate().take(top + 1).skip(1) {
        let list = top + 1 - bits;
        *slot = leaves[top][list].saturating_sub(leaves[top][list - 1]);
    }
    per_length
}

/// Canonical codes for `lengths` (RFC 1951 §3.2.2), bit-reversed for LSB-first output.
pub(super) fn canonical_codes(lengths: &[u8], codes: &mut [Code]) {
    let mut count = [0u32; MAX_CODE_LEN + 1];
    for &l in lengths {
        if let Some(c) = count.get_mut(usize::from(l)) {
            *c += 1;
        }
    }
    count[0] = 0;
    let mut next = [0u32; MAX_CODE_LEN + 1];
    let mut code = 0u32;
    for bits in 1..=MAX_CODE_LEN {
        code = (code + count[bits - 1]) << 1;
        next[bits] = code;
    }
    for (&l, out) in lengths.iter().zip(codes.iter_mut()) {
        let l = usize::from(l);
        *out = match next.get_mut(l) {
            Some(n) if l > 0 => {
                let c = *n;
                *n += 1;
                Code {
                    bits: (c as u16).reverse_bits() as u32 >> (16 - l),
                    len: l as u32,
                }
            }
            _ => Code::default(),
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lengths(freqs: &[u32], max: usize) -> Vec<u8> {
        let mut out = vec![0; freqs.len()];
        LengthBuilder::default().lengths(freqs, max, &mut out);
        out
    }

    fn kraft_ok(l: &[u8]) -> bool {
        let sum: u64 = l
            .iter()
            .filter(|&&x| x > 0)
            .map(|&x| 1u64 << (15 - x))
            .sum();
        sum <= 1 << 15
    }

    #[test]
    fn small_alphabets() {
        assert_eq!(lengths(&[0, 0, 0], 15), vec![0, 0, 0]);
        assert_eq!(lengths(&[0, 5, 0], 15), vec![0, 1, 0]);
        assert_eq!(lengths(&[3, 0, 9], 15), vec![1, 0, 1]);
        // Three symbols: the heaviest gets 1 bit.
        assert_eq!(lengths(&[1, 1, 5], 15), vec![2, 2, 1]);
        // Equal weights: ties go by symbol, the highest symbol is "heaviest".
        assert_eq!(lengths(&[1, 1, 1], 15), vec![2, 2, 1]);
    }

    #[test]
    fn respects_the_limit() {
        // Fibonacci weights would need 20+ bits unlimited.
        let mut f = vec![1u32, 1];
        for i in 2..25 {
            let x = f[i - 1] + f[i - 2];
            f.push(x);
        }
        let l = lengths(&f, 15);
        assert!(l.iter().all(|&x| (1..=15).contains(&x)));
        assert!(kraft_ok(&l));
        let l7 = lengths(&f[..19], 7);
        assert!(l7.iter().all(|&x| (1..=7).contains(&x)));
        assert!(kraft_ok(&l7));
    }

    #[test]
    fn canonical_matches_rfc_example() {
        // RFC 1951 §3.2.2: lengths (3,3,3,3,3,2,4,4) give 010,011,100,101,110,00,1110,1111.
        let l = [3u8, 3, 3, 3, 3, 2, 4, 4];
        let mut c = [Code::default(); 8];
        canonical_codes(&l, &mut c);
        let msb_first: Vec<u32> = c
            .iter()
            .map(|c| (c.bits as u16).reverse_bits() as u32 >> (16 - c.len))
            .collect();
        assert_eq!(msb_first, vec![2, 3, 4, 5, 6, 0, 14, 15]);
    }
}
