//! Level 1 (`BestSpeed`): Go's single-probe matcher, a Snappy-style encoder over 64 KiB − 1
//! blocks that can reach back into the previous block.
//!
//! The rules:
//!
//! * Input is cut into blocks of 65 535 bytes; each is matched on its own, but a match may
//!   start in the previous block (at most 32 768 bytes back).
//! * A 16 Ki-entry table maps the hash of 4 bytes (little-endian, times `0x1e35a7bd`, top 14
//!   bits) to the last position seen with that hash and the 4 bytes found there. Positions
//!   are kept on a running stream offset (`cur`) so that entries from older blocks stay
//!   meaningful; `cur` starts at 65 535 and, shortly before it would overflow an `i32`, is
//!   rebased to 32 769 (entries shifted, clamped at 0).
//! * Scanning for a match, the stride grows by one byte every 32 misses (1, 1, …, 2, 2, …),
//!   so incompressible data is skipped quickly. A candidate counts if its stored 4 bytes equal
//!   the current 4 bytes and it is at most 32 768 back. The match is then extended forward
//!   (up to 258 bytes, within the block, continuing from the previous block into this one).
//! * After a match, the two positions just before and at its end are hashed, and a match at
//!   its end is tried immediately.
//! * Matching stops 15 bytes before the block end; blocks shorter than 17 bytes are all
//!   literals (and make the next block unable to reach back).
//! * The block is written Huffman-only if the matcher made more than 15/16 as many tokens as
//!   bytes; otherwise as a dynamic block (stored if that is smaller by the 1/16 rule).
//! * At the end of the stream, a last block shorter than 65 535 bytes is written stored if at
//!   most 16 bytes, Huffman-only if under 128 bytes, else matched as usual.

use super::bits::BitWriter;
use super::block::{BlockEncoder, MAX_STORED, stored_block};
use super::token::{MAX_DISTANCE, MAX_MATCH, back_ref, literal};

const TABLE_BITS: u32 = 14;
const TABLE_SIZE: usize = 1 << TABLE_BITS;
/// Matching stops this many bytes before the end of a block.
const INPUT_MARGIN: usize = 16 - 1;
/// Blocks shorter than this are not matched at all.
const MIN_MATCHED_BLOCK: usize = 1 + 1 + INPUT_MARGIN;
/// Rebase `cur` once it reaches this.
const CUR_LIMIT: i64 = i32::MAX as i64 - 2 * MAX_STORED as i64;

#[derive(Clone, Copy, Default)]
struct Entry {
    /// The 4 bytes at `pos`, little-endian.
    val: u32,
    /// Stream position (relative to `cur`'s origin).
    pos: i32,
}

#[inline(always)]
fn hash(u: u32) -> usize {
    (u.wrapping_mul(0x1e35_a7bd) >> (32 - TABLE_BITS)) as usize
}

#[inline(always)]
fn load32(src: &[u8], i: usize) -> u32 {
    src.get(i..)
        .and_then(|s| s.first_chunk::<4>())
        .map_or(0, |b| u32::from_le_bytes(*b))
}

#[inline(always)]
fn load64(src: &[u8], i: usize) -> u64 {
    src.get(i..)
        .and_then(|s| s.first_chunk::<8>())
        .map_or(0, |b| u64::from_le_bytes(*b))
}

fn same_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Level 1 state between blocks.
pub(super) struct FastMatcher {
    table: Box<[Entry; TABLE_SIZE]>,
    /// The previous block, empty if it cannot be referenced.
    prev: Vec<u8>,
    cur: i64,
    /// Input not yet matched (up to one block).
    pending: Vec<u8>,
    tokens: Vec<u32>,
}

impl FastMatcher {
    pub(super) fn new() -> Self {
        let table = match vec![Entry::default(); TABLE_SIZE]
            .into_boxed_slice()
            .try_into()
        {
            Ok(t) => t,
            Err(_) => unreachable!("a vec of TABLE_SIZE entries converts to an array"),
        };
        FastMatcher {
            table,
            prev: Vec::with_capacity(MAX_STORED),
            cur: MAX_STORED as i64,
            pending: Vec::with_capacity(MAX_STORED),
            tokens: Vec::with_capacity(MAX_STORED),
        }
    }

    pub(super) fn write(&mut self, mut data: &[u8], enc: &mut BlockEncoder, w: &mut BitWriter) {
        while !data.is_empty() {
            if self.pending.len() == MAX_STORED {
                self.block(enc, w);
            }
            let n = data.len().min(MAX_STORED - self.pending.len());
            let (now, rest) = data.split_at(n);
            self.pending.extend_from_slice(now);
            data = rest;
        }
    }

    pub(super) fn finish(&mut self, enc: &mut BlockEncoder, w: &mut BitWriter) {
        let n = self.pending.len();
        // Only a last block shorter than a full one gets here with n < 128.
        if n < 128 {
            match n {
                0 => {}
                1..=16 => stored_block(w, &self.pending, false),
                _ => enc.huffman_only_block(w, &self.pending),
            }
            self.pending.clear();
            return;
        }
        self.block(enc, w);
    }

    fn block(&mut self, enc: &mut BlockEncoder, w: &mut BitWriter) {
        let mut tokens = std::mem::take(&mut self.tokens);
        let src = std::mem::take(&mut self.pending);
        tokens.clear();
        self.encode(&src, &mut tokens);
        let n = src.len();
        if tokens.len() > n - (n >> 4) {
            enc.huffman_only_block(w, &src);
        } else {
            enc.dynamic_block(w, &tokens, &src);
        }
        self.tokens = tokens;
        self.pending = src;
        self.pending.clear();
    }

    fn encode(&mut self, src: &[u8], out: &mut Vec<u32>) {
        if self.cur >= CUR_LIMIT {
            self.rebase();
        }
        if src.len() < MIN_MATCHED_BLOCK {
            self.cur += MAX_STORED as i64;
            self.prev.clear();
            out.extend(src.iter().map(|&b| literal(b)));
            return;
        }
        let cur = self.cur;
        let limit = src.len() - INPUT_MARGIN;
        let mut emitted = 0usize;
        let mut s = 0usize;
        let mut cv = load32(src, 0);
        let mut next_hash = hash(cv);

        'blocks: loop {
            // Probe for a candidate, striding further the longer nothing matches.
            let mut skip = 32usize;
            let mut next_s = s;
            let mut candidate;
            loop {
                s = next_s;
                let stride = skip >> 5;
                next_s = s + stride;
                skip += stride;
                if next_s > limit {
                    break 'blocks;
                }
                let slot = next_hash & (TABLE_SIZE - 1);
                candidate = self.table[slot];
                let now = load32(src, next_s);
                self.table[slot] = Entry {
                    val: cv,
                    pos: (s as i64 + cur) as i32,
                };
                next_hash = hash(now);
                let dist = s as i64 - (i64::from(candidate.pos) - cur);
                if dist <= MAX_DISTANCE as i64 && cv == candidate.val {
                    break;
                }
                cv = now;
            }
            out.extend(src[emitted..s].iter().map(|&b| literal(b)));

            // Emit the match, then keep taking matches right at its end while there are any.
            loop {
                s += 4;
                let t = i64::from(candidate.pos) - cur + 4;
                let l = self.extend(s, t, src);
                out.push(back_ref(l + 4, (s as i64 - t) as usize));
                s += l;
                emitted = s;
                if s >= limit {
                    break 'blocks;
                }
                let x = load64(src, s - 1);
                let before = hash(x as u32) & (TABLE_SIZE - 1);
                self.table[before] = Entry {
                    val: x as u32,
                    pos: (cur + s as i64 - 1) as i32,
                };
                let x = x >> 8;
                let at = hash(x as u32) & (TABLE_SIZE - 1);
                candidate = self.table[at];
                self.table[at] = Entry {
                    val: x as u32,
                    pos: (cur + s as i64) as i32,
                };
                let dist = s as i64 - (i64::from(candidate.pos) - cur);
                if dist > MAX_DISTANCE as i64 || x as u32 != candidate.val {
                    cv = (x >> 8) as u32;
                    next_hash = hash(cv);
                    s += 1;
                    break;
                }
            }
        }
        if emitted < src.len() {
            out.extend(src[emitted..].iter().map(|&b| literal(b)));
        }
        self.cur += src.len() as i64;
        self.prev.clear();
        self.prev.extend_from_slice(src);
    }

    /// How far the match of `src[s..]` against position `t` (negative: in the previous
    /// block) extends, at most 254 bytes (the 4 already known equal come on top).
    fn extend(&self, s: usize, t: i64, src: &[u8]) -> usize {
        let s1 = (s + MAX_MATCH - 4).min(src.len());
        let Some(a) = src.get(s..s1) else { return 0 };
        if t >= 0 {
            return src.get(t as usize..).map_or(0, |b| same_prefix(a, b));
        }
        let tp = self.prev.len() as i64 + t;
        if tp < 0 {
            return 0;
        }
        let b = self.prev.get(tp as usize..).unwrap_or(&[]);
        let n = same_prefix(a, b);
        if n < b.len().min(a.len()) || n == a.len() {
            return n;
        }
        // Ran off the end of the previous block: continue at the start of this one.
        n + same_prefix(&a[n..], src)
    }

    fn rebase(&mut self) {
        if self.prev.is_empty() {
            self.table.fill(Entry::default());
        } else {
            let shift = self.cur - MAX_DISTANCE as i64 - 1;
            for e in self.table.iter_mut() {
                e.pos = (i64::from(e.pos) - shift).max(0) as i32;
            }
        }
        self.cur = MAX_DISTANCE as i64 + 1;
    }
}
