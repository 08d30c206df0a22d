//! The library on the committed hostile corpus (`testdata/hostile/`, made by
//! `cargo xtask hostile --generate`): no panics, and every case ends the way `cases.json` says —
//! exit 0 a tree or a plain-file copy, exit 1 a Docker refusal, exit 2 a typed error — with the
//! expected text in the refusal, error or hazards. Time and memory bounds are checked by
//! `cargo xtask hostile` against the release binary, not here.
use std::path::PathBuf;

use layerproof_archive::source::{self, Added, Options};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/hostile")
}

fn size(s: &str) -> u64 {
    let (n, shift) = match s.as_bytes().last() {
        Some(b'K') => (&s[..s.len() - 1], 10),
        Some(b'M') => (&s[..s.len() - 1], 20),
        Some(b'G') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    n.parse::<u64>().expect("a size") << shift
}

/// The `layerproof` limit flags the corpus uses, applied as the CLI applies them.
fn options(args: &[Value]) -> Options {
    let mut o = Options::default();
    let args: Vec<&str> = args.iter().map(|a| a.as_str().expect("string")).collect();
    for pair in args.chunks(2) {
        match pair {
            ["--max-decompressed-bytes", v] => o.decompress.max_decompressed_bytes = Some(size(v)),
            ["--max-pax-size", v] => o.read.max_pax_size = size(v),
            ["--max-entries", v] => o.unpack.max_entries = size(v),
            ["--max-lookups", v] => o.unpack.max_lookups = size(v),
            ["--max-meta-bytes", v] => o.unpack.max_meta_bytes = size(v),
            other => panic!("flag {other:?} not mapped in this test"),
        }
    }
    o
}

#[test]
fn every_committed_case_ends_as_cases_json_says() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).expect("cases.json"))
            .expect("valid JSON");
    let cases = manifest["cases"].as_array().expect("cases");
    let mut checked = 0;
    // Cases with a long wall bound (the lookup storm at the default limit: tens of seconds in a
    // release build) run only in `cargo xtask hostile`; their lowered-limit twins run here.
    for c in cases
        .iter()
        .filter(|c| c["runtime"] == false && c["wall_seconds"].as_u64() <= Some(60))
    {
        let name = c["name"].as_str().unwrap();
        let want_exit = c["exit"].as_u64().unwrap();
        let message = c["message"].as_str().unwrap();
        let file = std::fs::File::open(dir().join(c["file"].as_str().unwrap())).expect(name);
        let opts = options(c["args"].as_array().unwrap());
        let result = source::add(std::io::BufReader::new(file), &opts);
        let (exit, text) = match &result {
            Err(source::Error::Limit(l)) => (2, l.to_string()),
            Err(e) => (2, e.to_string()),
            Ok(Added::PlainFile { reason, .. }) => (0, format!("NOT AN ARCHIVE: {reason}")),
            Ok(Added::Archive(a)) => match &a.outcome {
                Ok(u) => (
                    0,
                    format!(
                        "buildable: yes {}",
                        serde_json::to_string(&u.hazards).unwrap()
                    ),
                ),
                Err(r) => (1, r.to_string()),
            },
        };
        assert_eq!(exit, want_exit, "{name}: {text}");
        assert!(text.contains(message), "{name}: {text:?} lacks {message:?}");
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} committed cases");
}

/// Every limit error the corpus expects names the limit, its value and the flag that raises it.
#[test]
fn limit_errors_name_limit_value_and_flag() {
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(dir().join("cases.json")).unwrap()).unwrap();
    for c in manifest["cases"].as_array().unwrap() {
        if c["exit"] == 2 {
            let m = c["message"].as_str().unwrap();
            let limit = m.split_whitespace().find(|w| w.starts_with("max-"));
            let limit = limit.unwrap_or_else(|| panic!("{}: {m}", c["name"]));
            assert!(
                m.contains(&format!("{limit} limit of ")),
                "{}: {m}",
                c["name"]
            );
            assert!(
                m.contains(&format!("raise it with --{limit}")),
                "{}: {m}",
                c["name"]
            );
        }
    }
}
