//! `compress::go` against real Go: every fixture in `testdata/compress/go/` (made by its
//! `make.sh` with Debian's Go), chunking independence, and a blob a real Docker engine pushed.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use layerproof_compress::fingerprint;
use layerproof_compress::go::{self, FlateWriter, GzipWriter};
use proptest::prelude::*;
use sha2::{Digest, Sha256};

mod inputs;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compress/go")
}

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn decompress(b: &[u8]) -> Vec<u8> {
    let (_, mut r) = layerproof_archive::compression::decompress_stream(b).expect("open");
    let mut out = Vec::new();
    r.read_to_end(&mut out).expect("decompress");
    out
}

/// Our gzip of `data`, fed in writes of `chunk` bytes (Docker's io.Copy uses 32 KiB).
fn ours(level: i32, data: &[u8], chunk: usize) -> Vec<u8> {
    let mut w = GzipWriter::new(Vec::new(), level).expect("level");
    for c in data.chunks(chunk.max(1)) {
        w.write_all(c).expect("write");
    }
    w.finish().expect("finish")
}

/// Every input named in `expected.tsv`: the generated ones and the committed real tar.
fn all_inputs() -> BTreeMap<String, Vec<u8>> {
    let mut m: BTreeMap<String, Vec<u8>> = inputs::generated().into_iter().collect();
    let xz = std::fs::read(fixtures().join("real-tar.tar.xz")).expect("real-tar.tar.xz");
    m.insert("real-tar".into(), decompress(&xz));
    m
}

struct Case {
    input: String,
    input_len: usize,
    input_sha256: String,
    level: i32,
    gzip_len: usize,
    gzip_sha256: String,
}

fn expected() -> Vec<Case> {
    let tsv = std::fs::read_to_string(fixtures().join("expected.tsv")).expect("expected.tsv");
    tsv.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            assert_eq!(f.len(), 6, "bad line {l:?}");
            Case {
                input: f[0].into(),
                input_len: f[1].parse().expect("input_len"),
                input_sha256: f[2].into(),
                level: f[3].parse().expect("level"),
                gzip_len: f[4].parse().expect("gzip_len"),
                gzip_sha256: f[5].into(),
            }
        })
        .collect()
}

/// Check one case against its input; `Err` describes the mismatch.
fn check(case: &Case, data: &[u8]) -> Result<(), String> {
    let got = ours(case.level, data, 32 * 1024);
    if got.len() == case.gzip_len && sha256(&got) == case.gzip_sha256 {
        return Ok(());
    }
    let whole = fixtures().join(format!("out/{}.L{}.gz", case.input, case.level));
    let detail = match std::fs::read(&whole) {
        Ok(want) => {
            let at = got.iter().zip(&want).position(|(a, b)| a != b);
            format!("first difference at byte {at:?}")
        }
        Err(_) => "(output not kept whole; make.sh regenerates it)".into(),
    };
    Err(format!(
        "{} level {}: ours {} bytes, Go {} bytes; {detail}",
        case.input,
        case.level,
        got.len(),
        case.gzip_len
    ))
}

#[test]
fn byte_for_byte_with_go() {
    let inputs = all_inputs();
    let cases = expected();
    assert!(cases.len() > 200, "expected.tsv lost cases");
    let mut failures = Vec::new();
    for case in &cases {
        match inputs.get(&case.input) {
            None => failures.push(format!("no generator for input {}", case.input)),
            Some(d) if d.len() != case.input_len || sha256(d) != case.input_sha256 => failures
                .push(format!(
                    "input {} is not the one Go compressed (generator changed? rerun make.sh)",
                    case.input
                )),
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // Two workers: the unoptimised test build is the slow part of `cargo test`.
    let workers = 2;
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|k| {
                let (cases, inputs) = (&cases, &inputs);
                s.spawn(move || {
                    cases
                        .iter()
                        .skip(k)
                        .step_by(workers)
                        .filter_map(|c| check(c, &inputs[&c.input]).err())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker"))
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from Go:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn every_level_decompresses_to_its_input() {
    let data = inputs::mixed(99, 300_000);
    for level in -2..=9 {
        let gz = go::gzip(level, &data);
        assert!(decompress(&gz) == data, "level {level}");
    }
}

#[test]
fn flate_writer_is_the_gzip_body() {
    let data = inputs::text(5, 100_000);
    for level in [-2, 0, 1, 6, 9] {
        let gz = go::gzip(level, &data);
        let raw = go::deflate(level, &data);
        assert_eq!(&gz[10..gz.len() - 8], &raw[..], "level {level}");
        let mut w = FlateWriter::new(Vec::new(), level).expect("level");
        w.write_all(&data).expect("write");
        assert_eq!(w.finish().expect("finish"), raw);
    }
}

#[test]
fn header_and_trailer_are_gos() {
    let gz = go::gzip(-1, b"hello\n");
    assert_eq!(&gz[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    assert_eq!(&gz[gz.len() - 8..], &[0x20, 0x30, 0x3a, 0x36, 6, 0, 0, 0]);
    assert_eq!(go::gzip(1, b"x")[8], 4);
    assert_eq!(go::gzip(9, b"x")[8], 2);
    assert_eq!(go::gzip(6, b"x")[8], 0);
}

#[test]
fn write_errors_are_sticky() {
    struct Broken(usize);
    impl Write for Broken {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= 1;
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let data = inputs::Rng::new(3).bytes(1 << 20);
    let mut w = GzipWriter::new(Broken(1), 0).expect("level");
    assert!(w.write_all(&data).is_err());
    assert!(w.write_all(b"more").is_err());
    assert!(w.finish().is_err());
}

/// Chunk boundaries the strategy below picks from: small, odd, and around the buffers.
fn chunkings() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(
        prop_oneof![
            1usize..16,
            16usize..4096,
            Just(32 * 1024),
            Just(65_535),
            Just(65_536),
            60_000usize..70_000,
        ],
        1..64,
    )
}

fn sample(kind: u8, seed: u64, len: usize) -> Vec<u8> {
    match kind % 5 {
        0 => inputs::text(seed, len),
        1 => inputs::Rng::new(seed).bytes(len),
        2 => inputs::runs(seed, len),
        3 => inputs::low_entropy(seed, len, 3),
        _ => inputs::mixed(seed, len),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The output is a function of the bytes and the level only, not of the write sizes.
    #[test]
    fn output_does_not_depend_on_chunking(
        kind in 0u8..5,
        seed in any::<u64>(),
        len in prop_oneof![0usize..300, 60_000usize..140_000],
        level in -2i32..=9,
        chunks in chunkings(),
    ) {
        let data = sample(kind, seed, len);
        let whole = ours(level, &data, usize::MAX);
        let mut w = GzipWriter::new(Vec::new(), level).expect("level");
        let mut rest = &data[..];
        for &c in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (now, later) = rest.split_at(c.min(rest.len()));
            w.write_all(now).expect("write");
            // Rust's flush must not end a block (unlike Go's Flush).
            if c % 3 == 0 {
                w.flush().expect("flush");
            }
            rest = later;
        }
        let chunked = w.finish().expect("finish");
        prop_assert!(whole == chunked, "level {} len {}", level, len);
    }
}

/// Real Docker engines (20.10 built with Go 1.19, 26.1 built with Go 1.24) pushed these
/// blobs for `FROM scratch / ADD src.tar /` (see `docker-push/make.sh`); our default-level
/// gzip of the layer from `docker save` must be the pushed blob, digest for digest.
#[test]
fn reproduces_blobs_pushed_by_docker() {
    let dir = fixtures().join("docker-push");
    let prov = std::fs::read_to_string(dir.join("PROVENANCE.json")).expect("PROVENANCE.json");
    for engine in ["docker-20.10", "docker-26.1"] {
        let layer = std::fs::read(dir.join(engine).join("layer.tar")).expect("layer.tar");
        let blob = std::fs::read(dir.join(engine).join("blob.tar.gz")).expect("blob.tar.gz");
        // The files are the ones the script recorded (a hand edit would fail here).
        let blob_digest = format!("sha256:{}", sha256(&blob));
        let layer_digest = format!("sha256:{}", sha256(&layer));
        assert!(
            prov.contains(&format!("\"blob_digest\": \"{blob_digest}\"")),
            "{engine}: blob.tar.gz is not the recorded blob"
        );
        assert!(
            prov.contains(&format!("\"layer_tar_sha256\": \"{layer_digest}\"")),
            "{engine}: layer.tar is not the recorded layer"
        );
        assert!(
            decompress(&blob) == layer,
            "{engine}: the blob is not the layer"
        );

        let ours = ours(go::DEFAULT_COMPRESSION, &layer, 32 * 1024);
        assert_eq!(format!("sha256:{}", sha256(&ours)), blob_digest, "{engine}");
        assert!(ours == blob);
    }
}

/// Run the parallel check of `blob` against `data` at `level`, with the blob's own resume
/// points told first, in chunks of `chunk` bytes.
fn parallel(level: i32, data: &[u8], blob: &[u8], chunk: u64) -> Option<go::Outcome> {
    let fp = fingerprint::fingerprint(blob).expect("fingerprint");
    let mut rd = blob;
    let mut produce = |s: &mut dyn go::ResumeSink| {
        for p in &fp.resume_points {
            s.resume_point(*p);
        }
        for c in data.chunks(40_000) {
            s.write_all(c)?;
        }
        Ok(())
    };
    match go::check_parallel(level, 2, chunk, &mut rd, &mut produce) {
        Ok(r) => Some(r.expect("io")),
        Err(_) => None,
    }
}

/// The same, in one pass: the fingerprint's own decoder produces the stream and the points.
fn parallel_streaming(level: i32, blob: &[u8], chunk: u64) -> Option<go::Outcome> {
    let mut rd = blob;
    let mut produce = |s: &mut dyn go::ResumeSink| {
        fingerprint::fingerprint_streaming(blob, s).map_err(std::io::Error::other)?;
        Ok(())
    };
    match go::check_parallel(level, 3, chunk, &mut rd, &mut produce) {
        Ok(r) => Some(r.expect("io")),
        Err(_) => None,
    }
}

/// Every fixture at a lazy level that is large enough to split: the parallel check of the
/// blob Go wrote (ours equals it, `byte_for_byte_with_go`) says identical, with its digest.
#[test]
fn parallel_check_accepts_gos_blobs() {
    let inputs = all_inputs();
    let mut checked = 0;
    for case in expected() {
        let Some(data) = inputs.get(&case.input) else {
            continue;
        };
        if !(4..=9).contains(&case.level) && case.level != -1 || data.len() < 150_000 {
            continue;
        }
        let blob = ours(case.level, data, 32 * 1024);
        assert_eq!(
            sha256(&blob),
            case.gzip_sha256,
            "{} L{}",
            case.input,
            case.level
        );
        for chunk in [1u64, 100_000, 300_000] {
            let told = parallel(case.level, data, &blob, chunk);
            let streamed = parallel_streaming(case.level, &blob, chunk);
            for r in [told, streamed] {
                match r {
                    Some(go::Outcome::Identical { digest, chunks }) => {
                        assert_eq!(digest, format!("sha256:{}", case.gzip_sha256));
                        if chunks > 1 {
                            checked += 1;
                        }
                    }
                    other => panic!(
                        "{} level {} chunk {chunk}: {other:?}",
                        case.input, case.level
                    ),
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} parallel checks ran");
}

/// Another level's blob, another stream, or one flipped bit anywhere: never identical.
#[test]
fn parallel_check_finds_differences() {
    let data = sample(4, 7, 900_000);
    let blob = ours(6, &data, 32 * 1024);
    assert!(matches!(
        parallel(6, &data, &blob, 100_000),
        Some(go::Outcome::Identical { .. })
    ));
    // level 5's blob claimed as level 6 (and the other way round)
    let five = ours(5, &data, 32 * 1024);
    assert_ne!(five, blob);
    assert!(matches!(
        parallel(6, &data, &five, 100_000),
        Some(go::Outcome::Differs { .. })
    ));
    assert!(matches!(
        parallel(5, &data, &blob, 100_000),
        Some(go::Outcome::Differs { .. })
    ));
    // other data of the same length, and data one byte short
    let mut other = data.clone();
    other[450_000] ^= 1;
    assert!(matches!(
        parallel(6, &other, &blob, 100_000),
        Some(go::Outcome::Differs { .. })
    ));
    assert!(matches!(
        parallel(6, &data[1..], &blob, 100_000),
        Some(go::Outcome::Differs { .. })
    ));
    // one flipped bit: header, every chunk region, the final block, the trailer
    let fp = fingerprint::fingerprint(&blob[..]).expect("fingerprint");
    let mut bits: Vec<u64> = vec![
        3,
        80,
        81,
        (blob.len() as u64 - 9) * 8,
        (blob.len() as u64 - 1) * 8,
    ];
    bits.extend(
        fp.resume_points
            .iter()
            .flat_map(|p| [p.bit - 1, p.bit, p.bit + 5]),
    );
    for bit in bits {
        let mut bad = blob.clone();
        bad[(bit / 8) as usize] ^= 1 << (bit % 8);
        let mut rd = &bad[..];
        let mut produce = |s: &mut dyn go::ResumeSink| {
            for p in &fp.resume_points {
                s.resume_point(*p);
            }
            s.write_all(&data)
        };
        let r = go::check_parallel(6, 2, 100_000, &mut rd, &mut produce)
            .expect("applicable")
            .expect("io");
        assert!(matches!(r, go::Outcome::Differs { .. }), "bit {bit}: {r:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Resume points are never trusted: made-up ones (any offsets, any order) and a damaged
    /// blob never panic, and a damaged blob is never identical.
    #[test]
    fn parallel_check_survives_made_up_points(
        seed in any::<u64>(),
        len in 0usize..300_000,
        points in prop::collection::vec((any::<u64>(), any::<u64>()), 0..12),
        small in prop::collection::vec((0u64..400_000, 0u64..1_000_000), 0..12),
        flip in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let data = sample(4, seed, len);
        let mut blob = ours(6, &data, 32 * 1024);
        if let Some(i) = flip {
            let i = i.index(blob.len());
            blob[i] ^= 0x10;
        }
        let mut rd = &blob[..];
        let mut produce = |s: &mut dyn go::ResumeSink| {
            for &(pos, bit) in points.iter().chain(&small) {
                s.resume_point(fingerprint::ResumePoint { pos, bit });
            }
            s.write_all(&data)
        };
        let r = go::check_parallel(6, 2, 20_000, &mut rd, &mut produce).expect("level 6");
        if flip.is_some() {
            prop_assert!(!matches!(r, Ok(go::Outcome::Identical { .. })), "{:?}", r);
        }
    }
}

/// Greedy and fast levels have no resume points: the check declines them.
#[test]
fn parallel_check_declines_other_levels() {
    let data = sample(0, 3, 400_000);
    for level in [-2, 0, 1, 2, 3] {
        let blob = ours(level, &data, 32 * 1024);
        assert!(
            parallel(level, &data, &blob, 50_000).is_none(),
            "level {level}"
        );
    }
}

/// The parallel check on a large real input at every lazy level (not in `cargo test`: set
/// `LAYERPROOF_BIG_INPUT` to a file, e.g. the Debian minbase tar that
/// `testdata/compress/go/bigcheck.sh` uses, and run with `--ignored --release`).
#[test]
#[ignore]
fn parallel_check_big_input() {
    let Some(path) = std::env::var_os("LAYERPROOF_BIG_INPUT") else {
        panic!("set LAYERPROOF_BIG_INPUT to a large file");
    };
    let data = std::fs::read(&path).expect("LAYERPROOF_BIG_INPUT");
    for level in [4, 5, 6, 7, 8, 9] {
        let t = std::time::Instant::now();
        let blob = ours(level, &data, 32 * 1024);
        let seq = t.elapsed();
        let t = std::time::Instant::now();
        let r = parallel(level, &data, &blob, go::CHUNK_TARGET);
        eprintln!(
            "level {level}: sequential {:.2} s, parallel check {:.2} s: {r:?}",
            seq.as_secs_f64(),
            t.elapsed().as_secs_f64()
        );
        assert!(
            matches!(&r, Some(go::Outcome::Identical { digest, .. }) if *digest == format!("sha256:{}", sha256(&blob))),
            "level {level}: {r:?}"
        );
    }
}
