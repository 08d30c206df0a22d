//! Fingerprinting real blobs: what pigz, GNU gzip and Go wrote, read back once.

use std::path::{Path, PathBuf};

use layerproof_compress::fingerprint::{Compressor, Error, fingerprint};
use layerproof_compress::{gnu_gzip, pigz, zlib};
use sha2::{Digest, Sha256};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/compress/zlib")
}

fn diff_id(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(b)))
}

/// A compressible, text-like input of `n` bytes (xorshift over a small vocabulary).
fn text(n: usize, mut seed: u64) -> Vec<u8> {
    let words = [
        "layer", "tar", "blob", "pigz", "debian", "the", "of", "rootfs", "\n", "digest",
    ];
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(words[(seed % words.len() as u64) as usize].as_bytes());
        out.push(b' ');
    }
    out.truncate(n);
    out
}

fn level_hint(level: u32) -> Option<u32> {
    match level {
        1 | 9 => Some(level),
        _ => None,
    }
}

/// Every real pigz/gzip output committed by make.sh: the diff_id, the header, and the ranking.
#[test]
fn committed_real_outputs() {
    let tsv = std::fs::read_to_string(dir().join("cases.tsv")).unwrap();
    let mut checked = 0;
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let (name, size, in_sha, variant, committed) = (f[0], f[2], f[3], f[4], f[7]);
        if committed == "-" {
            continue;
        }
        let blob = std::fs::read(dir().join(committed)).unwrap();
        let fp = fingerprint(&blob[..]).unwrap_or_else(|e| panic!("{committed}: {e}"));
        let size: u64 = size.parse().unwrap();
        assert_eq!(
            fp.diff_id.to_string(),
            format!("sha256:{in_sha}"),
            "{committed}"
        );
        assert_eq!(fp.uncompressed_size, size, "{committed}");
        assert_eq!(fp.compressed_size, blob.len() as u64, "{committed}");
        assert_eq!(
            (fp.members, fp.header.os, fp.header.mtime),
            (1, 3, 0),
            "{committed}"
        );
        let level: u32 = variant.split('-').nth(1).unwrap().parse().unwrap();
        let hint = level_hint(level);
        let xfl = match level {
            1 => 4,
            9 => 2,
            _ => 0,
        };
        assert_eq!(fp.header.xfl, xfl, "{committed}");
        let named = variant.ends_with("-named");
        assert_eq!(
            fp.header.name.as_deref(),
            named.then_some(name.as_bytes()),
            "{committed}"
        );
        let present = |want: &Compressor| {
            fp.candidates
                .iter()
                .any(|c| &c.compressor == want && c.score > 0)
        };
        if variant.starts_with("python") {
            // A plain zlib stream: re-encode it behind the header read from the blob itself.
            let data_len = fp.uncompressed_size as usize;
            let want = Compressor::Zlib { level: hint };
            if fp.deflate.blocks_16383 > 0 {
                assert_eq!(fp.best(), &want, "{committed}: {:#?}", fp.candidates);
            } else {
                assert!(present(&want), "{committed}: {:#?}", fp.candidates);
            }
            let header = fp.header.to_bytes();
            assert_eq!(&header[..], &blob[..header.len()]);
            let inflated = inflate_all(&blob);
            assert_eq!(inflated.len(), data_len);
            let again = zlib::compress_gzip(&inflated[..], Vec::new(), level, &header).unwrap();
            assert!(
                again == blob,
                "{committed}: re-encoded behind its own header differs"
            );
        } else if variant.starts_with("pigz") {
            let want = Compressor::Pigz {
                level: hint,
                block_size: 128 * 1024,
            };
            if size > 128 * 1024 && fp.deflate.piece_size.is_some() {
                assert_eq!(fp.best(), &want, "{committed}: {:#?}", fp.candidates);
            } else {
                assert!(present(&want), "{committed}: {:#?}", fp.candidates);
            }
        } else {
            let t = &fp.deflate;
            // --rsyncable shows only where it had to pad (no marker: looks like plain gzip).
            let rsyncable = variant.ends_with("-rsyncable") && t.sync_markers > 0;
            let want = Compressor::GnuGzip {
                level: hint,
                rsyncable,
            };
            if t.blocks_32767 > 0 || t.max_block_symbols > 16383 || rsyncable {
                assert_eq!(fp.best(), &want, "{committed}: {:#?}", fp.candidates);
            } else {
                assert!(present(&want), "{committed}: {:#?}", fp.candidates);
            }
        }
        checked += 1;
    }
    assert!(checked >= 100, "only {checked} committed outputs");
}

#[test]
fn go_outputs_are_recognised() {
    let tsv = std::fs::read_to_string(dir().join("foreign/go/SOURCES.tsv")).unwrap();
    let mut checked = 0;
    for line in tsv.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let blob = std::fs::read(dir().join("foreign/go").join(f[0])).unwrap();
        assert_eq!(hex::encode(Sha256::digest(&blob)), f[1], "{}", f[0]);
        let fp = fingerprint(&blob[..]).unwrap();
        let level = match fp.header.xfl {
            2 => Some(9),
            4 => Some(1),
            _ => None,
        };
        assert!(fp.deflate.final_empty_stored, "{}", f[0]);
        assert_eq!(
            fp.best(),
            &Compressor::GoGzip { level },
            "{}: {:#?}",
            f[0],
            fp.candidates
        );
        assert!(fp.best().to_string().starts_with("Go compress/gzip"));
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} Go outputs in SOURCES.tsv");
}

/// Large inputs through our pigz (byte-identical to the real one, see zlib_family.rs): the
/// piece cadence is found, at the default and at another block size.
#[test]
fn pigz_pieces_are_found() {
    let data = text(1_500_000, 0x9e3779b97f4a7c15);
    for block in [128 * 1024, 64 * 1024] {
        let opts = pigz::Options {
            block_size: block,
            ..pigz::Options::best()
        };
        let blob = pigz::compress(&data[..], Vec::new(), &opts).unwrap();
        let fp = fingerprint(&blob[..]).unwrap();
        assert_eq!(fp.diff_id.to_string(), diff_id(&data));
        assert_eq!(
            fp.deflate.piece_size,
            Some(block as u64),
            "{:#?}",
            fp.deflate
        );
        assert!(
            fp.deflate
                .marker_offsets
                .iter()
                .all(|o| o % block as u64 == 0)
        );
        assert_eq!(
            fp.best(),
            &Compressor::Pigz {
                level: Some(9),
                block_size: block as u64
            }
        );
        let why = fp.candidates[0].evidence.join("\n");
        assert!(why.contains("pigz's"), "{why}");
    }
    // GNU gzip on the same input: no pieces, 32767-symbol blocks.
    let blob = gnu_gzip::compress(&data[..], Vec::new(), 9).unwrap();
    let fp = fingerprint(&blob[..]).unwrap();
    assert_eq!(fp.deflate.piece_size, None);
    assert_eq!(
        fp.best(),
        &Compressor::GnuGzip {
            level: Some(9),
            rsyncable: false
        }
    );
    // … and with --rsyncable: padded block ends at content-defined points.
    let opts = gnu_gzip::Options {
        level: 9,
        rsyncable: true,
    };
    let blob = gnu_gzip::compress_with(&data[..], Vec::new(), &opts).unwrap();
    let fp = fingerprint(&blob[..]).unwrap();
    assert!(fp.deflate.sync_markers > 10, "{:#?}", fp.deflate);
    assert_eq!(
        fp.best(),
        &Compressor::GnuGzip {
            level: Some(9),
            rsyncable: true
        }
    );
}

#[test]
fn members_are_concatenated() {
    let (a, b) = (text(70_000, 1), text(50_000, 2));
    let mut blob = gnu_gzip::compress(&a[..], Vec::new(), 6).unwrap();
    blob = pigz::compress(&b[..], blob, &pigz::Options::best()).unwrap();
    let fp = fingerprint(&blob[..]).unwrap();
    assert_eq!(fp.members, 2);
    assert_eq!(fp.uncompressed_size, 120_000);
    assert_eq!(fp.diff_id.to_string(), diff_id(&[a, b].concat()));
}

#[test]
fn typed_errors() {
    let good = gnu_gzip::compress(&text(100_000, 3)[..], Vec::new(), 6).unwrap();
    assert!(matches!(
        fingerprint(&b"not gzip at all"[..]),
        Err(Error::NotGzip { offset: 0 })
    ));
    assert!(matches!(fingerprint(&b""[..]), Err(Error::NotGzip { .. })));
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 8] ^= 1;
    assert!(matches!(
        fingerprint(&bad_crc[..]),
        Err(Error::Crc { member: 0, .. })
    ));
    let mut bad_size = good.clone();
    bad_size[n - 1] ^= 1;
    assert!(matches!(
        fingerprint(&bad_size[..]),
        Err(Error::Size { .. })
    ));
    let mut trailing = good.clone();
    trailing.extend_from_slice(b"junk");
    assert!(matches!(
        fingerprint(&trailing[..]),
        Err(Error::TrailingData { .. })
    ));
    let mut method = good.clone();
    method[2] = 7;
    assert!(matches!(
        fingerprint(&method[..]),
        Err(Error::Method { method: 7, .. })
    ));
    let mut reserved = good.clone();
    reserved[3] = 0x20;
    assert!(matches!(
        fingerprint(&reserved[..]),
        Err(Error::ReservedFlags { .. })
    ));
    let mut btype = good.clone();
    btype[10] |= 0b110; // BTYPE 11
    assert!(matches!(
        fingerprint(&btype[..]),
        Err(Error::Corrupt { bit: 80, .. })
    ));
    assert!(matches!(
        fingerprint(&good[..n - 20]),
        Err(Error::Truncated { .. })
    ));
}

/// Hostile input never panics: every truncation and every bit flip of a multi-block blob
/// gives a typed error (or, for flips the checks cannot see, a result).
#[test]
fn corrupt_input_never_panics() {
    let data = [
        text(40_000, 4),
        (0..20_000u32).map(|i| ((i * 7919) >> 3) as u8).collect(),
    ]
    .concat();
    for blob in [
        pigz::compress(&data[..], Vec::new(), &pigz::Options::best()).unwrap(),
        gnu_gzip::compress(&data[..], Vec::new(), 1).unwrap(),
    ] {
        let step = (blob.len() / 200).max(1);
        for cut in (0..blob.len()).step_by(step) {
            assert!(
                fingerprint(&blob[..cut]).is_err(),
                "prefix of {cut} bytes accepted"
            );
        }
        let mut flipped = blob.clone();
        for bit in (0..blob.len().min(2000) * 8).step_by(11) {
            flipped[bit / 8] ^= 1 << (bit % 8);
            let _ = fingerprint(&flipped[..]);
            flipped[bit / 8] ^= 1 << (bit % 8);
        }
    }
    // Random bytes behind a valid header.
    let mut seed = 0x1234_5678_9abc_def0u64;
    for _ in 0..300 {
        let mut blob = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            blob.push(seed as u8);
        }
        let _ = fingerprint(&blob[..]);
    }
}

/// The debuerreotype-style layout made with real tar, xz and pigz (oci-import/make.sh): the
/// whole chain rootfs.tar.xz → diff_id → blob digest is reproduced, and the blob is recognised.
#[test]
fn debuerreotype_layout_is_reproduced() {
    use layerproof_archive::compression::{DecompressOptions, open};
    use std::io::Read;

    let suite = dir().join("oci-import/bookworm");
    let expected = std::fs::read_to_string(suite.join("EXPECTED.tsv")).unwrap();
    let field = |key: &str| -> Vec<String> {
        let line = expected
            .lines()
            .find(|l| l.starts_with(&format!("{key}\t")))
            .unwrap();
        line.split('\t').skip(1).map(String::from).collect()
    };
    let xz = std::fs::read(suite.join("rootfs.tar.xz")).unwrap();
    let pinned = std::fs::read_to_string(suite.join("rootfs.tar.xz.sha256")).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&xz)), pinned.trim());
    let mut tar = Vec::new();
    open(&xz[..], &DecompressOptions::default())
        .unwrap()
        .read_to_end(&mut tar)
        .unwrap();
    let diff = field("diff_id")[0].clone();
    assert_eq!(diff_id(&tar), diff);

    let config = std::fs::read_to_string(suite.join("oci/blobs/image-config.json")).unwrap();
    assert!(config.contains(&format!("\"diff_ids\":[\"{diff}\"]")));

    // The layer blob, through the digest-named symlink, is pigz --best --no-time rootfs.tar.
    let blob_digest = field("blob")[0].clone();
    let blob_path = suite
        .join("oci/blobs/sha256")
        .join(blob_digest.trim_start_matches("sha256:"));
    let blob = std::fs::read(&blob_path).unwrap();
    assert_eq!(diff_id(&blob), blob_digest);
    let ours = pigz::compress(
        &tar[..],
        Vec::new(),
        &pigz::Options::best_named(b"rootfs.tar"),
    );
    assert!(
        ours.unwrap() == blob,
        "our pigz --best --no-time differs from the real blob"
    );

    let fp = fingerprint(&blob[..]).unwrap();
    assert_eq!(fp.diff_id.to_string(), diff);
    assert_eq!(fp.header.name.as_deref(), Some(&b"rootfs.tar"[..]));
    assert_eq!(
        fp.best(),
        &Compressor::Pigz {
            level: Some(9),
            block_size: 128 * 1024
        }
    );
    assert_eq!(fp.best().to_string(), "pigz --best (128 KiB pieces)");
}

/// Decompress with the archive crate's decoder (an independent inflater).
fn inflate_all(blob: &[u8]) -> Vec<u8> {
    use layerproof_archive::compression::{DecompressOptions, open};
    use std::io::Read;
    let mut out = Vec::new();
    open(blob, &DecompressOptions::default())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}
