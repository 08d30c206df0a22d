//! Our zlib-family encoders against the real pigz and GNU gzip.
//!
//! `testdata/compress/zlib/cases.tsv` (made by `make.sh` with the machine's pigz and gzip)
//! lists, for every input and variant, the sha256 of what the real tool wrote; outputs of at
//! most 48 KiB are also committed under `out/`. Inputs are regenerated here from the recipes of
//! `gen_inputs.py` (and checked against the recorded sha256), so the test is hermetic.

use std::io::Write;
use std::path::{Path, PathBuf};

use layerproof_compress::zlib::{self, Deflater, Encoder, Error, Flavour};
use layerproof_compress::{gnu_gzip, pigz};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compress/zlib")
}

/// One row of cases.tsv.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub recipe: String,
    pub size: usize,
    pub sha: String,
    pub variant: String,
    pub out_size: usize,
    pub out_sha: String,
    pub committed: Option<PathBuf>,
}

pub fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(dir().join("cases.tsv")).expect("cases.tsv");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 8, "bad line {l:?}");
            Case {
                name: f[0].into(),
                recipe: f[1].into(),
                size: f[2].parse().unwrap(),
                sha: f[3].into(),
                variant: f[4].into(),
                out_size: f[5].parse().unwrap(),
                out_sha: f[6].into(),
                committed: (f[7] != "-").then(|| dir().join(f[7])),
            }
        })
        .collect()
}

pub fn sha(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

/// `gen_inputs.py`'s generator.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

const VOCAB: &str = "the of and to in is that for it as was with be by on not he this are or \
    his from at which but have an had they you were their one all we can her has there been if \
    more when will would who so no layer tar gzip deflate block window match debian rootfs \
    image blob digest pigz zlib docker layer";

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut g = SplitMix64(seed);
    let mut out = Vec::with_capacity(n + 8);
    while out.len() < n {
        out.extend_from_slice(&g.next().to_le_bytes());
    }
    out.truncate(n);
    out
}

fn text(n: usize, seed: u64) -> Vec<u8> {
    let vocab: Vec<&str> = VOCAB.split_whitespace().collect();
    assert_eq!(vocab.len(), 64);
    let mut g = SplitMix64(seed);
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        let r = g.next();
        out.extend_from_slice(vocab[(r % 64) as usize].as_bytes());
        out.push(match (r >> 8) % 12 {
            0 => b'\n',
            _ => b' ',
        });
    }
    out.truncate(n);
    out
}

/// The input a recipe stands for (see gen_inputs.py).
pub fn input(recipe: &str) -> Vec<u8> {
    let mut parts = recipe.splitn(3, ':');
    let kind = parts.next().unwrap();
    let arg = parts.next().unwrap_or("");
    if kind == "file" {
        return std::fs::read(dir().join(arg)).unwrap();
    }
    let n: usize = arg.parse().unwrap_or(0);
    let seed: u64 = parts.next().map_or(0, |s| s.parse().unwrap());
    match kind {
        "empty" => Vec::new(),
        "byte" => b"a".to_vec(),
        "zeros" => vec![0; n],
        "abc" => b"abc".iter().copied().cycle().take(n).collect(),
        "random" => random_bytes(n, seed),
        "text" => text(n, seed),
        "mixed" => {
            let mut out = Vec::new();
            let mut i = 0;
            while out.len() < n {
                let s = seed + i;
                out.extend(if i % 2 == 0 {
                    text(4096, s)
                } else {
                    random_bytes(4096, s)
                });
                i += 1;
            }
            out.truncate(n);
            out
        }
        _ => panic!("unknown recipe {recipe}"),
    }
}

/// Our output for a variant of cases.tsv.
pub fn ours(variant: &str, name: &str, data: &[u8]) -> Vec<u8> {
    let pigz_with = |level: u32, single: bool, named: bool| {
        let mut o = pigz::Options {
            level,
            single_thread: single,
            ..pigz::Options::best()
        };
        if named {
            o.name = Some(name.as_bytes().to_vec());
        }
        pigz::compress(data, Vec::new(), &o).unwrap()
    };
    match variant {
        "pigz-9" => pigz_with(9, false, false),
        "pigz-9-named" => pigz_with(9, false, true),
        "pigz-6" => pigz_with(6, false, false),
        "pigz-1" => pigz_with(1, false, false),
        "pigz-1-p1" => pigz_with(1, true, false),
        // Python 3.11's gzip.compress(data, level, mtime=0): zlib's own gzip header.
        "python-6" => {
            zlib::compress_gzip(data, Vec::new(), 6, &[31, 139, 8, 0, 0, 0, 0, 0, 0, 3]).unwrap()
        }
        "python-9" => {
            zlib::compress_gzip(data, Vec::new(), 9, &[31, 139, 8, 0, 0, 0, 0, 0, 2, 3]).unwrap()
        }
        v => {
            let rest = v.strip_prefix("gzip-").expect(v);
            let (level, rsyncable) = match rest.strip_suffix("-rsyncable") {
                Some(l) => (l, true),
                None => (rest, false),
            };
            let opts = gnu_gzip::Options {
                level: level.parse().unwrap(),
                rsyncable,
            };
            gnu_gzip::compress_with(data, Vec::new(), &opts).unwrap()
        }
    }
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

/// Regenerate, re-encode, compare; returns a failure message.
fn check(c: &Case) -> Option<String> {
    let data = input(&c.recipe);
    if data.len() != c.size || sha(&data) != c.sha {
        return Some(format!(
            "{}: regenerated input differs from the recorded one",
            c.name
        ));
    }
    let got = ours(&c.variant, &c.name, &data);
    if let Some(path) = &c.committed {
        let want = std::fs::read(path).unwrap();
        if sha(&want) != c.out_sha {
            return Some(format!(
                "{}: committed fixture does not match cases.tsv",
                path.display()
            ));
        }
        if got != want {
            let at = first_difference(&got, &want);
            return Some(format!(
                "{} {}: {} bytes, real tool {} bytes, first difference at byte {at}",
                c.name,
                c.variant,
                got.len(),
                want.len()
            ));
        }
    }
    if got.len() != c.out_size || sha(&got) != c.out_sha {
        return Some(format!(
            "{} {}: {} bytes sha256 {}, real tool {} bytes sha256 {}",
            c.name,
            c.variant,
            got.len(),
            sha(&got),
            c.out_size,
            c.out_sha
        ));
    }
    None
}

#[test]
fn every_fixture_is_reproduced_byte_for_byte() {
    let all = cases();
    assert!(all.len() >= 380, "cases.tsv has {} rows", all.len());
    let failures: Vec<String> = all.iter().filter_map(check).collect();
    assert!(
        failures.is_empty(),
        "{} of {} differ:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

#[test]
fn pigz_thread_count_does_not_matter_at_best() {
    // pigz -p1 keeps one stream; -pN restarts each piece with a 32 KiB dictionary. At level 9
    // the two are the same bytes (make.sh checks the real tool, this checks our two paths).
    let data = input("mixed:400000:15");
    let par = pigz::compress(&data[..], Vec::new(), &pigz::Options::best()).unwrap();
    let one = pigz::Options {
        single_thread: true,
        ..pigz::Options::best()
    };
    let single = pigz::compress(&data[..], Vec::new(), &one).unwrap();
    assert_eq!(sha(&par), sha(&single));
}

#[test]
fn output_does_not_depend_on_write_sizes() {
    let data = input("text:200000:99");
    for flavour in [Flavour::Zlib, Flavour::GnuGzip] {
        for level in [1, 4, 9] {
            let mut whole = Deflater::new(level, flavour).unwrap();
            whole.write(&data);
            let whole = whole.finish();
            for chunk in [1usize, 7, 4096, 65536 + 3] {
                let mut enc = Encoder::new(Vec::new(), level, flavour).unwrap();
                for piece in data.chunks(chunk) {
                    enc.write_all(piece).unwrap();
                }
                let got = enc.finish().unwrap();
                assert!(got == whole, "{flavour:?} level {level}, writes of {chunk}");
            }
        }
    }
}

#[test]
fn stream_controls_follow_zlib() {
    assert_eq!(Deflater::new(0, Flavour::Zlib).err(), Some(Error::Level(0)));
    assert_eq!(
        Deflater::new(10, Flavour::GnuGzip).err(),
        Some(Error::Level(10))
    );
    let mut g = Deflater::new(6, Flavour::GnuGzip).unwrap();
    assert!(matches!(g.set_dictionary(b"x"), Err(Error::Unsupported(_))));
    assert!(matches!(g.sync_flush(), Err(Error::Unsupported(_))));
    let mut z = Deflater::new(6, Flavour::Zlib).unwrap();
    z.write(b"some input");
    assert_eq!(z.set_dictionary(b"late"), Err(Error::DictionaryAfterInput));
    // A sync flush ends in an empty stored block: 00 00 ff ff on a byte boundary.
    z.sync_flush().unwrap();
    assert_eq!(z.pending_bits(), 0);
    let out = z.take_output();
    assert_eq!(&out[out.len() - 4..], &[0, 0, 0xff, 0xff]);
}

#[test]
fn gzip_and_pigz_headers() {
    assert_eq!(gnu_gzip::header(1), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 3]);
    assert_eq!(gnu_gzip::header(6)[8], 0);
    let named = pigz::Options::best_named(b"rootfs.tar");
    assert_eq!(
        &named.header()[..],
        b"\x1f\x8b\x08\x08\0\0\0\0\x02\x03rootfs.tar\0"
    );
    let bad = pigz::Options {
        block_size: 1000,
        ..pigz::Options::best()
    };
    assert!(pigz::compress(&b""[..], Vec::new(), &bad).is_err());
    assert!(gnu_gzip::compress(&b""[..], Vec::new(), 0).is_err());
}

/// Every level of both flavours and pigz on awkward inputs: the output must be valid gzip that
/// an independent decoder (flate2, through the archive crate) turns back into the input.
#[test]
fn round_trip_through_an_independent_decoder() {
    use layerproof_archive::compression::{DecompressOptions, open};
    use std::io::Read;
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![7],
        vec![0; 70_000],
        b"ab".repeat(40_000),
        random_bytes(65_536 + 262, 77),
        [
            text(33_000, 1),
            vec![0; 300],
            random_bytes(40_000, 2),
            text(70_000, 3),
        ]
        .concat(),
    ];
    // Runs of one byte with lengths around the 258 match limit and the window size.
    let mut runs = Vec::new();
    for (i, n) in [257usize, 258, 259, 32_506, 32_768, 3, 4, 1]
        .iter()
        .enumerate()
    {
        runs.extend(std::iter::repeat_n(i as u8, *n));
    }
    inputs.push(runs);
    let check = |blob: Vec<u8>, data: &[u8], what: &str| {
        let mut back = Vec::new();
        open(&blob[..], &DecompressOptions::default())
            .unwrap()
            .read_to_end(&mut back)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(back == data, "{what}: round trip differs");
    };
    for data in &inputs {
        for level in 1..=9 {
            let g = gnu_gzip::compress(&data[..], Vec::new(), level).unwrap();
            check(g, data, &format!("gzip -{level}, {} bytes", data.len()));
            let opts = pigz::Options {
                level,
                block_size: 32 * 1024,
                ..pigz::Options::best()
            };
            let p = pigz::compress(&data[..], Vec::new(), &opts).unwrap();
            check(
                p,
                data,
                &format!("pigz -{level} -b 32, {} bytes", data.len()),
            );
        }
    }
}
