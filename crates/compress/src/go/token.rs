//! Tokens (literals and back-references) and the RFC 1951 symbol tables they map onto.
//!
//! A token is packed into a `u32` so that a block of 16 384 of them stays in L1/L2 cache:
//! a literal is its byte value (`0..=255`); a match sets [`MATCH_FLAG`] and carries
//! `length - 3` in bits 16..24 and `distance - 1` in bits 0..15.

/// Set on match tokens; literals are `< 256`.
pub(super) const MATCH_FLAG: u32 = 1 << 31;

/// Shortest match the format can express (RFC 1951 §3.2.5).
pub(super) const MIN_MATCH: usize = 3;
/// Longest match the format can express.
pub(super) const MAX_MATCH: usize = 258;
/// Largest distance the format can express (the window size).
pub(super) const MAX_DISTANCE: usize = 1 << 15;

/// Number of literal/length symbols Go's encoder uses (0–255, end of block, 29 length codes).
pub(super) const NUM_LIT: usize = 286;
/// Number of distance symbols.
pub(super) const NUM_DIST: usize = 30;
/// The end-of-block symbol.
pub(super) const END_OF_BLOCK: usize = 256;
/// First length symbol.
pub(super) const FIRST_LENGTH_SYMBOL: usize = 257;

/// A literal byte.
#[inline]
pub(super) fn literal(b: u8) -> u32 {
    u32::from(b)
}

/// A back-reference. `length` is in `3..=258` and `distance` in `1..=32768` at every call site;
/// the masks only keep a broken caller from corrupting the flag bit.
#[inline]
pub(super) fn back_ref(length: usize, distance: usize) -> u32 {
    let l = (length.wrapping_sub(MIN_MATCH) as u32) & 0xff;
    let d = (distance.wrapping_sub(1) as u32) & 0x7fff;
    MATCH_FLAG | (l << 16) | d
}

/// `length - 3` of a match token (`0..=255`).
#[inline]
pub(super) fn length_minus_3(t: u32) -> usize {
    ((t >> 16) & 0xff) as usize
}

/// `distance - 1` of a match token (`0..=32767`).
#[inline]
pub(super) fn distance_minus_1(t: u32) -> usize {
    (t & 0x7fff) as usize
}

/// Length symbols 257..=285, indexed by `symbol - 257`: the smallest `length - 3` they cover
/// and how many extra bits follow. Note that `length - 3 == 255` (length 258) has its own
/// symbol 285 with no extra bits, although 284's range would otherwise reach it.
pub(super) const LENGTH_BASE: [u16; 29] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128,
    160, 192, 224, 255,
];
/// Extra bits after each length symbol.
pub(super) const LENGTH_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance symbols 0..=29: smallest `distance - 1` they cover.
pub(super) const DIST_BASE: [u16; 30] = [
    0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536,
    2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576,
];
/// Extra bits after each distance symbol.
pub(super) const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// `length - 3` → length symbol index (`symbol - 257`), for all 256 values.
pub(super) const LENGTH_CODE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut code = 0;
    let mut x = 0;
    while x < 256 {
        // Advance to the last symbol whose base is <= x: that is the one covering x.
        while code + 1 < LENGTH_BASE.len() && LENGTH_BASE[code + 1] as usize <= x {
            code += 1;
        }
        t[x] = code as u8;
        x += 1;
    }
    t
};

/// `distance - 1` → distance symbol. Distances below 4 are their own symbol; above, two
/// symbols share each power of two, told apart by the bit below the top one.
#[inline]
pub(super) fn dist_code(d: usize) -> usize {
    if d < 4 {
        d
    } else {
        // d < 32768, so `top` is in 2..=14 and the result in 4..=29.
        let top = (usize::BITS - 1 - d.leading_zeros()) as usize;
        2 * top + ((d >> (top - 1)) & 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_codes_cover_their_ranges() {
        for (x, &c) in LENGTH_CODE.iter().enumerate() {
            let c = c as usize;
            let base = LENGTH_BASE[c] as usize;
            assert!(
                base <= x && x - base < (1 << LENGTH_EXTRA[c]).max(1),
                "x={x} c={c}"
            );
        }
        assert_eq!(LENGTH_CODE[255], 28);
        assert_eq!(LENGTH_CODE[254], 27);
    }

    #[test]
    fn dist_codes_cover_their_ranges() {
        for d in 0..MAX_DISTANCE {
            let c = dist_code(d);
            let base = DIST_BASE[c] as usize;
            assert!(
                base <= d && d - base < (1usize << DIST_EXTRA[c]).max(1),
                "d={d}"
            );
        }
    }

    #[test]
    fn tokens_round_trip() {
        let t = back_ref(258, 32768);
        assert!(t & MATCH_FLAG != 0);
        assert_eq!(length_minus_3(t), 255);
        assert_eq!(distance_minus_1(t), 32767);
        assert_eq!(literal(200), 200);
    }
}
