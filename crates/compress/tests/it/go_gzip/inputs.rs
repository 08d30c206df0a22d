//! The generated inputs of the Go gzip fixtures (`testdata/compress/go/`).
//!
//! Deterministic from fixed seeds, so only Go's outputs (or their digests) are committed.
//! Shared by the test (`tests/it/go_gzip.rs`) and by the example that `make.sh` runs to write
//! the inputs for the Go program; `expected.tsv` records each input's sha256, so a change
//! here cannot go unnoticed.

#![allow(dead_code)]

/// splitmix64: tiny, good enough, and trivially portable.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the tiny modulo bias does not matter here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

const WORDS: &[&str] = &[
    "the",
    "layer",
    "digest",
    "of",
    "a",
    "tarball",
    "is",
    "not",
    "what",
    "docker",
    "pushes",
    "compressed",
    "blob",
    "and",
    "config",
    "manifest",
    "registry",
    "image",
    "rootfs",
    "build",
    "from",
    "scratch",
    "add",
    "copy",
    "file",
    "directory",
    "symlink",
    "hardlink",
    "owner",
    "mode",
    "mtime",
    "header",
    "block",
    "window",
    "match",
    "literal",
    "distance",
    "length",
    "huffman",
    "code",
    "tree",
    "stored",
    "dynamic",
    "fixed",
    "level",
    "default",
    "speed",
    "best",
    "gzip",
    "deflate",
    "flate",
    "golang",
    "moby",
    "containerd",
    "buildkit",
    "engine",
    "verify",
    "reproduce",
    "byte",
    "for",
    "every",
    "with",
    "without",
    "under",
    "/usr/lib",
    "/etc/passwd",
    "0644",
    "0755",
    "root",
    "debian",
    "bookworm",
    "trixie",
];

/// Pseudo-English text: words, numbers, punctuation and line breaks.
pub fn text(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 32);
    let mut col = 0;
    while out.len() < n {
        let w = WORDS[r.below(WORDS.len() as u64) as usize];
        match r.below(20) {
            0 => out.extend_from_slice(format!("{} ", r.below(100_000)).as_bytes()),
            1 => out.extend_from_slice(b", "),
            2 => out.extend_from_slice(b". "),
            _ => {}
        }
        out.extend_from_slice(w.as_bytes());
        col += w.len() + 1;
        if col > 60 + r.below(30) as usize {
            out.push(b'\n');
            col = 0;
        } else {
            out.push(b' ');
        }
    }
    out.truncate(n);
    out
}

/// Random bytes from an alphabet of `k` symbols (many short matches, few long ones).
pub fn low_entropy(seed: u64, n: usize, k: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| b'a' + r.below(k) as u8).collect()
}

/// Runs of one byte (lengths 1..=1000) between short random stretches: long and
/// overlapping matches, lengths at and around 258.
pub fn runs(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n + 1000);
    while out.len() < n {
        let b = r.next_u64() as u8;
        let len = 1 + r.below(1000) as usize;
        out.extend(std::iter::repeat_n(b, len));
        let k = r.below(8) as usize;
        out.extend(r.bytes(k));
    }
    out.truncate(n);
    out
}

/// Random segments repeated at distances around the 32 KiB window limit and the 4096-byte
/// limit for 4-byte matches.
pub fn far_repeats(seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    for dist in [
        32_766usize,
        32_767,
        32_768,
        32_769,
        32_770,
        4_095,
        4_096,
        4_097,
        4_098,
    ] {
        for seg_len in [4usize, 5, 40] {
            let seg = r.bytes(seg_len);
            let start = out.len();
            out.extend_from_slice(&seg);
            out.extend(r.bytes(dist - seg_len));
            debug_assert_eq!(out.len() - start, dist);
            out.extend_from_slice(&seg);
            out.extend(r.bytes(100));
        }
    }
    out
}

/// Text, random and zero stretches of varied sizes in one stream (block-type changes, stored
/// fallbacks lost to the window slide).
pub fn mixed(seed: u64, n: usize) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while out.len() < n {
        let len = 1 + r.below(70_000) as usize;
        match r.below(4) {
            0 => out.extend(text(seed ^ i, len)),
            1 => out.extend(r.bytes(len)),
            2 => out.extend(std::iter::repeat_n(0u8, len)),
            _ => out.extend(low_entropy(seed ^ i, len, 3)),
        }
        i += 1;
    }
    out.truncate(n);
    out
}

/// Random bytes with the same 5 bytes at offsets 32 506 and 65 274 (32 768 apart): the one
/// place where Go's output depends on write sizes (see the `compress::go` docs). With
/// 65 535-byte writes Go slides its window one step early, which changes its output; with
/// 32 KiB writes it does not, and that is the output we must match.
pub fn slide_corner() -> Vec<u8> {
    let mut d = Rng::new(300).bytes(100_000);
    d[32_506..32_511].copy_from_slice(b"QWXYZ");
    d[65_274..65_279].copy_from_slice(b"QWXYZ");
    d
}

/// Every generated input, by fixture name.
pub fn generated() -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = vec![
        ("empty".into(), Vec::new()),
        ("one-byte".into(), b"a".to_vec()),
        ("hello".into(), b"hello, layerproof\n".to_vec()),
        ("zeros-1m".into(), vec![0; 1 << 20]),
        ("abc-300k".into(), b"abc".repeat(100_000)),
        ("random-200k".into(), Rng::new(1).bytes(200_000)),
        ("text-1m".into(), text(2, 1 << 20)),
        ("lowent4-300k".into(), low_entropy(3, 300_000, 4)),
        ("lowent2-100k".into(), low_entropy(4, 100_000, 2)),
        ("runs-500k".into(), runs(5, 500_000)),
        ("far-repeats".into(), far_repeats(6)),
        ("mixed-1m".into(), mixed(7, 1 << 20)),
        ("slide-corner".into(), slide_corner()),
    ];
    // Sizes around level 1's small-block thresholds, the window, the buffer, the block size
    // and the 262-byte lookahead.
    for n in [
        2usize, 3, 4, 5, 16, 17, 127, 128, 129, 258, 262, 263, 1000, 16_384, 32_767, 32_768,
        32_769, 65_273, 65_274, 65_275, 65_535, 65_536, 65_537, 65_798, 98_304, 131_073,
    ] {
        v.push((format!("text-{n}"), text(100 + n as u64, n)));
    }
    for n in [16_384usize, 16_385, 65_535, 65_536, 98_304] {
        v.push((format!("random-{n}"), Rng::new(200 + n as u64).bytes(n)));
    }
    v
}
