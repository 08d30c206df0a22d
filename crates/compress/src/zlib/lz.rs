//! The LZ77 front end shared by zlib's `deflate.c` and GNU gzip's `deflate.c`: a 64 KiB sliding
//! window, 15-bit hash chains, greedy parsing for levels 1–3 and lazy parsing for 4–9.
//!
//! The two programs descend from the same code and differ in a handful of places. Each
//! difference is a branch on [`Flavour`] at the point where it applies, with the reason:
//!
//! | rule | zlib 1.2.x / 1.3.x | GNU gzip 1.x |
//! |---|---|---|
//! | block ends after | 16383 symbols (`lit_bufsize - 1`, memLevel 8) | 32767 symbols (`LIT_BUFSIZE - 1`), or earlier by the "is it worth ending here" estimate every 4096 symbols at levels ≥ 3 |
//! | hashing near the end of input | only positions with 3 bytes of input ahead are inserted | every position is inserted; the 2 bytes past the end are zeroed when end of file is seen |
//! | match search near the end | `nice_match` and the result are capped to the lookahead | not capped: candidates compete on bytes past the end (zeros, then stale window bytes), and only the winner's length is capped |
//! | match search near the window top | always allowed | skipped when `strstart > 2·WSIZE − MIN_LOOKAHEAD` (only possible after end of file) |
//! | greedy insertion after a match | only if 3 bytes of lookahead remain | always |
//! | stream boundaries | preset dictionary, `Z_BLOCK`/`Z_SYNC_FLUSH`, positions to re-hash after a flush (`insert`) | one stream per file |
//!
//! Because GNU gzip's output near end of input depends on stale window contents, the window is
//! modelled exactly: the same 2·32 KiB buffer, filled by whole reads of the free space, slid by
//! copying the upper half down when `strstart >= WSIZE + MAX_DIST`, with the hash heads and
//! chains rebased the same way (entries that fall out become 0, which is also "no match" — so a
//! string at window index 0 is never matched, in both programs).
//!
//! Reads are modelled as if all input were available at once (a regular file for gzip, one
//! `deflate()` call per pigz block): the window is only filled when the full free space can be
//! read, or at a flush or the end of input. zlib's output does not depend on how input is fed in
//! any case; GNU gzip's could, in principle, when reading from a pipe that returns short reads.

use super::bits::BitWriter;
use super::trees::Block;

const WSIZE: usize = 1 << 15;
const WMASK: usize = WSIZE - 1;
const WINDOW: usize = 2 * WSIZE;
/// Zeros after the window so that reads past its end (the hash of the last positions, the
/// 8-byte comparisons) stay in bounds; they never change a result (see `match_len`).
const SLACK: usize = 512;
const HASH_BITS: usize = 15;
const HASH_MASK: usize = (1 << HASH_BITS) - 1;
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;
/// Lookahead needed to find a full-length match and hash the string after it.
const MIN_LOOKAHEAD: usize = MAX_MATCH + MIN_MATCH + 1;
/// Farthest a match may reach back, keeping `MIN_LOOKAHEAD` free at the top of the window.
const MAX_DIST: usize = WSIZE - MIN_LOOKAHEAD;
/// Length-3 matches farther than this cost more than three literals: drop them (lazy parser).
const TOO_FAR: usize = 4096;

/// Which program's deflate to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Flavour {
    /// zlib 1.2.9 – 1.3.1 with `memLevel` 8 and a 32 KiB window (what pigz, Python's `zlib` and
    /// most C programs link).
    Zlib,
    /// GNU gzip 1.x (`deflate.c`/`trees.c` in gzip's own tree; checked against gzip 1.12).
    GnuGzip,
}

/// The tuning table (`configuration_table`), identical in both programs.
#[derive(Clone, Copy)]
struct Config {
    /// Search only a quarter of the chain once a match this long is in hand.
    good: usize,
    /// Lazy parser: do not look for a better match after one this long. Greedy parser: the
    /// longest match whose inner positions are still hashed.
    lazy: usize,
    /// Stop searching at a match this long.
    nice: usize,
    /// Chain links to follow at most.
    chain: usize,
}

const CONFIG: [Config; 10] = [
    Config {
        good: 0,
        lazy: 0,
        nice: 0,
        chain: 0,
    },
    Config {
        good: 4,
        lazy: 4,
        nice: 8,
        chain: 4,
    },
    Config {
        good: 4,
        lazy: 5,
        nice: 16,
        chain: 8,
    },
    Config {
        good: 4,
        lazy: 6,
        nice: 32,
        chain: 32,
    },
    Config {
        good: 4,
        lazy: 4,
        nice: 16,
        chain: 16,
    },
    Config {
        good: 8,
        lazy: 16,
        nice: 32,
        chain: 32,
    },
    Config {
        good: 8,
        lazy: 16,
        nice: 128,
        chain: 128,
    },
    Config {
        good: 8,
        lazy: 32,
        nice: 128,
        chain: 256,
    },
    Config {
        good: 32,
        lazy: 128,
        nice: 258,
        chain: 1024,
    },
    Config {
        good: 32,
        lazy: 258,
        nice: 258,
        chain: 4096,
    },
];

/// GNU gzip's rsync window (`RSYNC_WIN`).
const RSYNC_WIN: usize = 4096;

/// Rolling-sum state of GNU gzip's `--rsyncable`.
struct Rsync {
    sum: u64,
    /// Window index of the pending block end (`rsync_chunk_end`), if any.
    chunk_end: Option<usize>,
}

/// How much input the caller promises.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// More input may follow: stop when the lookahead cannot be refilled.
    Run,
    /// No more input before a block boundary (`Z_BLOCK`): consume everything, end the block.
    Flush,
    /// End of the stream: consume everything, write the last block.
    Finish,
}

enum Step {
    Go,
    NeedMore,
    End,
}

/// The compressor state: window, hash chains, parser state, current block, output bits.
pub(crate) struct Engine {
    flavour: Flavour,
    level: u32,
    cfg: Config,
    window: Vec<u8>,
    head: Vec<u16>,
    prev: Vec<u16>,
    strstart: usize,
    lookahead: usize,
    /// Window index where the current block's input starts; negative once slid past.
    block_start: isize,
    match_start: usize,
    prev_match: usize,
    match_length: usize,
    prev_length: usize,
    match_available: bool,
    /// zlib: positions before `strstart` still to hash once more input arrives.
    insert: usize,
    /// GNU gzip: a read has returned nothing (`eofile`).
    eof: bool,
    /// GNU gzip `--rsyncable`: end a block, byte-aligned, after each position where the sum
    /// of the last 4096 bytes is a multiple of 4096.
    rsync: Option<Rsync>,
    input: Vec<u8>,
    input_pos: usize,
    /// Symbols per block before a forced end.
    max_syms: usize,
    pub(crate) block: Block,
    pub(crate) bits: BitWriter,
}

impl Engine {
    pub(crate) fn new(level: u32, flavour: Flavour) -> Engine {
        let level = level.clamp(1, 9);
        Engine {
            flavour,
            level,
            cfg: CONFIG[level as usize],
            window: vec![0; WINDOW + SLACK],
            head: vec![0; 1 << HASH_BITS],
            prev: vec![0; WSIZE],
            strstart: 0,
            lookahead: 0,
            block_start: 0,
            match_start: 0,
            prev_match: 0,
            match_length: MIN_MATCH - 1,
            prev_length: MIN_MATCH - 1,
            match_available: false,
            insert: 0,
            eof: false,
            rsync: None,
            input: Vec::new(),
            input_pos: 0,
            max_syms: match flavour {
                Flavour::Zlib => (1 << (8 + 6)) - 1,
                Flavour::GnuGzip => 0x8000 - 1,
            },
            block: Block::new(),
            bits: BitWriter::default(),
        }
    }

    /// True until the first byte of input or dictionary has been taken in.
    pub(crate) fn is_fresh(&self) -> bool {
        self.strstart == 0 && self.lookahead == 0 && self.input.len() == self.input_pos
    }

    pub(crate) fn push_input(&mut self, data: &[u8]) {
        if self.input_pos == self.input.len() {
            self.input.clear();
            self.input_pos = 0;
        } else if self.input_pos >= WINDOW {
            self.input.drain(..self.input_pos);
            self.input_pos = 0;
        }
        self.input.extend_from_slice(data);
    }

    /// zlib's `deflateSetDictionary` on a fresh raw stream: the last 32 KiB of `dict` become
    /// history, every string in it is hashed, and its last two positions are left for `insert`.
    pub(crate) fn set_dictionary(&mut self, dict: &[u8]) {
        let dict = &dict[dict.len().saturating_sub(WSIZE)..];
        let saved = std::mem::replace(&mut self.input, dict.to_vec());
        let saved_pos = std::mem::replace(&mut self.input_pos, 0);
        self.fill_window(Mode::Flush);
        while self.lookahead >= MIN_MATCH {
            let mut s = self.strstart;
            for _ in 0..self.lookahead - (MIN_MATCH - 1) {
                self.insert_string(s);
                s += 1;
            }
            self.strstart = s;
            self.lookahead = MIN_MATCH - 1;
            self.fill_window(Mode::Flush);
        }
        self.strstart += self.lookahead;
        self.block_start = self.strstart as isize;
        self.insert = self.lookahead;
        self.lookahead = 0;
        self.match_length = MIN_MATCH - 1;
        self.prev_length = MIN_MATCH - 1;
        self.match_available = false;
        self.input = saved;
        self.input_pos = saved_pos;
    }

    /// Compress what can be compressed under `mode`.
    pub(crate) fn run(&mut self, mode: Mode) {
        if self.level <= 3 {
            self.greedy(mode)
        } else {
            self.lazy(mode)
        }
    }

    #[inline]
    fn hash(&self, s: usize) -> usize {
        let w = &self.window;
        ((w[s] as usize) << 10 ^ (w[s + 1] as usize) << 5 ^ w[s + 2] as usize) & HASH_MASK
    }

    /// Hash the string at `s`, link it in front of its chain, return the previous head.
    #[inline]
    fn insert_string(&mut self, s: usize) -> usize {
        let h = self.hash(s);
        let old = self.head[h];
        self.prev[s & WMASK] = old;
        self.head[h] = s as u16;
        old as usize
    }

    fn slide(&mut self) {
        self.window.copy_within(WSIZE..WINDOW, 0);
        self.match_start = self.match_start.wrapping_sub(WSIZE);
        self.strstart -= WSIZE;
        self.block_start -= WSIZE as isize;
        if let Some(r) = &mut self.rsync {
            r.chunk_end = r.chunk_end.map(|e| e.wrapping_sub(WSIZE));
        }
        if self.insert > self.strstart {
            self.insert = self.strstart;
        }
        for p in self.head.iter_mut().chain(self.prev.iter_mut()) {
            *p = if *p as usize >= WSIZE {
                *p - WSIZE as u16
            } else {
                0
            };
        }
    }

    /// One `fill_window` call. Returns false, having changed nothing, when under `Mode::Run`
    /// the free space cannot be filled completely yet (we wait, as if the whole input were there).
    fn fill_window(&mut self, mode: Mode) -> bool {
        let slide = self.strstart >= WSIZE + MAX_DIST;
        let more = WINDOW - self.lookahead - self.strstart + if slide { WSIZE } else { 0 };
        let avail = self.input.len() - self.input_pos;
        if avail < more && mode == Mode::Run {
            return false;
        }
        if slide {
            self.slide();
        }
        let n = avail.min(more);
        let at = self.strstart + self.lookahead;
        self.window[at..at + n].copy_from_slice(&self.input[self.input_pos..self.input_pos + n]);
        self.input_pos += n;
        match self.flavour {
            Flavour::Zlib => {
                if n == 0 {
                    return true;
                }
                self.lookahead += n;
                // Hash the positions left over from the last flush now that bytes follow them.
                if self.lookahead + self.insert >= MIN_MATCH {
                    let mut s = self.strstart - self.insert;
                    while self.insert > 0 {
                        self.insert_string(s);
                        s += 1;
                        self.insert -= 1;
                        if self.lookahead + self.insert < MIN_MATCH {
                            break;
                        }
                    }
                }
            }
            Flavour::GnuGzip => {
                if n == 0 {
                    // "Don't let garbage pollute the dictionary": zero the 2 bytes after the end.
                    self.eof = true;
                    self.window[at..at + MIN_MATCH - 1].fill(0);
                } else {
                    self.lookahead += n;
                }
            }
        }
        true
    }

    fn ensure_lookahead(&mut self, mode: Mode) -> Step {
        if self.lookahead >= MIN_LOOKAHEAD {
            return Step::Go;
        }
        match self.flavour {
            Flavour::Zlib => {
                if !self.fill_window(mode) {
                    return Step::NeedMore;
                }
                if self.lookahead < MIN_LOOKAHEAD && mode == Mode::Run {
                    return Step::NeedMore;
                }
            }
            Flavour::GnuGzip => {
                while self.lookahead < MIN_LOOKAHEAD && !self.eof {
                    if !self.fill_window(mode) {
                        return Step::NeedMore;
                    }
                }
            }
        }
        if self.lookahead == 0 {
            Step::End
        } else {
            Step::Go
        }
    }

    /// Is a search from `hash_head` allowed at all?
    #[inline]
    fn may_search(&self, hash_head: usize) -> bool {
        hash_head != 0
            && self.strstart.wrapping_sub(hash_head) <= MAX_DIST
            && (self.flavour == Flavour::Zlib || self.strstart <= WINDOW - MIN_LOOKAHEAD)
    }

    /// Length of the common prefix of the strings at `a` and `b`, as both C loops compute it:
    /// bytes 0 and 1 were checked by the caller, byte 2 is taken as equal (equal hashes and
    /// equal first two bytes imply it), the rest is compared up to 258.
    #[inline]
    fn match_len(&self, a: usize, b: usize) -> usize {
        let w = &self.window;
        let mut i = 3;
        while i < MAX_MATCH {
            let x = u64::from_le_bytes(w[a + i..a + i + 8].try_into().unwrap_or([0; 8]));
            let y = u64::from_le_bytes(w[b + i..b + i + 8].try_into().unwrap_or([0; 8]));
            let d = x ^ y;
            if d != 0 {
                return (i + (d.trailing_zeros() / 8) as usize).min(MAX_MATCH);
            }
            i += 8;
        }
        MAX_MATCH
    }

    /// Walk the hash chain from `cur` for the longest match better than `prev_length`
    /// (`longest_match`). Sets `match_start`; the result may be ≤ `prev_length`.
    fn longest_match(&mut self, mut cur: usize) -> usize {
        let scan = self.strstart;
        let mut chain = self.cfg.chain;
        let mut best = self.prev_length;
        let mut nice = self.cfg.nice;
        let limit = scan.saturating_sub(MAX_DIST);
        if self.prev_length >= self.cfg.good {
            chain >>= 2;
        }
        if self.flavour == Flavour::Zlib && nice > self.lookahead {
            nice = self.lookahead;
        }
        let w = &self.window;
        let (mut end1, mut end0) = (w[scan + best - 1], w[scan + best]);
        let (s0, s1) = (w[scan], w[scan + 1]);
        loop {
            let m = cur;
            if w[m + best] == end0 && w[m + best - 1] == end1 && w[m] == s0 && w[m + 1] == s1 {
                let len = self.match_len(scan, m);
                if len > best {
                    self.match_start = m;
                    best = len;
                    if len >= nice {
                        break;
                    }
                    end1 = w[scan + best - 1];
                    end0 = w[scan + best];
                }
            }
            cur = self.prev[cur & WMASK] as usize;
            if cur <= limit {
                break;
            }
            chain -= 1;
            if chain == 0 {
                break;
            }
        }
        match self.flavour {
            Flavour::Zlib => best.min(self.lookahead),
            Flavour::GnuGzip => best,
        }
    }

    /// Record a literal; true if the block must end now.
    #[inline]
    fn tally_lit(&mut self, c: u8) -> bool {
        self.block.literal(c);
        self.block_full()
    }

    #[inline]
    fn tally_dist(&mut self, dist: usize, lc: usize) -> bool {
        self.block.matched(dist, lc);
        self.block_full()
    }

    #[inline]
    fn block_full(&self) -> bool {
        let n = self.block.len();
        if self.flavour == Flavour::GnuGzip && self.level > 2 && n & 0xfff == 0 {
            // GNU gzip ends a block early when it looks well compressed already: fewer matches
            // than half the symbols and a rough size under half the input.
            let in_len = (self.strstart as isize - self.block_start) as u64;
            if (self.block.matches as u64) < n as u64 / 2 && self.block.rough_out_len() < in_len / 2
            {
                return true;
            }
        }
        n == self.max_syms
    }

    /// GNU gzip `--rsyncable`: add the bytes at `start..start + n` to the rolling sum and note
    /// the first position where it hits (`rsync_roll`).
    fn rsync_roll(&mut self, start: usize, n: usize) {
        let Some(r) = &mut self.rsync else { return };
        let w = &self.window;
        let mut start = start;
        let mut n = n;
        if start < RSYNC_WIN {
            // Filling the first 4096 bytes: add only.
            let end = (start + n).min(RSYNC_WIN);
            for &b in &w[start..end] {
                r.sum += b as u64;
            }
            if start + n <= RSYNC_WIN {
                return;
            }
            n -= RSYNC_WIN - start;
            start = RSYNC_WIN;
        }
        for i in start..start + n {
            r.sum = r
                .sum
                .wrapping_add(w[i] as u64)
                .wrapping_sub(w[i - RSYNC_WIN] as u64);
            if r.chunk_end.is_none() && r.sum % RSYNC_WIN as u64 == 0 {
                r.chunk_end = Some(i);
            }
        }
    }

    /// Has `strstart` passed the pending rsync point? Clears it if so.
    fn rsync_hit(&mut self) -> bool {
        let strstart = self.strstart;
        match &mut self.rsync {
            Some(r) if r.chunk_end.is_some_and(|e| strstart > e) => {
                r.chunk_end = None;
                true
            }
            _ => false,
        }
    }

    /// Turn on GNU gzip's `--rsyncable` rule (before any input).
    pub(crate) fn set_rsyncable(&mut self) {
        self.rsync = Some(Rsync {
            sum: 0,
            chunk_end: None,
        });
    }

    /// End a block; with `pad`, reach a byte boundary with an empty stored block if needed
    /// (GNU gzip's `flush_block(…, pad, …)` after an rsync point).
    fn flush_block_padded(&mut self, last: bool, pad: bool) {
        self.flush_block(last);
        if pad && !last && self.bits.pending_bits() != 0 {
            self.bits.put(0, 3);
            self.bits.align();
            self.bits.put_bytes(&[0, 0, 0xff, 0xff]);
        }
    }

    fn flush_block(&mut self, last: bool) {
        let stored = if self.block_start >= 0 {
            Some(&self.window[self.block_start as usize..self.strstart])
        } else {
            None
        };
        self.block.flush(&mut self.bits, stored, last);
        self.block_start = self.strstart as isize;
    }

    fn end_of_input(&mut self, mode: Mode) {
        if self.match_available {
            let c = self.window[self.strstart - 1];
            self.block.literal(c);
            self.match_available = false;
        }
        self.insert = self.strstart.min(MIN_MATCH - 1);
        if mode == Mode::Finish {
            self.flush_block(true);
        } else if self.block.len() > 0 {
            self.flush_block(false);
        }
    }

    /// Levels 4–9 (`deflate_slow` / gzip's `deflate`): take a match only if the next position
    /// does not start a longer one.
    fn lazy(&mut self, mode: Mode) {
        let gnu = self.flavour == Flavour::GnuGzip;
        loop {
            match self.ensure_lookahead(mode) {
                Step::Go => {}
                Step::NeedMore => return,
                Step::End => break,
            }
            let hash_head = if gnu || self.lookahead >= MIN_MATCH {
                self.insert_string(self.strstart)
            } else {
                0
            };
            self.prev_length = self.match_length;
            self.prev_match = self.match_start;
            self.match_length = MIN_MATCH - 1;
            if self.prev_length < self.cfg.lazy && self.may_search(hash_head) {
                self.match_length = self.longest_match(hash_head);
                if gnu && self.match_length > self.lookahead {
                    self.match_length = self.lookahead;
                }
                if self.match_length == MIN_MATCH
                    && self.strstart.wrapping_sub(self.match_start) > TOO_FAR
                {
                    self.match_length = MIN_MATCH - 1;
                }
            }
            if self.prev_length >= MIN_MATCH && self.match_length <= self.prev_length {
                // The previous match stands; hash the strings inside it (zlib: not the last
                // two before the end of the available input).
                let max_insert = self.strstart + self.lookahead - MIN_MATCH;
                let dist = self.strstart.wrapping_sub(1).wrapping_sub(self.prev_match);
                let flush = self.tally_dist(dist, self.prev_length - MIN_MATCH);
                self.lookahead -= self.prev_length - 1;
                // The byte at strstart - 1 was rolled when it became pending.
                self.rsync_roll(self.strstart, self.prev_length - 1);
                for _ in 0..self.prev_length - 2 {
                    self.strstart += 1;
                    if gnu || self.strstart <= max_insert {
                        self.insert_string(self.strstart);
                    }
                }
                self.match_available = false;
                self.match_length = MIN_MATCH - 1;
                self.strstart += 1;
                let pad = self.rsync_hit();
                if flush || pad {
                    self.flush_block_padded(false, pad);
                }
            } else if self.match_available {
                let c = self.window[self.strstart - 1];
                let flush = self.tally_lit(c);
                let pad = self.rsync_hit();
                if flush || pad {
                    self.flush_block_padded(false, pad);
                }
                self.rsync_roll(self.strstart, 1);
                self.strstart += 1;
                self.lookahead -= 1;
            } else {
                if self.rsync_hit() {
                    self.flush_block_padded(false, true);
                }
                self.match_available = true;
                self.rsync_roll(self.strstart, 1);
                self.strstart += 1;
                self.lookahead -= 1;
            }
        }
        self.end_of_input(mode);
    }

    /// Levels 1–3 (`deflate_fast`): take every match; hash inside short ones only.
    fn greedy(&mut self, mode: Mode) {
        let gnu = self.flavour == Flavour::GnuGzip;
        loop {
            match self.ensure_lookahead(mode) {
                Step::Go => {}
                Step::NeedMore => return,
                Step::End => break,
            }
            let hash_head = if gnu || self.lookahead >= MIN_MATCH {
                self.insert_string(self.strstart)
            } else {
                0
            };
            if self.may_search(hash_head) {
                // prev_length stays MIN_MATCH - 1 in the greedy parser.
                self.match_length = self.longest_match(hash_head);
                if gnu && self.match_length > self.lookahead {
                    self.match_length = self.lookahead;
                }
            }
            let flush;
            if self.match_length >= MIN_MATCH {
                let dist = self.strstart.wrapping_sub(self.match_start);
                flush = self.tally_dist(dist, self.match_length - MIN_MATCH);
                self.lookahead -= self.match_length;
                self.rsync_roll(self.strstart, self.match_length);
                if self.match_length <= self.cfg.lazy && (gnu || self.lookahead >= MIN_MATCH) {
                    for _ in 0..self.match_length - 1 {
                        self.strstart += 1;
                        self.insert_string(self.strstart);
                    }
                    self.strstart += 1;
                } else {
                    self.strstart += self.match_length;
                }
                self.match_length = 0;
            } else {
                let c = self.window[self.strstart];
                flush = self.tally_lit(c);
                self.rsync_roll(self.strstart, 1);
                self.lookahead -= 1;
                self.strstart += 1;
            }
            let pad = self.rsync_hit();
            if flush || pad {
                self.flush_block_padded(false, pad);
            }
        }
        self.end_of_input(mode);
    }
}
