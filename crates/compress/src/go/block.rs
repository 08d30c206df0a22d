//! Turning a block of tokens (or raw bytes) into a deflate block the way Go's
//! `huffmanBitWriter` does: which of stored / fixed / dynamic it picks, and how it encodes the
//! dynamic header.
//!
//! The decisions, all in bits and all exact:
//!
//! * **Token blocks (levels 2–9):** sizes are estimated for a fixed-Huffman block and a
//!   dynamic one; dynamic wins only if strictly smaller. A stored block wins if it is strictly
//!   smaller than the winner, which is only considered when the block's raw bytes are still
//!   in the window and at most 65 535 bytes long. Extra bits of lengths and distances count in
//!   both Huffman estimates (only when a stored block is possible; otherwise they cancel out).
//! * **Level 1 blocks:** always dynamic, unless a stored block is smaller than the dynamic
//!   estimate plus one sixteenth (extra bits not counted).
//! * **Huffman-only blocks** (level −2, and level 1 when matching found little): literals only,
//!   same "plus one sixteenth" stored rule.
//! * A block without any match still declares one distance code: symbol 0 gets frequency 1
//!   before the codes are built and the sizes estimated (so it costs 1 bit in the dynamic
//!   estimate and 5 in the fixed one).
//! * The code-length sequence is run-length coded over literal and distance lengths as one
//!   sequence: a non-zero length is written once, then repeated with symbol 16 in runs of up
//!   to 6 (a remainder of 1–2 written plainly); zeros use symbol 18 for runs of 11–138, then 17
//!   for a remainder of 3–10, then plain zeros. Code-length codes are limited to 7 bits, and
//!   trailing unused ones (in the RFC's permuted order) are trimmed down to a minimum of 4.

use super::bits::BitWriter;
use super::huffman::{Code, LengthBuilder, canonical_codes};
use super::token::{
    DIST_BASE, DIST_EXTRA, END_OF_BLOCK, FIRST_LENGTH_SYMBOL, LENGTH_BASE, LENGTH_CODE,
    LENGTH_EXTRA, MATCH_FLAG, NUM_DIST, NUM_LIT, dist_code, distance_minus_1, length_minus_3,
};

/// Largest stored block.
pub(super) const MAX_STORED: usize = 65_535;

/// Order in which code-length code lengths are sent (RFC 1951 §3.2.7).
const CODEGEN_ORDER: [usize; 19] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Block-level state: histograms, code tables and scratch buffers, reused between blocks.
pub(super) struct BlockEncoder {
    lit_freq: [u32; NUM_LIT],
    dist_freq: [u32; NUM_DIST],
    lit_len: [u8; NUM_LIT],
    dist_len: [u8; NUM_DIST],
    lit_code: [Code; NUM_LIT],
    dist_code: [Code; NUM_DIST],
    /// The run-length coded code lengths: (symbol 0..=18, extra bits value).
    codegen: Vec<(u8, u8)>,
    codegen_freq: [u32; 19],
    codegen_len: [u8; 19],
    codegen_code: [Code; 19],
    fixed_lit: [Code; NUM_LIT],
    fixed_dist: [Code; NUM_DIST],
    builder: LengthBuilder,
}

impl BlockEncoder {
    pub(super) fn new() -> Self {
        let mut fixed_lit_len = [0u8; NUM_LIT];
        for (sym, l) in fixed_lit_len.iter_mut().enumerate() {
            // RFC 1951 §3.2.6.
            *l = match sym {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        let mut fixed_lit = [Code::default(); NUM_LIT];
        canonical_codes(&fixed_lit_len, &mut fixed_lit);
        let mut fixed_dist = [Code::default(); NUM_DIST];
        canonical_codes(&[5u8; NUM_DIST], &mut fixed_dist);
        BlockEncoder {
            lit_freq: [0; NUM_LIT],
            dist_freq: [0; NUM_DIST],
            lit_len: [0; NUM_LIT],
            dist_len: [0; NUM_DIST],
            lit_code: [Code::default(); NUM_LIT],
            dist_code: [Code::default(); NUM_DIST],
            codegen: Vec::with_capacity(NUM_LIT + NUM_DIST + 1),
            codegen_freq: [0; 19],
            codegen_len: [0; 19],
            codegen_code: [Code::default(); 19],
            fixed_lit,
            fixed_dist,
            builder: LengthBuilder::default(),
        }
    }

    /// A block from the level 2–9 matcher. `raw` is the block's input if it is still
    /// available (a stored block is possible only then).
    pub(super) fn tokens_block(&mut self, w: &mut BitWriter, tokens: &[u32], raw: Option<&[u8]>) {
        let (num_lit, num_dist) = self.histogram_tokens(tokens);
        let raw = raw.filter(|r| r.len() <= MAX_STORED);
        let extra = if raw.is_some() { self.extra_bits() } else { 0 };
        let fixed_size = 3
            + weighted(&self.lit_freq, self.fixed_lit.iter().map(|c| c.len))
            + weighted(&self.dist_freq, self.fixed_dist.iter().map(|c| c.len))
            + extra;
        self.build_dynamic(num_lit, num_dist);
        let (dyn_size, num_codegens) = self.dynamic_size(extra);

        let use_dynamic = dyn_size < fixed_size;
        let best = if use_dynamic { dyn_size } else { fixed_size };
        if let Some(raw) = raw.filter(|r| stored_size(r) < best) {
            stored_block(w, raw, false);
            return;
        }
        if use_dynamic {
            self.dynamic_header(w, num_lit, num_dist, num_codegens);
            write_tokens(w, tokens, &self.lit_code, &self.dist_code);
        } else {
            w.put(0b010, 3); // BFINAL 0, BTYPE 01 (fixed)
            write_tokens(w, tokens, &self.fixed_lit, &self.fixed_dist);
        }
    }

    /// A block from the level 1 matcher: dynamic, or stored if that is smaller than the
    /// dynamic estimate plus one sixteenth.
    pub(super) fn dynamic_block(&mut self, w: &mut BitWriter, tokens: &[u32], raw: &[u8]) {
        let (num_lit, num_dist) = self.histogram_tokens(tokens);
        self.build_dynamic(num_lit, num_dist);
        let (size, num_codegens) = self.dynamic_size(0);
        if raw.len() <= MAX_STORED && stored_size(raw) < size + (size >> 4) {
            stored_block(w, raw, false);
            return;
        }
        self.dynamic_header(w, num_lit, num_dist, num_codegens);
        write_tokens(w, tokens, &self.lit_code, &self.dist_code);
    }

    /// A literals-only block over `raw` (Go's `writeBlockHuff`), or stored if that is smaller
    /// than the estimate plus one sixteenth.
    pub(super) fn huffman_only_block(&mut self, w: &mut BitWriter, raw: &[u8]) {
        self.lit_freq = [0; NUM_LIT];
        for &b in raw {
            self.lit_freq[usize::from(b)] += 1;
        }
        self.lit_freq[END_OF_BLOCK] = 1;
        // One distance code of one bit, declared but never used.
        self.dist_freq = [0; NUM_DIST];
        self.dist_freq[0] = 1;
        let num_lit = END_OF_BLOCK + 1;
        self.build_dynamic(num_lit, 1);
        let (size, num_codegens) = self.dynamic_size(0);
        if raw.len() <= MAX_STORED && stored_size(raw) < size + (size >> 4) {
            stored_block(w, raw, false);
            return;
        }
        self.dynamic_header(w, num_lit, 1, num_codegens);
        let codes = &self.lit_code;
        for &b in raw {
            let c = codes[usize::from(b)];
            w.put(c.bits, c.len);
        }
        let eob = codes[END_OF_BLOCK];
        w.put(eob.bits, eob.len);
    }

    /// Fill the histograms from `tokens` plus one end-of-block, and return how many literal
    /// and distance symbols the block declares (trailing unused ones trimmed).
    fn histogram_tokens(&mut self, tokens: &[u32]) -> (usize, usize) {
        self.lit_freq = [0; NUM_LIT];
        self.dist_freq = [0; NUM_DIST];
        for &t in tokens {
            if t & MATCH_FLAG == 0 {
                self.lit_freq[(t & 0xff) as usize] += 1;
            } else {
                let lc = usize::from(LENGTH_CODE[length_minus_3(t)]);
                self.lit_freq[FIRST_LENGTH_SYMBOL + lc] += 1;
                self.dist_freq[dist_code(distance_minus_1(t)) % NUM_DIST] += 1;
            }
        }
        self.lit_freq[END_OF_BLOCK] += 1;
        let num_lit = NUM_LIT - self.lit_freq.iter().rev().take_while(|&&f| f == 0).count();
        let mut num_dist = NUM_DIST - self.dist_freq.iter().rev().take_while(|&&f| f == 0).count();
        if num_dist == 0 {
            self.dist_freq[0] = 1;
            num_dist = 1;
        }
        (num_lit, num_dist)
    }

    /// Extra bits the block's lengths and distances carry.
    fn extra_bits(&self) -> u64 {
        let lengths = weighted(
            &self.lit_freq[FIRST_LENGTH_SYMBOL..],
            LENGTH_EXTRA.iter().map(|&e| u32::from(e)),
        );
        lengths + weighted(&self.dist_freq, DIST_EXTRA.iter().map(|&e| u32::from(e)))
    }

    /// Build the block's own codes and the run-length coded description of them.
    fn build_dynamic(&mut self, num_lit: usize, num_dist: usize) {
        self.builder.lengths(&self.lit_freq, 15, &mut self.lit_len);
        self.builder
            .lengths(&self.dist_freq, 15, &mut self.dist_len);
        canonical_codes(&self.lit_len, &mut self.lit_code);
        canonical_codes(&self.dist_len, &mut self.dist_code);

        self.codegen.clear();
        self.codegen_freq = [0; 19];
        let (lit_len, dist_len) = (self.lit_len, self.dist_len);
        let lens = lit_len[..num_lit.min(NUM_LIT)]
            .iter()
            .chain(&dist_len[..num_dist.min(NUM_DIST)])
            .copied();
        let mut run: Option<(u8, usize)> = None;
        for l in lens {
            match &mut run {
                Some((v, n)) if *v == l => *n += 1,
                _ => {
                    if let Some((v, n)) = run {
                        self.emit_run(v, n);
                    }
                    run = Some((l, 1));
                }
            }
        }
        if let Some((v, n)) = run {
            self.emit_run(v, n);
        }
        self.builder
            .lengths(&self.codegen_freq, 7, &mut self.codegen_len);
        canonical_codes(&self.codegen_len, &mut self.codegen_code);
    }

    /// Run-length code `count` copies of the code length `value`.
    fn emit_run(&mut self, value: u8, mut count: usize) {
        let put = |sym: u8, extra: u8, cg: &mut Vec<(u8, u8)>, freq: &mut [u32; 19]| {
            cg.push((sym, extra));
            freq[usize::from(sym) % 19] += 1;
        };
        let (cg, freq) = (&mut self.codegen, &mut self.codegen_freq);
        if value != 0 {
            put(value, 0, cg, freq);
            count -= 1;
            while count >= 3 {
                let n = count.min(6);
                put(16, (n - 3) as u8, cg, freq);
                count -= n;
            }
        } else {
            while count >= 11 {
                let n = count.min(138);
                put(18, (n - 11) as u8, cg, freq);
                count -= n;
            }
            if count >= 3 {
                put(17, (count - 3) as u8, cg, freq);
                count = 0;
            }
        }
        for _ in 0..count {
            put(value, 0, cg, freq);
        }
    }

    /// Size in bits of the dynamic block (header included), and how many code-length code
    /// lengths its header sends.
    fn dynamic_size(&self, extra: u64) -> (u64, usize) {
        let mut num_codegens = 19;
        while num_codegens > 4 && self.codegen_freq[CODEGEN_ORDER[num_codegens - 1]] == 0 {
            num_codegens -= 1;
        }
        let header = 3
            + 5
            + 5
            + 4
            + 3 * num_codegens as u64
            + weighted(&self.codegen_freq, self.codegen_code.iter().map(|c| c.len))
            + u64::from(self.codegen_freq[16]) * 2
            + u64::from(self.codegen_freq[17]) * 3
            + u64::from(self.codegen_freq[18]) * 7;
        let body = weighted(&self.lit_freq, self.lit_code.iter().map(|c| c.len))
            + weighted(&self.dist_freq, self.dist_code.iter().map(|c| c.len));
        (header + body + extra, num_codegens)
    }

    fn dynamic_header(&self, w: &mut BitWriter, num_lit: usize, num_dist: usize, ncg: usize) {
        w.put(0b100, 3); // BFINAL 0, BTYPE 10 (dynamic)
        w.put(num_lit.saturating_sub(257) as u32, 5);
        w.put(num_dist.saturating_sub(1) as u32, 5);
        w.put(ncg.saturating_sub(4) as u32, 4);
        for &sym in CODEGEN_ORDER.iter().take(ncg) {
            w.put(u32::from(self.codegen_len[sym]), 3);
        }
        for &(sym, extra) in &self.codegen {
            let c = self.codegen_code[usize::from(sym) % 19];
            w.put(c.bits, c.len);
            match sym {
                16 => w.put(u32::from(extra), 2),
                17 => w.put(u32::from(extra), 3),
                18 => w.put(u32::from(extra), 7),
                _ => {}
            }
        }
    }
}

/// Σ freq × bits.
fn weighted(freq: &[u32], bits: impl Iterator<Item = u32>) -> u64 {
    freq.iter()
        .zip(bits)
        .map(|(&f, b)| u64::from(f) * u64::from(b))
        .sum()
}

/// Size in bits of a stored block (3 header bits and padding are counted as one byte, plus
/// LEN and NLEN).
fn stored_size(raw: &[u8]) -> u64 {
    (raw.len() as u64 + 5) * 8
}

/// A stored block (`raw.len() <= 65 535`).
pub(super) fn stored_block(w: &mut BitWriter, raw: &[u8], last: bool) {
    w.put(u32::from(last), 3); // BTYPE 00
    w.align();
    let len = raw.len().min(MAX_STORED) as u16;
    w.put(u32::from(len), 16);
    w.put(u32::from(!len), 16);
    w.align();
    w.put_bytes(&raw[..usize::from(len)]);
}

/// The tokens of a block, then its end-of-block code.
fn write_tokens(w: &mut BitWriter, tokens: &[u32], lit: &[Code; NUM_LIT], dist: &[Code; NUM_DIST]) {
    for &t in tokens {
        if t & MATCH_FLAG == 0 {
            let c = lit[(t & 0xff) as usize];
            w.put(c.bits, c.len);
            continue;
        }
        let l = length_minus_3(t);
        let lc = usize::from(LENGTH_CODE[l]) % LENGTH_BASE.len();
        let c = lit[FIRST_LENGTH_SYMBOL + lc];
        w.put(c.bits, c.len);
        let extra = u32::from(LENGTH_EXTRA[lc]);
        if extra > 0 {
            w.put((l - usize::from(LENGTH_BASE[lc])) as u32, extra);
        }
        let d = distance_minus_1(t);
        let dc = dist_code(d) % NUM_DIST;
        let c = dist[dc];
        w.put(c.bits, c.len);
        let extra = u32::from(DIST_EXTRA[dc]);
        if extra > 0 {
            w.put((d - usize::from(DIST_BASE[dc])) as u32, extra);
        }
    }
    let eob = lit[END_OF_BLOCK];
    w.put(eob.bits, eob.len);
}
