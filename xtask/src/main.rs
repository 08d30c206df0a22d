//! `cargo xtask <task>`: everything beyond build and test.
//!
//! * `engines [--stop]`: install and start Docker 20.10, Docker 26.1 and a registry (real oracles).
//! * `gen-testdata [--check]`: write the edge-case input tarballs to `testdata/gen/`.
//! * `oracle [--record | --check-provenance] [--with-minbase] [--case NAME]…`: build every case with
//!   the real engines; record Docker's layers under `testdata/oracle/`, verify the recorded hashes,
//!   or compare live builds with layerproof and with the records.
//! * `hostile [--generate | --check] [--case NAME]…`: the hostile-input corpus (`testdata/hostile/`).
//! * `fuzz [--time SECS] [TARGET]…`: run the cargo-fuzz targets in `fuzz/`.
//! * `bench [--dir DIR] [--runs N] [--prepare-only] [--no-write] [--check] [--note TEXT]`: issue
//!   #7's benchmark: prepare the minbase fixture and images, time them side by side with
//!   hyperfine, print the ratios and peak RSS and write them to `docs/performance.md`.

mod bench;
mod compare;
mod dump;
mod engines;
mod fuzz;
mod hostile;
mod oracle;
mod tarw;
mod testgen;
#[cfg(test)]
mod tidy;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use sha2::{Digest, Sha256};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "layerproof development tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Install (apt), start and wait for Docker 20.10, Docker 26.1 and the registry; print sockets.
    Engines {
        /// Stop the daemons started under --root instead.
        #[arg(long)]
        stop: bool,
        #[arg(
            long,
            env = "LAYERPROOF_ENGINES_ROOT",
            default_value = "/tmp/layerproof-engines"
        )]
        root: PathBuf,
    },
    /// Write the generated input tarballs to testdata/gen/.
    GenTestdata {
        /// Compare with the committed files instead of writing.
        #[arg(long)]
        check: bool,
    },
    /// Build every case with the real engines.
    Oracle {
        /// Record Docker's outputs under testdata/oracle/ (real engines only).
        #[arg(long, conflicts_with = "check_provenance")]
        record: bool,
        /// Re-hash every recorded file against its PROVENANCE.json; needs no engine.
        #[arg(long)]
        check_provenance: bool,
        /// Only regenerate SUMMARY.md from the recorded folders (no engine needed).
        #[arg(long, conflicts_with_all = ["record", "check_provenance"])]
        summary: bool,
        /// Also build the large Debian bookworm minbase rootfs (mmdebstrap; never committed).
        #[arg(long)]
        with_minbase: bool,
        /// Only these cases (repeatable).
        #[arg(long = "case")]
        cases: Vec<String>,
        #[arg(
            long,
            env = "LAYERPROOF_ENGINES_ROOT",
            default_value = "/tmp/layerproof-engines"
        )]
        root: PathBuf,
    },
    /// Run `layerproof inspect` on the hostile corpus (exit code, message, time and RSS bounds).
    Hostile {
        /// Write testdata/hostile/ from the generator instead.
        #[arg(long, conflicts_with = "check")]
        generate: bool,
        /// Only compare testdata/hostile/ with the generator.
        #[arg(long)]
        check: bool,
        /// Only these cases (repeatable).
        #[arg(long = "case")]
        cases: Vec<String>,
    },
    /// Run the cargo-fuzz targets, each for a set time, and report executions and coverage.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 600)]
        time: u64,
        /// Targets (default: all).
        targets: Vec<String>,
    },
    /// Issue #7's benchmark: fixture, engines, registry; hyperfine ratios and peak RSS.
    Bench {
        /// Where the fixture, the images and the results are kept (reused when up to date).
        #[arg(
            long,
            env = "LAYERPROOF_BENCH_DIR",
            default_value = "/tmp/layerproof-bench"
        )]
        dir: PathBuf,
        /// hyperfine runs per command (the docker build gets min(N, 3)).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
        runs: u32,
        /// Only prepare the fixture, the images and the release binary.
        #[arg(long)]
        prepare_only: bool,
        /// Do not rewrite the table in docs/performance.md.
        #[arg(long)]
        no_write: bool,
        /// Exit non-zero when a target is not met.
        #[arg(long)]
        check: bool,
        /// A line to print above the table (e.g. "development run, loaded machine").
        #[arg(long)]
        note: Option<String>,
        #[arg(
            long,
            env = "LAYERPROOF_ENGINES_ROOT",
            default_value = "/tmp/layerproof-engines"
        )]
        root: PathBuf,
    },
}

pub fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn repo_root() -> Result<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    dir.parent()
        .map(Path::to_path_buf)
        .context("xtask has no parent directory")
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    let repo = repo_root()?;
    let gen_dir = repo.join("testdata/gen");
    let oracle_dir = repo.join("testdata/oracle");
    match cli.task {
        Task::Engines { stop, root } => {
            if stop {
                engines::stop(&root)?;
            } else {
                let e = engines::start(&root)?;
                engines::print(&e);
            }
            Ok(ExitCode::SUCCESS)
        }
        Task::Hostile {
            generate,
            check,
            cases,
        } => {
            let dir = repo.join("testdata/hostile");
            if generate || check {
                hostile::generate(&dir, check)?;
                return Ok(ExitCode::SUCCESS);
            }
            hostile::run(&repo, &cases)
        }
        Task::Fuzz { time, targets } => fuzz::run(&repo, time, &targets),
        Task::Bench {
            dir,
            runs,
            prepare_only,
            no_write,
            check,
            note,
            root,
        } => bench::run(
            &repo,
            &bench::Opts {
                dir,
                root,
                runs,
                prepare_only,
                no_write,
                check,
                note,
            },
        ),
        Task::GenTestdata { check } => {
            testgen::run(&gen_dir, check)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Oracle {
            check_provenance: true,
            ..
        } => {
            oracle::check_provenance(&oracle_dir)?;
            Ok(ExitCode::SUCCESS)
        }
        Task::Oracle { summary: true, .. } => {
            oracle::write_summary(&oracle_dir, &testgen::cases()?, &oracle::all_combos())?;
            println!("wrote {}", oracle_dir.join("SUMMARY.md").display());
            Ok(ExitCode::SUCCESS)
        }
        Task::Oracle {
            record,
            with_minbase,
            cases,
            root,
            ..
        } => {
            let all = testgen::cases()?;
            let selected: Vec<&testgen::Case> = all
                .iter()
                .filter(|c| cases.is_empty() || cases.iter().any(|n| n == c.name))
                .collect();
            for n in &cases {
                if n != "minbase-bookworm" && !all.iter().any(|c| c.name == n) {
                    bail!("unknown case {n:?}; see testdata/gen/cases.json");
                }
            }
            testgen::run(&gen_dir, true)
                .context("testdata/gen must match the generator before building")?;
            let engs = engines::discover(&root)?;
            let combos: Vec<String> = engs
                .iter()
                .flat_map(|e| oracle::BUILDERS.map(|b| oracle::combo(e, b)))
                .collect();
            let minbase = if with_minbase || cases.iter().any(|n| n == "minbase-bookworm") {
                let (path, meta) = oracle::minbase(&root.join("cache"))?;
                Some((
                    oracle::Input {
                        name: "minbase-bookworm".into(),
                        file_name: "minbase-bookworm.tar".into(),
                        bytes_path: path,
                        dockerfile: "FROM scratch\nADD minbase-bookworm.tar /\nCMD [\"/bin/sh\"]\n"
                            .into(),
                    },
                    meta,
                ))
            } else {
                None
            };
            if record {
                std::fs::create_dir_all(&oracle_dir)?;
                let rc = oracle::RecordCtx::new(&repo, &oracle_dir, &engs)?;
                for c in &selected {
                    oracle::record_case(
                        &rc,
                        &oracle::Input::from_case(c, &gen_dir),
                        true,
                        serde_json::json!({}),
                    )?;
                }
                if let Some((input, meta)) = &minbase {
                    oracle::record_case(&rc, input, false, meta.clone())?;
                }
                if cases.is_empty() {
                    remove_stale(&oracle_dir, &all)?;
                }
                oracle::write_summary(&oracle_dir, &all, &combos)?;
                println!(
                    "recorded under {}; summary in testdata/oracle/SUMMARY.md",
                    oracle_dir.display()
                );
                return Ok(ExitCode::SUCCESS);
            }
            live(
                &engs,
                &selected,
                minbase.as_ref().map(|m| &m.0),
                &gen_dir,
                &oracle_dir,
            )
        }
    }
}

fn remove_stale(oracle_dir: &Path, all: &[testgen::Case]) -> Result<()> {
    for e in std::fs::read_dir(oracle_dir)? {
        let e = e?;
        let n = e.file_name().to_string_lossy().into_owned();
        if e.file_type()?.is_dir() && n != "minbase-bookworm" && !all.iter().any(|c| c.name == n) {
            std::fs::remove_dir_all(e.path())?;
        }
    }
    Ok(())
}

fn live(
    engs: &[engines::Engine],
    selected: &[&testgen::Case],
    minbase: Option<&oracle::Input>,
    gen_dir: &Path,
    oracle_dir: &Path,
) -> Result<ExitCode> {
    let mut inputs: Vec<oracle::Input> = selected
        .iter()
        .map(|c| oracle::Input::from_case(c, gen_dir))
        .collect();
    if let Some(m) = minbase {
        inputs.push(oracle::Input {
            name: m.name.clone(),
            file_name: m.file_name.clone(),
            bytes_path: m.bytes_path.clone(),
            dockerfile: m.dockerfile.clone(),
        });
    }
    let work = tempfile::tempdir()?;
    let (mut ok, mut failed, mut not_wired, mut drift) = (0, 0, 0, 0);
    for input in &inputs {
        for e in engs {
            for b in oracle::BUILDERS {
                let combo = oracle::combo(e, b);
                let built = oracle::build(e, b, input, work.path())?;
                let rec = oracle::against_record(oracle_dir, &input.name, &combo, &built);
                let verdict = compare::compare(input, &e.server_version, b.label(), &built);
                let (tag, text) = match verdict {
                    compare::Verdict::Match(t) => {
                        ok += 1;
                        ("ok", t)
                    }
                    compare::Verdict::Mismatch(t) => {
                        failed += 1;
                        ("MISMATCH", t)
                    }
                    compare::Verdict::NotWired => {
                        not_wired += 1;
                        ("FAIL", "comparison not wired yet".to_string())
                    }
                };
                let rec_text = match rec {
                    Ok(t) => t,
                    Err(t) => {
                        drift += 1;
                        format!("RECORD DRIFT: {t}")
                    }
                };
                println!(
                    "{:<40} {:<22} {tag}: {text}; docker vs record: {rec_text}",
                    input.name, combo
                );
            }
        }
    }
    println!(
        "\n{ok} matched, {failed} mismatched, {not_wired} not compared (comparison not wired yet), {drift} differ from the recorded fixtures"
    );
    Ok(if failed + not_wired + drift == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
