//! `cargo xtask fuzz [--time SECS] [TARGET]…`: run the cargo-fuzz (libFuzzer) targets in `fuzz/`.
//!
//! Each target runs for `--time` seconds under `nice -n 19`, on a corpus seeded from `testdata/`
//! (`fuzz/corpus/<target>`, not committed) plus the committed regression inputs
//! (`fuzz/regressions/<target>`, each also replayed by a `cargo test`). libFuzzer needs nightly
//! compiler flags; the stable toolchain accepts them with `RUSTC_BOOTSTRAP=1`, which this sets.
//! Prints executions, coverage (`cov`: edges, `ft`: features) and corpus size per target and
//! fails when a target finds a crash (the input is left in `fuzz/artifacts/<target>/`).
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{Context, Result, bail};

/// Every target in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 9] = [
    "tar_reader",
    "decompress",
    "add_model",
    "dockerfile",
    "image_manifest",
    "docker_archive_manifest",
    "www_authenticate",
    "gzip_blob",
    "streamed",
];

/// Copy the seed inputs for `target` from `testdata/` into `corpus` (idempotent).
fn seed(repo: &Path, target: &str, corpus: &Path) -> Result<()> {
    fs::create_dir_all(corpus)?;
    let td = repo.join("testdata");
    let put = |name: String, bytes: Vec<u8>| -> Result<()> {
        fs::write(corpus.join(format!("seed-{name}")), bytes)?;
        Ok(())
    };
    let files_in = |dir: PathBuf| -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = fs::read_dir(dir)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        v.retain(|p| p.is_file());
        v.sort();
        v
    };
    let name_of = |p: &Path| {
        p.file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned()
    };
    let tarballs: Vec<PathBuf> = files_in(td.join("gen"))
        .into_iter()
        .chain(files_in(td.join("hostile")))
        .filter(|p| name_of(p).contains(".tar") && p.metadata().is_ok_and(|m| m.len() < 256 << 10))
        .collect();
    match target {
        "decompress" => {
            for p in &tarballs {
                put(name_of(p), fs::read(p)?)?;
            }
        }
        "add_model" => {
            for p in &tarballs {
                put(name_of(p), [vec![0u8], fs::read(p)?].concat())?;
            }
        }
        "tar_reader" => {
            for p in tarballs.iter().filter(|p| name_of(p).ends_with(".tar")) {
                put(name_of(p), fs::read(p)?)?;
            }
        }
        "dockerfile" => {
            for p in files_in(td.join("dockerfile"))
                .into_iter()
                .chain(files_in(td.join("gen")))
                .filter(|p| name_of(p).ends_with("Dockerfile"))
            {
                put(name_of(&p), fs::read(&p)?)?;
            }
        }
        "image_manifest" => {
            for p in files_in(td.join("image/oci-index/blobs/sha256"))
                .into_iter()
                .chain([td.join("image/oci-index/index.json")])
            {
                let bytes = fs::read(&p)?;
                if bytes.first() == Some(&b'{') {
                    put(name_of(&p), [vec![0u8], bytes].concat())?;
                }
            }
        }
        "docker_archive_manifest" => {
            put(
                "own.json".into(),
                br#"[{"Config":"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a.json","RepoTags":["a:b"],"Layers":["layer.tar","sub/layer.tar"]}]"#.to_vec(),
            )?;
            put(
                "escape.json".into(),
                br#"[{"Config":"../escape.json","Layers":["escape","/etc/passwd","../x"]}]"#.to_vec(),
            )?;
        }
        "www_authenticate" => {
            for (i, s) in [
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull""#,
                r#"Basic realm="x""#,
                r#"Bearer realm="a\"b",error="insufficient_scope", Basic realm=y"#,
            ]
            .iter()
            .enumerate()
            {
                put(format!("{i}"), s.as_bytes().to_vec())?;
            }
        }
        "gzip_blob" => {
            // blobs Go wrote at every level, and the ones real Docker pushes made
            for (i, dir) in [
                "compress/go/out",
                "compress/go/docker-push/docker-20.10",
                "compress/go/docker-push/docker-26.1",
                "compress/zlib/foreign/go",
            ]
            .into_iter()
            .enumerate()
            {
                for p in files_in(td.join(dir)) {
                    let bytes = fs::read(&p)?;
                    if bytes.starts_with(&[0x1f, 0x8b]) && bytes.len() < 64 << 10 {
                        put(format!("{i}-{}", name_of(&p)), bytes)?;
                    }
                }
            }
        }
        "streamed" => {
            // each layer real Docker wrote for an oracle case, with the case's source: the
            // published layer's length (u16, little-endian), the layer, the source
            for case in fs::read_dir(td.join("oracle"))?.filter_map(|e| e.ok().map(|e| e.path())) {
                let Some(source) = files_in(case.clone())
                    .into_iter()
                    .find(|p| name_of(p) != "Dockerfile" && !name_of(p).ends_with(".json"))
                else {
                    continue;
                };
                let source = fs::read(&source)?;
                for build in fs::read_dir(&case)?.filter_map(|e| e.ok().map(|e| e.path())) {
                    let Ok(layer) = fs::read(build.join("layer.tar")) else {
                        continue;
                    };
                    let Ok(len) = u16::try_from(layer.len()) else {
                        continue;
                    };
                    if source.len() < 64 << 10 {
                        put(
                            format!("{}-{}", name_of(&case), name_of(&build)),
                            [&len.to_le_bytes()[..], &layer, &source].concat(),
                        )?;
                    }
                }
            }
        }
        other => bail!("unknown fuzz target {other:?}"),
    }
    Ok(())
}

/// What libFuzzer reported at the end of a run.
#[derive(Debug, Default)]
struct Stats {
    execs: u64,
    cov: u64,
    ft: u64,
    corpus: u64,
    execs_per_sec: u64,
    peak_rss_mb: u64,
}

fn field(line: &str, key: &str) -> Option<u64> {
    let i = line.find(key)? + key.len();
    line[i..]
        .trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

fn parse(log: &str) -> Stats {
    let mut s = Stats::default();
    for line in log.lines() {
        if line.starts_with('#') && line.contains("cov:") {
            s.cov = field(line, "cov:").unwrap_or(s.cov);
            s.ft = field(line, "ft:").unwrap_or(s.ft);
            s.corpus = field(line, "corp:").unwrap_or(s.corpus);
        }
        if let Some(v) = line.strip_prefix("stat::number_of_executed_units:") {
            s.execs = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = line.strip_prefix("stat::average_exec_per_sec:") {
            s.execs_per_sec = v.trim().parse().unwrap_or(0);
        }
        if let Some(v) = line.strip_prefix("stat::peak_rss_mb:") {
            s.peak_rss_mb = v.trim().parse().unwrap_or(0);
        }
    }
    s
}

/// Run the targets.
pub fn run(repo: &Path, secs: u64, targets: &[String]) -> Result<ExitCode> {
    let fuzz = repo.join("fuzz");
    let selected: Vec<&str> = if targets.is_empty() {
        TARGETS.to_vec()
    } else {
        for t in targets {
            if !TARGETS.contains(&t.as_str()) {
                bail!("unknown fuzz target {t:?}; targets: {}", TARGETS.join(", "));
            }
        }
        targets.iter().map(String::as_str).collect()
    };
    let has_cargo_fuzz = Command::new("cargo")
        .args(["fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_cargo_fuzz {
        bail!("cargo-fuzz is not installed: run `cargo install cargo-fuzz`");
    }
    let logs = fuzz.join("logs");
    fs::create_dir_all(&logs)?;
    let mut found = Vec::new();
    println!(
        "{:<26} {:>12} {:>8} {:>7} {:>8} {:>7} {:>8}",
        "target", "executions", "exec/s", "cov", "ft", "corpus", "rss MB"
    );
    for t in selected {
        let corpus = fuzz.join("corpus").join(t);
        seed(repo, t, &corpus)?;
        let regressions = fuzz.join("regressions").join(t);
        fs::create_dir_all(&regressions)?;
        let log_path = logs.join(format!("{t}.log"));
        let log = fs::File::create(&log_path)?;
        let status = Command::new("nice")
            .args(["-n", "19", "cargo", "fuzz", "run", "-O", t])
            .arg(&corpus)
            .arg(&regressions)
            .arg("--")
            .arg(format!("-max_total_time={secs}"))
            .args([
                "-rss_limit_mb=2048",
                "-timeout=20",
                "-max_len=262144",
                "-print_final_stats=1",
            ])
            // gzip_blob and streamed run worker threads; LeakSanitizer reported the per-thread context of
            // std's channels (a thread-local freed by the thread's TLS destructors, after the
            // join) as a leak. Rust code of ours has no manual frees for it to check.
            .args(matches!(t, "gzip_blob" | "streamed").then_some("-detect_leaks=0"))
            .current_dir(&fuzz)
            .env("RUSTC_BOOTSTRAP", "1")
            .stdout(log.try_clone()?)
            .stderr(log)
            .status()
            .context("running cargo fuzz")?;
        let text = fs::read_to_string(&log_path).unwrap_or_default();
        let s = parse(&text);
        println!(
            "{t:<26} {:>12} {:>8} {:>7} {:>8} {:>7} {:>8}",
            s.execs, s.execs_per_sec, s.cov, s.ft, s.corpus, s.peak_rss_mb
        );
        if !status.success() {
            found.push(format!("{t} (see {})", log_path.display()));
        }
    }
    if found.is_empty() {
        println!("\nno findings");
        Ok(ExitCode::SUCCESS)
    } else {
        println!("\nFINDINGS: {}", found.join(", "));
        Ok(ExitCode::FAILURE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_libfuzzer_stats() {
        let log = "#1024\tpulse  cov: 10 ft: 20 corp: 5/1Kb exec/s: 3 rss: 40Mb\n\
                   #877821\tDONE   cov: 1088 ft: 2798 corp: 379/654Kb lim: 11759 exec/s: 1391 rss: 103Mb\n\
                   stat::number_of_executed_units: 877821\n\
                   stat::average_exec_per_sec:     1391\n\
                   stat::peak_rss_mb:              103\n";
        let s = parse(log);
        assert_eq!((s.execs, s.cov, s.ft, s.corpus), (877821, 1088, 2798, 379));
        assert_eq!((s.execs_per_sec, s.peak_rss_mb), (1391, 103));
    }

    #[test]
    fn every_target_is_in_the_fuzz_manifest() {
        let manifest = include_str!("../../fuzz/Cargo.toml");
        for t in TARGETS {
            assert!(manifest.contains(&format!("name = \"{t}\"")), "{t}");
        }
    }
}
