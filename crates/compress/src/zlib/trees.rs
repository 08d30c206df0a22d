//! Huffman code construction and block emission, reproducing the choices of zlib's and GNU
//! gzip's `trees.c` (the two files share their algorithm; only *when* a block ends differs, and
//! that lives in the caller).
//!
//! What must match the reference bit for bit, and why each rule is here:
//!
//! * **Tree shape.** Codes are built with a binary heap whose ties are broken by subtree depth
//!   (the shallower subtree is "smaller"), and internal nodes are numbered from `elems` upwards.
//!   Any other valid Huffman construction gives codes of the same total cost but different
//!   lengths, hence different bytes.
//! * **Length limit.** When a length exceeds the maximum (15, or 7 for the code-length code),
//!   the counts per length are repaired by moving leaves down ("overflow fix-up"), then lengths
//!   are handed out again to leaves in order of increasing frequency, as the heap left them.
//! * **At least two codes.** A tree with fewer than two used symbols gets fake symbols 0/1 (or 0)
//!   with frequency 1, whose cost is taken back out of the size estimate.
//! * **Block type.** With `opt` = dynamic size and `static` = fixed-code size in bytes (both
//!   including the 3 header bits, rounded up), fixed wins ties (`static <= opt`), and a stored
//!   block is chosen when `stored_len + 4 <= min(opt, static)` *and* the block's input is still
//!   in the window.
//! * **Code-length RLE.** Runs are encoded with codes 16/17/18 using the `max_count`/`min_count`
//!   state machine of `scan_tree`/`send_tree`, literal/length and distance lengths separately.

use super::bits::BitWriter;

pub(crate) const LITERALS: usize = 256;
pub(crate) const END_BLOCK: usize = 256;
pub(crate) const LENGTH_CODES: usize = 29;
/// Literal/length codes: 256 literals, end of block, 29 length codes.
pub(crate) const L_CODES: usize = LITERALS + 1 + LENGTH_CODES;
pub(crate) const D_CODES: usize = 30;
pub(crate) const BL_CODES: usize = 19;
const HEAP_SIZE: usize = 2 * L_CODES + 1;
const MAX_BITS: usize = 15;
const MAX_BL_BITS: usize = 7;
const REP_3_6: usize = 16;
const REPZ_3_10: usize = 17;
const REPZ_11_138: usize = 18;

pub(crate) const EXTRA_LBITS: [u8; LENGTH_CODES] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
pub(crate) const EXTRA_DBITS: [u8; D_CODES] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];
const EXTRA_BLBITS: [u8; BL_CODES] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 3, 7];
/// The order in which code-length code lengths are sent (RFC 1951 §3.2.7).
pub(crate) const BL_ORDER: [usize; BL_CODES] = [
    16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15,
];

/// Lookup tables derived once from the extra-bit tables.
pub(crate) struct Tables {
    /// match length − 3 → length code (0..29).
    pub(crate) length_code: [u8; 256],
    pub(crate) base_length: [u16; LENGTH_CODES],
    /// distance − 1 → distance code, in zlib's two-part form (`< 256` direct, else `256 + (d >> 7)`).
    pub(crate) dist_code: [u8; 512],
    pub(crate) base_dist: [u16; D_CODES],
    static_ltree: Vec<Code>,
    static_dtree: Vec<Code>,
}

#[derive(Clone, Copy, Default, Debug)]
struct Code {
    code: u16,
    len: u16,
}

impl Tables {
    fn new() -> Tables {
        let mut length_code = [0u8; 256];
        let mut base_length = [0u16; LENGTH_CODES];
        let mut length = 0usize;
        for code in 0..LENGTH_CODES - 1 {
            base_length[code] = length as u16;
            for _ in 0..(1usize << EXTRA_LBITS[code]) {
                length_code[length] = code as u8;
                length += 1;
            }
        }
        // Length 258 (index 255) has its own code with no extra bits, overriding the last
        // slot that code 27 would otherwise claim.
        length_code[255] = (LENGTH_CODES - 1) as u8;
        base_length[LENGTH_CODES - 1] = 255;

        let mut dist_code = [0u8; 512];
        let mut base_dist = [0u16; D_CODES];
        let mut dist = 0usize;
        for code in 0..16 {
            base_dist[code] = dist as u16;
            for _ in 0..(1usize << EXTRA_DBITS[code]) {
                dist_code[dist] = code as u8;
                dist += 1;
            }
        }
        dist >>= 7;
        for code in 16..D_CODES {
            base_dist[code] = (dist << 7) as u16;
            for _ in 0..(1usize << (EXTRA_DBITS[code] - 7)) {
                dist_code[256 + dist] = code as u8;
                dist += 1;
            }
        }

        // Fixed codes (RFC 1951 §3.2.6), with codes assigned the canonical way over all 288.
        let mut lens = [0u16; L_CODES + 2];
        for (n, l) in lens.iter_mut().enumerate() {
            *l = match n {
                0..=143 => 8,
                144..=255 => 9,
                256..=279 => 7,
                _ => 8,
            };
        }
        let mut bl_count = [0u16; MAX_BITS + 1];
        for &l in &lens {
            bl_count[l as usize] += 1;
        }
        let codes = canonical_codes(&lens, &bl_count);
        let static_ltree = lens
            .iter()
            .zip(codes)
            .map(|(&len, code)| Code { code, len })
            .collect();
        let static_dtree = (0..D_CODES)
            .map(|n| Code {
                code: reverse(n as u16, 5),
                len: 5,
            })
            .collect();
        Tables {
            length_code,
            base_length,
            dist_code,
            base_dist,
            static_ltree,
            static_dtree,
        }
    }

    /// Distance code of `dist - 1`.
    #[inline]
    pub(crate) fn d_code(&self, dist_minus_1: usize) -> usize {
        if dist_minus_1 < 256 {
            self.dist_code[dist_minus_1] as usize
        } else {
            self.dist_code[256 + (dist_minus_1 >> 7)] as usize
        }
    }
}

pub(crate) fn tables() -> &'static Tables {
    static TABLES: std::sync::OnceLock<Tables> = std::sync::OnceLock::new();
    TABLES.get_or_init(Tables::new)
}

fn reverse(code: u16, len: u16) -> u16 {
    code.reverse_bits() >> (16 - len)
}

/// Canonical codes from lengths (RFC 1951 §3.2.2), bit-reversed for LSB-first output.
fn canonical_codes(lens: &[u16], bl_count: &[u16; MAX_BITS + 1]) -> Vec<u16> {
    let mut next_code = [0u16; MAX_BITS + 1];
    let mut code = 0u16;
    for bits in 1..=MAX_BITS {
        code = (code.wrapping_add(bl_count[bits - 1])) << 1;
        next_code[bits] = code;
    }
    lens.iter()
        .map(|&len| {
            if len == 0 {
                0
            } else {
                let c = next_code[len as usize];
                next_code[len as usize] = c.wrapping_add(1);
                reverse(c, len)
            }
        })
        .collect()
}

/// One dynamic tree under construction: leaves `0..elems`, internal nodes after them.
struct Tree {
    freq: Vec<u32>,
    dad: Vec<u16>,
    len: Vec<u16>,
    code: Vec<u16>,
    elems: usize,
    max_code: usize,
}

impl Tree {
    fn new(elems: usize) -> Tree {
        let n = 2 * elems + 1;
        Tree {
            freq: vec![0; n],
            dad: vec![0; n],
            len: vec![0; n + 1],
            code: vec![0; n],
            elems,
            max_code: 0,
        }
    }
}

/// What a tree contributes to the size estimate.
struct Shape<'a> {
    stree: Option<&'a [Code]>,
    extra: &'a [u8],
    extra_base: usize,
    max_length: usize,
}

/// Scratch shared by the three tree builds of a block (zlib keeps these in its state).
struct Heap {
    heap: [usize; HEAP_SIZE],
    len: usize,
    max: usize,
    depth: [u8; HEAP_SIZE],
    bl_count: [u16; MAX_BITS + 1],
}

impl Heap {
    /// `n` sorts before `m`: lower frequency, or equal frequency and not deeper.
    #[inline]
    fn smaller(&self, t: &Tree, n: usize, m: usize) -> bool {
        t.freq[n] < t.freq[m] || (t.freq[n] == t.freq[m] && self.depth[n] <= self.depth[m])
    }

    fn down(&mut self, t: &Tree, mut k: usize) {
        let v = self.heap[k];
        let mut j = k << 1;
        while j <= self.len {
            if j < self.len && self.smaller(t, self.heap[j + 1], self.heap[j]) {
                j += 1;
            }
            if self.smaller(t, v, self.heap[j]) {
                break;
            }
            self.heap[k] = self.heap[j];
            k = j;
            j <<= 1;
        }
        self.heap[k] = v;
    }
}

/// Sizes in bits of the block under the dynamic and the fixed codes.
#[derive(Default)]
struct Cost {
    opt_len: u64,
    static_len: u64,
}

fn build_tree(t: &mut Tree, shape: &Shape<'_>, h: &mut Heap, cost: &mut Cost) {
    h.len = 0;
    h.max = HEAP_SIZE;
    let mut max_code: isize = -1;
    for n in 0..t.elems {
        if t.freq[n] != 0 {
            h.len += 1;
            h.heap[h.len] = n;
            max_code = n as isize;
            h.depth[n] = 0;
        } else {
            t.len[n] = 0;
        }
    }
    // Deflate needs at least one distance code and one bit per code: force two used symbols.
    while h.len < 2 {
        let node = if max_code < 2 {
            max_code += 1;
            max_code as usize
        } else {
            0
        };
        h.len += 1;
        h.heap[h.len] = node;
        t.freq[node] = 1;
        h.depth[node] = 0;
        // The fake symbol costs nothing in the real block (symbols 0 and 1 have no extra bits).
        cost.opt_len = cost.opt_len.wrapping_sub(1);
        if let Some(st) = shape.stree {
            cost.static_len = cost.static_len.wrapping_sub(st[node].len as u64);
        }
    }
    t.max_code = max_code as usize;
    for n in (1..=h.len / 2).rev() {
        h.down(t, n);
    }
    let mut node = t.elems;
    loop {
        // Take the two least frequent nodes, keeping them in frequency order at the heap's top.
        let n = h.heap[1];
        h.heap[1] = h.heap[h.len];
        h.len -= 1;
        h.down(t, 1);
        let m = h.heap[1];
        h.max -= 1;
        h.heap[h.max] = n;
        h.max -= 1;
        h.heap[h.max] = m;
        t.freq[node] = t.freq[n] + t.freq[m];
        h.depth[node] = h.depth[n].max(h.depth[m]).wrapping_add(1);
        t.dad[n] = node as u16;
        t.dad[m] = node as u16;
        h.heap[1] = node;
        node += 1;
        h.down(t, 1);
        if h.len < 2 {
            break;
        }
    }
    h.max -= 1;
    h.heap[h.max] = h.heap[1];
    gen_bitlen(t, shape, h, cost);
    let lens = &t.len[..=t.max_code];
    let codes = canonical_codes(lens, &h.bl_count);
    t.code[..codes.len()].copy_from_slice(&codes);
}

fn gen_bitlen(t: &mut Tree, shape: &Shape<'_>, h: &mut Heap, cost: &mut Cost) {
    let max_length = shape.max_length;
    h.bl_count = [0; MAX_BITS + 1];
    // Parents come before children in heap[max..]: lengths flow from the root down.
    t.len[h.heap[h.max]] = 0;
    let mut overflow = 0usize;
    for hi in h.max + 1..HEAP_SIZE {
        let n = h.heap[hi];
        let mut bits = t.len[t.dad[n] as usize] as usize + 1;
        if bits > max_length {
            bits = max_length;
            overflow += 1;
        }
        t.len[n] = bits as u16;
        if n > t.max_code {
            continue; // internal node
        }
        h.bl_count[bits] += 1;
        let xbits = if n >= shape.extra_base {
            shape.extra[n - shape.extra_base] as usize
        } else {
            0
        };
        let f = t.freq[n] as u64;
        cost.opt_len = cost.opt_len.wrapping_add(f * (bits + xbits) as u64);
        if let Some(st) = shape.stree {
            cost.static_len = cost
                .static_len
                .wrapping_add(f * (st[n].len as usize + xbits) as u64);
        }
    }
    if overflow == 0 {
        return;
    }
    // Repair the per-length counts: for each pair of overflowing leaves, move the deepest
    // non-maximal leaf one level down and hang an overflowing leaf beside it.
    loop {
        let mut bits = max_length - 1;
        while h.bl_count[bits] == 0 {
            bits -= 1;
        }
        h.bl_count[bits] -= 1;
        h.bl_count[bits + 1] += 2;
        h.bl_count[max_length] -= 1;
        if overflow <= 2 {
            break;
        }
        overflow -= 2;
    }
    // Hand the lengths out again, longest to the least frequent leaves (heap order).
    let mut hi = HEAP_SIZE;
    for bits in (1..=max_length).rev() {
        let mut n = h.bl_count[bits];
        while n != 0 {
            hi -= 1;
            let m = h.heap[hi];
            if m > t.max_code {
                continue;
            }
            if t.len[m] as usize != bits {
                let delta = bits as i64 - t.len[m] as i64;
                cost.opt_len = cost.opt_len.wrapping_add((delta * t.freq[m] as i64) as u64);
                t.len[m] = bits as u16;
            }
            n -= 1;
        }
    }
}

/// Count the code-length symbols a tree's lengths will need (`scan_tree`).
fn scan_tree(t: &mut Tree, bl: &mut Tree) {
    let max_code = t.max_code;
    let mut prevlen: i32 = -1;
    let mut nextlen = t.len[0] as i32;
    let mut count = 0;
    let (mut max_count, mut min_count) = if nextlen == 0 { (138, 3) } else { (7, 4) };
    t.len[max_code + 1] = 0xffff; // guard: never equal to a real length
    for n in 0..=max_code {
        let curlen = nextlen;
        nextlen = t.len[n + 1] as i32;
        count += 1;
        if count < max_count && curlen == nextlen {
            continue;
        } else if count < min_count {
            bl.freq[curlen as usize] += count as u32;
        } else if curlen != 0 {
            if curlen != prevlen {
                bl.freq[curlen as usize] += 1;
            }
            bl.freq[REP_3_6] += 1;
        } else if count <= 10 {
            bl.freq[REPZ_3_10] += 1;
        } else {
            bl.freq[REPZ_11_138] += 1;
        }
        count = 0;
        prevlen = curlen;
        (max_count, min_count) = if nextlen == 0 {
            (138, 3)
        } else if curlen == nextlen {
            (6, 3)
        } else {
            (7, 4)
        };
    }
}

/// Send a tree's lengths with the code-length code (`send_tree`); same state machine as
/// [`scan_tree`], whose guard is still in place.
fn send_tree(t: &Tree, bl: &Tree, bw: &mut BitWriter) {
    let max_code = t.max_code;
    let send = |bw: &mut BitWriter, c: usize| bw.put(bl.code[c] as u32, bl.len[c] as u32);
    let mut prevlen: i32 = -1;
    let mut nextlen = t.len[0] as i32;
    let mut count = 0;
    let (mut max_count, mut min_count) = if nextlen == 0 { (138, 3) } else { (7, 4) };
    for n in 0..=max_code {
        let curlen = nextlen;
        nextlen = t.len[n + 1] as i32;
        count += 1;
        if count < max_count && curlen == nextlen {
            continue;
        } else if count < min_count {
            for _ in 0..count {
                send(bw, curlen as usize);
            }
        } else if curlen != 0 {
            if curlen != prevlen {
                send(bw, curlen as usize);
                count -= 1;
            }
            send(bw, REP_3_6);
            bw.put(count as u32 - 3, 2);
        } else if count <= 10 {
            send(bw, REPZ_3_10);
            bw.put(count as u32 - 3, 3);
        } else {
            send(bw, REPZ_11_138);
            bw.put(count as u32 - 11, 7);
        }
        count = 0;
        prevlen = curlen;
        (max_count, min_count) = if nextlen == 0 {
            (138, 3)
        } else if curlen == nextlen {
            (6, 3)
        } else {
            (7, 4)
        };
    }
}

/// Matches and literals of the current block, with their frequencies.
pub(crate) struct Block {
    /// `dist << 8 | lc`: dist 0 = literal `lc`, else match of distance `dist`, length `lc + 3`.
    syms: Vec<u32>,
    /// Matches in `syms` (GNU gzip's `last_dist`).
    pub(crate) matches: usize,
    ltree: Tree,
    dtree: Tree,
    bltree: Tree,
    heap: Box<Heap>,
}

impl Block {
    pub(crate) fn new() -> Block {
        let mut b = Block {
            syms: Vec::with_capacity(1 << 15),
            matches: 0,
            ltree: Tree::new(L_CODES),
            dtree: Tree::new(D_CODES),
            bltree: Tree::new(BL_CODES),
            heap: Box::new(Heap {
                heap: [0; HEAP_SIZE],
                len: 0,
                max: 0,
                depth: [0; HEAP_SIZE],
                bl_count: [0; MAX_BITS + 1],
            }),
        };
        b.reset();
        b
    }

    fn reset(&mut self) {
        self.ltree.freq[..L_CODES].fill(0);
        self.dtree.freq[..D_CODES].fill(0);
        self.bltree.freq[..BL_CODES].fill(0);
        self.ltree.freq[END_BLOCK] = 1;
        self.syms.clear();
        self.matches = 0;
    }

    /// Symbols so far (zlib's `sym_next / 3`, GNU gzip's `last_lit`).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.syms.len()
    }

    #[inline]
    pub(crate) fn literal(&mut self, c: u8) {
        self.syms.push(c as u32);
        self.ltree.freq[c as usize] += 1;
    }

    /// A match of `dist` (1..=32768) and `len - 3` (0..=255).
    #[inline]
    pub(crate) fn matched(&mut self, dist: usize, lc: usize) {
        let t = tables();
        self.syms.push(((dist as u32) << 8) | lc as u32);
        self.matches += 1;
        self.ltree.freq[t.length_code[lc] as usize + LITERALS + 1] += 1;
        self.dtree.freq[t.d_code(dist - 1)] += 1;
    }

    /// GNU gzip's estimate of the compressed size so far, in bytes (`ct_tally`'s heuristic):
    /// 8 bits per symbol plus 5 + extra bits per distance.
    pub(crate) fn rough_out_len(&self) -> u64 {
        let mut bits = self.syms.len() as u64 * 8;
        for (code, &xb) in EXTRA_DBITS.iter().enumerate() {
            bits += self.dtree.freq[code] as u64 * (5 + xb as u64);
        }
        bits >> 3
    }

    /// End the block: choose stored, fixed or dynamic codes as `trees.c` does, write it, and
    /// start a new one. `stored` is the block's input if it is still in the window.
    pub(crate) fn flush(&mut self, bw: &mut BitWriter, stored: Option<&[u8]>, last: bool) {
        let stored_len = stored.map_or(0, |s| s.len()) as u64;
        let mut cost = Cost::default();
        let lshape = Shape {
            stree: Some(&tables().static_ltree),
            extra: &EXTRA_LBITS,
            extra_base: LITERALS + 1,
            max_length: MAX_BITS,
        };
        let dshape = Shape {
            stree: Some(&tables().static_dtree),
            extra: &EXTRA_DBITS,
            extra_base: 0,
            max_length: MAX_BITS,
        };
        build_tree(&mut self.ltree, &lshape, &mut self.heap, &mut cost);
        build_tree(&mut self.dtree, &dshape, &mut self.heap, &mut cost);
        // Code-length code: its frequencies come from the run-length scan of both trees.
        scan_tree(&mut self.ltree, &mut self.bltree);
        scan_tree(&mut self.dtree, &mut self.bltree);
        let blshape = Shape {
            stree: None,
            extra: &EXTRA_BLBITS,
            extra_base: 0,
            max_length: MAX_BL_BITS,
        };
        build_tree(&mut self.bltree, &blshape, &mut self.heap, &mut cost);
        let mut max_blindex = BL_CODES - 1;
        while max_blindex >= 3 && self.bltree.len[BL_ORDER[max_blindex]] == 0 {
            max_blindex -= 1;
        }
        cost.opt_len = cost
            .opt_len
            .wrapping_add(3 * (max_blindex as u64 + 1) + 5 + 5 + 4);

        let mut opt_lenb = cost.opt_len.wrapping_add(3 + 7) >> 3;
        let static_lenb = cost.static_len.wrapping_add(3 + 7) >> 3;
        if static_lenb <= opt_lenb {
            opt_lenb = static_lenb;
        }
        let last_bit = last as u32;
        match stored {
            Some(data) if stored_len + 4 <= opt_lenb => {
                bw.put(last_bit, 3); // stored block type 00
                bw.align();
                // Lengths are 16-bit fields; a stored block never exceeds the window.
                let n = data.len() as u16;
                bw.put_bytes(&n.to_le_bytes());
                bw.put_bytes(&(!n).to_le_bytes());
                bw.put_bytes(data);
            }
            _ if static_lenb == opt_lenb => {
                bw.put((1 << 1) | last_bit, 3);
                let t = tables();
                self.compress(bw, &t.static_ltree, &t.static_dtree);
            }
            _ => {
                bw.put((2 << 1) | last_bit, 3);
                let lcodes = self.ltree.max_code + 1;
                let dcodes = self.dtree.max_code + 1;
                bw.put(lcodes as u32 - 257, 5);
                bw.put(dcodes as u32 - 1, 5);
                bw.put(max_blindex as u32 + 1 - 4, 4);
                for &k in &BL_ORDER[..=max_blindex] {
                    bw.put(self.bltree.len[k] as u32, 3);
                }
                send_tree(&self.ltree, &self.bltree, bw);
                send_tree(&self.dtree, &self.bltree, bw);
                let lt: Vec<Code> = (0..L_CODES)
                    .map(|n| Code {
                        code: self.ltree.code[n],
                        len: self.ltree.len[n],
                    })
                    .collect();
                let dt: Vec<Code> = (0..D_CODES)
                    .map(|n| Code {
                        code: self.dtree.code[n],
                        len: self.dtree.len[n],
                    })
                    .collect();
                self.compress(bw, &lt, &dt);
            }
        }
        self.reset();
        if last {
            bw.align();
        }
    }

    fn compress(&self, bw: &mut BitWriter, lt: &[Code], dt: &[Code]) {
        let t = tables();
        for &s in &self.syms {
            let dist = (s >> 8) as usize;
            let lc = (s & 0xff) as usize;
            if dist == 0 {
                let c = lt[lc];
                bw.put(c.code as u32, c.len as u32);
            } else {
                let code = t.length_code[lc] as usize;
                let c = lt[code + LITERALS + 1];
                bw.put(c.code as u32, c.len as u32);
                let xb = EXTRA_LBITS[code] as u32;
                if xb != 0 {
                    bw.put((lc - t.base_length[code] as usize) as u32, xb);
                }
                let d = dist - 1;
                let code = t.d_code(d);
                let c = dt[code];
                bw.put(c.code as u32, c.len as u32);
                let xb = EXTRA_DBITS[code] as u32;
                if xb != 0 {
                    bw.put((d - t.base_dist[code] as usize) as u32, xb);
                }
            }
        }
        let c = lt[END_BLOCK];
        bw.put(c.code as u32, c.len as u32);
    }
}
