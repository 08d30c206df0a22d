//! Levels 2–9: Go's hash-chain matcher over a 64 KiB sliding buffer.
//!
//! The rules (all observable in the output, so all reproduced exactly):
//!
//! * **Buffer.** 64 KiB holding the 32 KiB window plus 32 KiB of lookahead. When it is full we
//!   match until fewer than 262 bytes (4 + the longest match) are left, then slide the upper
//!   half down. Data is only matched while at least 262 bytes of lookahead remain, except at
//!   the end of the stream. A position exactly 32 768 bytes back is still a valid match source
//!   until the slide discards it.
//! * **Hashing.** Each position's 4 bytes, read big-endian, times `0x1e35a7bd`, top 17 bits.
//!   Positions are inserted into a head table (`2^17` entries) and a 32 Ki-entry chain of
//!   previous occurrences. (Go stores positions plus a growing offset in `u32`s; we store the
//!   buffer position plus one in `u16`s, 0 meaning "none", and lower every entry by 32 KiB at
//!   each slide, clamping at "none". Entries that slid out of the buffer are never followed
//!   in Go either, so the searches are the same, and the tables — 320 KiB instead of 640 KiB —
//!   stay in a core's L2 cache.)
//!   A position is inserted only while 4 bytes follow it.
//! * **Search.** Walk the chain from the newest candidate, at most `chain` candidates, not
//!   beyond 32 768 bytes back. A candidate is only compared if it agrees with the current
//!   position at the byte just past the best length so far. A longer match replaces the best
//!   one; a 4-byte match only counts within 4096 bytes. Stop at `nice` bytes, or at the
//!   lookahead / 258 limit. (`good` never shortens the walk: Go always starts the search from
//!   length 3, below every level's `good`.)
//! * **Levels 2–3 (greedy).** Take any match found at once. If it is at most `skip` bytes
//!   long, hash the positions it covers; otherwise skip them unhashed.
//! * **Levels 4–9 (lazy).** Search at the next position too, unless the match held is already
//!   `lazy` bytes long or the lookahead is not longer than it; emit the held match only if the
//!   new one is not longer, else emit a literal for the held byte. Every covered position is
//!   hashed.
//! * **Blocks.** A block ends at 16 384 tokens (the check follows every emitted token) and at
//!   the end of the stream. Its raw bytes are offered for a stored block only if none of them
//!   has slid out of the buffer.

use super::bits::BitWriter;
use super::block::BlockEncoder;
use super::token::{MAX_MATCH, back_ref, literal};

const WINDOW: usize = 1 << 15;
const WINDOW_MASK: usize = WINDOW - 1;
const BUF: usize = 2 * WINDOW;
const HASH_BITS: u32 = 17;
const HASH_SIZE: usize = 1 << HASH_BITS;
/// Shortest match this matcher emits (3-byte matches are never looked for).
const MIN_EMIT: usize = 4;
/// Matching pauses (until more input or the end) when fewer bytes than this remain.
const MIN_LOOKAHEAD: usize = MIN_EMIT + MAX_MATCH;
const MAX_BLOCK_TOKENS: usize = 1 << 14;
/// 4-byte matches farther back than this are not worth it.
const FAR_4: usize = 4096;

/// One row of Go's level table.
#[derive(Clone, Copy, Debug)]
pub(super) struct Params {
    /// Stop searching at a match this long.
    nice: usize,
    /// Candidates to try per search.
    chain: u32,
    /// Lazy levels: do not search again once holding a match this long.
    lazy: usize,
    /// Greedy levels: hash the positions of matches up to this long (`None` = lazy level).
    greedy_skip: Option<usize>,
}

impl Params {
    /// A lazy level (4–9): its state after a back-reference is the data alone.
    pub(super) fn is_lazy(&self) -> bool {
        self.greedy_skip.is_none()
    }

    /// Go's table for levels 2–9 (`good` is left out: it never takes effect, see module docs).
    pub(super) fn for_level(level: i32) -> Option<Params> {
        let (lazy, nice, chain, greedy_skip) = match level {
            2 => (0, 16, 8, Some(5)),
            3 => (0, 32, 32, Some(6)),
            4 => (4, 16, 16, None),
            5 => (16, 32, 32, None),
            6 => (16, 128, 128, None),
            7 => (32, 128, 256, None),
            8 => (128, 258, 1024, None),
            9 => (258, 258, 4096, None),
            _ => return None,
        };
        Some(Params {
            nice,
            chain,
            lazy,
            greedy_skip,
        })
    }
}

/// The matcher's state between writes.
pub(super) struct ChainMatcher {
    p: Params,
    buf: Box<[u8; BUF]>,
    /// Bytes of `buf` filled.
    end: usize,
    /// Next position to look at.
    pos: usize,
    /// Where the current block's bytes start, if still in `buf`.
    block_start: Option<usize>,
    /// Lazy levels: the byte before `pos` is not yet emitted.
    pending: bool,
    /// Lazy levels: the match found at the previous position (length 3 = none).
    held_len: usize,
    held_dist: usize,
    tokens: Vec<u32>,
    /// Newest position (plus one; 0 = none) per hash.
    head: Box<[u16; HASH_SIZE]>,
    /// Per position (modulo the window): the previous position (plus one) with its hash.
    prev: Box<[u16; WINDOW]>,
    /// Stream offset of `buf[0]`.
    origin: u64,
    /// When kept: each flushed block's end (stream offset) and the bits written after it.
    flushes: Option<Vec<(u64, u64)>>,
}

#[inline(always)]
fn hash4(b: [u8; 4]) -> usize {
    (u32::from_be_bytes(b).wrapping_mul(0x1e35_a7bd) >> (32 - HASH_BITS)) as usize
}

/// Little-endian `u64` at `s[at..at + 8]`.
#[inline(always)]
fn read_u64(s: &[u8], at: usize) -> u64 {
    let b = &s[at..at + 8];
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

/// Length of the common prefix of `win[a..]` and `win[b..]`, at most `max`.
/// Callers guarantee `a + max <= win.len()` and `b + max <= win.len()`.
#[inline(always)]
fn common_prefix(win: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let diff = read_u64(win, a + n) ^ read_u64(win, b + n);
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && win[a + n] == win[b + n] {
        n += 1;
    }
    n
}

/// Lower every table entry by a window, clamping at 0 ("none"). A plain slice loop, so it
/// compiles to vector saturating subtractions.
fn slide_down(t: &mut [u16]) {
    for v in t {
        *v = v.saturating_sub(WINDOW as u16);
    }
}

fn boxed<const N: usize, T: Copy>(v: T) -> Box<[T; N]> {
    match vec![v; N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("a vec of N elements converts to [T; N]"),
    }
}

impl ChainMatcher {
    pub(super) fn new(p: Params) -> Self {
        ChainMatcher {
            p,
            buf: boxed(0u8),
            end: 0,
            pos: 0,
            block_start: Some(0),
            pending: false,
            held_len: MIN_EMIT - 1,
            held_dist: 0,
            tokens: Vec::with_capacity(MAX_BLOCK_TOKENS + 1),
            head: boxed(0u16),
            prev: boxed(0u16),
            origin: 0,
            flushes: None,
        }
    }

    /// The state a sequential run has when its main loop reaches stream offset `at` right after
    /// a block ended with a back-reference.
    ///
    /// `buf` holds the stream from `origin = buffer_origin(at, total)` on: a full
    /// buffer (64 KiB), or everything to the end of the stream if that is shorter. Nothing is
    /// pending or held after a back-reference, the new block starts at `at`, and the hash
    /// chains are what inserting every position of the 32 KiB window before `at` gives: entries
    /// older than the window, and entries that a slide cleared, are never followed, so leaving
    /// them out changes no search. Flushed block ends are recorded ([`Self::take_flushes`]).
    pub(super) fn resume(p: Params, origin: u64, buf: &[u8], at: u64) -> Option<Self> {
        let pos = usize::try_from(at.checked_sub(origin)?).ok()?;
        if buf.len() > BUF || pos >= buf.len() {
            return None;
        }
        let mut m = ChainMatcher::new(p);
        m.buf[..buf.len()].copy_from_slice(buf);
        m.end = buf.len();
        m.origin = origin;
        m.pos = pos;
        m.block_start = Some(pos);
        let hash_limit = m.end.saturating_sub(MIN_EMIT - 1);
        for q in pos.saturating_sub(WINDOW)..pos.min(hash_limit) {
            m.insert(q);
        }
        m.flushes = Some(Vec::new());
        Some(m)
    }

    /// Stream offset of the buffer's start when the main loop reaches stream offset `at` of a
    /// `total`-byte stream: 32 KiB per slide so far. Slide `j` (from 1) happens once the loop
    /// reaches `65 275 + 32 768 (j − 1)` (fewer than 262 bytes left in the full buffer), and
    /// only if more input follows the full buffer.
    pub(super) fn buffer_origin(at: u64, total: u64) -> u64 {
        let first = (BUF - MIN_LOOKAHEAD + 1) as u64;
        let by_pos = if at < first {
            0
        } else {
            (at - first) / WINDOW as u64 + 1
        };
        // slide j needs total > 65 536 + 32 768 (j − 1)
        let by_len = if total <= BUF as u64 {
            0
        } else {
            (total - BUF as u64 - 1) / WINDOW as u64 + 1
        };
        WINDOW as u64 * by_pos.min(by_len)
    }

    /// The block ends recorded since [`Self::resume`]: (stream offset, bits written after it).
    pub(super) fn take_flushes(&mut self) -> Vec<(u64, u64)> {
        self.flushes
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// Take input; matches and emits blocks each time the buffer fills.
    pub(super) fn write(&mut self, mut data: &[u8], enc: &mut BlockEncoder, w: &mut BitWriter) {
        while !data.is_empty() {
            if self.end == BUF {
                self.run(false, enc, w);
                self.slide();
            }
            let n = data.len().min(BUF - self.end);
            let (now, rest) = data.split_at(n);
            self.buf[self.end..self.end + n].copy_from_slice(now);
            self.end += n;
            data = rest;
        }
    }

    /// Match everything left and emit the last block (not marked final).
    pub(super) fn finish(&mut self, enc: &mut BlockEncoder, w: &mut BitWriter) {
        self.run(true, enc, w);
    }

    fn slide(&mut self) {
        if self.pos < BUF - MIN_LOOKAHEAD {
            return; // not reached: `run` leaves pos in the last 262 bytes of a full buffer
        }
        self.buf.copy_within(WINDOW.., 0);
        self.pos -= WINDOW;
        self.end -= WINDOW;
        self.block_start = self.block_start.and_then(|s| s.checked_sub(WINDOW));
        self.origin += WINDOW as u64;
        // Positions move down by a window; those that left the buffer become "none".
        slide_down(&mut self.head[..]);
        slide_down(&mut self.prev[..]);
    }

    /// Record `pos` in the hash chains; returns the previous newest position with the same
    /// hash, or -1 for none (possibly older than the window: callers range-check it).
    #[inline(always)]
    fn insert(&mut self, pos: usize) -> isize {
        // Callers only insert positions below `end - 3`, so `pos + 1` fits in a u16.
        let b = &self.buf[pos..pos + 4];
        let h = hash4([b[0], b[1], b[2], b[3]]) & (HASH_SIZE - 1);
        let old = self.head[h];
        self.prev[pos & WINDOW_MASK] = old;
        self.head[h] = (pos + 1) as u16;
        old as isize - 1
    }

    #[inline(always)]
    fn push(&mut self, t: u32, block_end: usize, enc: &mut BlockEncoder, w: &mut BitWriter) {
        self.tokens.push(t);
        if self.tokens.len() == MAX_BLOCK_TOKENS {
            self.flush_block(block_end, enc, w);
        }
    }

    fn flush_block(&mut self, block_end: usize, enc: &mut BlockEncoder, w: &mut BitWriter) {
        let raw = self.block_start.and_then(|s| self.buf.get(s..block_end));
        enc.tokens_block(w, &self.tokens, raw);
        if let Some(log) = &mut self.flushes {
            log.push((self.origin + block_end as u64, w.bit_len()));
        }
        self.tokens.clear();
        self.block_start = Some(block_end);
    }

    /// The longest match for `pos` along the chain starting at `cand`, if any beats 3 bytes.
    #[inline(always)]
    fn longest_match(
        &self,
        pos: usize,
        mut cand: isize,
        lookahead: usize,
    ) -> Option<(usize, usize)> {
        // Callers pass 4 <= lookahead <= end - pos, so `win` is in bounds and longer than
        // `best_len` (3) past `pos`; `best_len` stays below `max_len` until the loop ends.
        let max_len = lookahead.min(MAX_MATCH);
        let nice = self.p.nice.min(max_len);
        let win = self.buf.get(..pos + max_len)?;
        let oldest = pos as isize - WINDOW as isize;
        let mut best_len = MIN_EMIT - 1;
        let mut best = None;
        let mut tries = self.p.chain;
        while tries > 0 {
            tries -= 1;
            let i = cand as usize;
            if i >= pos || best_len >= max_len {
                break; // chains only lead backwards, and we stop at max_len: never taken
            }
            // Only a candidate that also matches one byte past the best so far can beat it.
            if win[i + best_len] == win[pos + best_len] {
                let n = common_prefix(win, i, pos, max_len);
                if n > best_len && (n > MIN_EMIT || pos - i <= FAR_4) {
                    best_len = n;
                    best = Some((n, pos - i));
                    if n >= nice {
                        break;
                    }
                }
            }
            if cand == oldest {
                break; // its chain slot now belongs to `pos`
            }
            cand = self.prev[i & WINDOW_MASK] as isize - 1;
            if cand < oldest || cand < 0 {
                break;
            }
        }
        best
    }

    fn run(&mut self, at_end: bool, enc: &mut BlockEncoder, w: &mut BitWriter) {
        let end = self.end;
        // Positions with fewer than 4 bytes after them are never hashed.
        let hash_limit = end.saturating_sub(MIN_EMIT - 1);
        loop {
            let lookahead = end.saturating_sub(self.pos);
            if lookahead < MIN_LOOKAHEAD {
                if !at_end {
                    return;
                }
                if lookahead == 0 {
                    if self.pending {
                        if let Some(&b) = self.buf.get(self.pos.wrapping_sub(1)) {
                            self.tokens.push(literal(b));
                        }
                        self.pending = false;
                    }
                    if !self.tokens.is_empty() {
                        self.flush_block(self.pos, enc, w);
                    }
                    return;
                }
            }
            let pos = self.pos;
            // Whenever a search can happen below, lookahead >= 4, so `pos < hash_limit` and
            // `cand` is fresh.
            let cand = if pos < hash_limit {
                self.insert(pos)
            } else {
                -1
            };
            let min_pos = pos.saturating_sub(WINDOW) as isize;
            match self.p.greedy_skip {
                Some(skip) => {
                    let mut found = None;
                    if cand >= min_pos && lookahead >= MIN_EMIT {
                        found = self.longest_match(pos, cand, lookahead);
                    }
                    if let Some((len, dist)) = found {
                        let next = pos + len;
                        if len <= skip {
                            for p in pos + 1..next.min(hash_limit) {
                                self.insert(p);
                            }
                        }
                        self.pos = next;
                        self.push(back_ref(len, dist), next, enc, w);
                    } else {
                        let b = self.buf.get(pos).copied().unwrap_or(0);
                        self.pos = pos + 1;
                        self.push(literal(b), pos + 1, enc, w);
                    }
                }
                None => {
                    let (held_len, held_dist) = (self.held_len, self.held_dist);
                    let mut found_len = MIN_EMIT - 1;
                    let mut found_dist = 0;
                    if cand >= min_pos
                        && lookahead > held_len
                        && held_len < self.p.lazy
                        && let Some((l, d)) = self.longest_match(pos, cand, lookahead)
                    {
                        (found_len, found_dist) = (l, d);
                    }
                    if held_len >= MIN_EMIT && found_len <= held_len {
                        // The match from the previous position wins; it started at pos - 1.
                        let next = pos - 1 + held_len;
                        for p in pos + 1..next.min(hash_limit) {
                            self.insert(p);
                        }
                        self.pos = next;
                        self.pending = false;
                        self.held_len = MIN_EMIT - 1;
                        self.held_dist = 0;
                        self.push(back_ref(held_len, held_dist), next, enc, w);
                    } else {
                        self.held_len = found_len;
                        self.held_dist = found_dist;
                        if self.pending {
                            let b = self.buf.get(pos.wrapping_sub(1)).copied().unwrap_or(0);
                            self.push(literal(b), pos, enc, w);
                        }
                        self.pending = true;
                        self.pos = pos + 1;
                    }
                }
            }
        }
    }
}
