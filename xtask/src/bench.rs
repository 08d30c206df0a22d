//! `cargo xtask bench`: issue #7's performance targets, measured side by side.
//!
//! **Prepare** (cached in `--dir`, default `/tmp/layerproof-bench`; every step is skipped when
//! its output is present and the inputs recorded in `fixture.json` still match):
//!
//! ```text
//! context/rootfs.tar.gz   the Debian bookworm minbase rootfs (mmdebstrap, SOURCE_DATE_EPOCH=
//!                         1700000000, cached under <engines root>/cache as for `oracle
//!                         --with-minbase`), compressed with `gzip -n -6`
//! context/Dockerfile      FROM scratch / ADD rootfs.tar.gz / / CMD ["bash"]
//! image-26.1.tar          `docker buildx build --no-cache --load` on Docker 26.1, `docker save`d;
//!                         the same image is `docker push`ed to 127.0.0.1:5000/layerproof-bench/minbase:26.1
//! (registry)              127.0.0.1:5000/layerproof-bench/minbase-multi:26.1, a manifest list of
//!                         linux/amd64, linux/arm64, linux/arm/v7 and linux/386
//! results/                hyperfine JSON, each verify's JSON report and GNU time's peak RSS
//! ```
//!
//! The multi-platform image: Docker 26.1's default builder (`docker` driver, classic image store)
//! refuses multi-platform builds, and a `docker-container` builder would need the
//! moby/buildkit image from Docker Hub. So each platform is built on its own with the default
//! builder (`buildx build --no-cache --platform P --push -t …/minbase-multi:26.1-<P>`; `FROM
//! scratch` + `ADD` runs nothing, so no emulation is needed) and `buildx imagetools create`
//! joins the four pushed manifests into the manifest list `…/minbase-multi:26.1`. The daemon
//! treats 127.0.0.0/8 as an insecure (plain-HTTP) registry by default, and buildx's resolver
//! does the same for loopback hosts, so no extra registry configuration is needed.
//!
//! **Measure**: the release `layerproof` (built here, so never stale) is run once per command
//! under GNU `time` (peak RSS) with its verdict checked (exit 0, `"verdict": "reproduced"`);
//! then one `hyperfine` invocation times (a) `gzip -dc | sha256sum`, (b) verify of the
//! docker-archive, (c) of the registry image, (d) of the multi-platform image for linux/amd64 and
//! (e) with `--all-platforms`; a second one times (f) `docker buildx build --no-cache --load`.
//! The ratios are printed with issue #7's limits and, unless `--no-write`, written between the
//! `<!-- bench:begin -->` / `<!-- bench:end -->` markers of `docs/performance.md`.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::engines::{self, Engine, REGISTRY_ADDR, Version};
use crate::oracle;

const DOCKERFILE: &str = "FROM scratch\nADD rootfs.tar.gz /\nCMD [\"bash\"]\n";
const GZIP_ARGS: [&str; 2] = ["-n", "-6"];
const REPO_SINGLE: &str = "layerproof-bench/minbase";
const REPO_MULTI: &str = "layerproof-bench/minbase-multi";
const TAG: &str = "26.1";
const PLATFORMS: [&str; 4] = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/386"];
/// The tag of the image (f) builds again and again.
const BUILD_TAG: &str = "layerproof-bench/build:26.1";
const BEGIN: &str = "<!-- bench:begin -->";
const END: &str = "<!-- bench:end -->";
const RSS_LIMIT_MIB: f64 = 128.0;

pub struct Opts {
    pub dir: PathBuf,
    pub root: PathBuf,
    pub runs: u32,
    pub prepare_only: bool,
    pub no_write: bool,
    pub check: bool,
    pub note: Option<String>,
}

pub fn run(repo: &Path, o: &Opts) -> Result<ExitCode> {
    let t0 = Instant::now();
    fs::create_dir_all(&o.dir).with_context(|| format!("creating {}", o.dir.display()))?;
    let dir = o
        .dir
        .canonicalize()
        .with_context(|| format!("resolving {}", o.dir.display()))?;
    let engs = engines::start(&o.root)?;
    let d26 = engs
        .iter()
        .find(|e| e.version == Version::D26)
        .context("engines::start returned no Docker 26.1")?
        .clone();
    let fx = prepare(&dir, &o.root, &d26)?;
    let prepare_time = t0.elapsed();
    let tb = Instant::now();
    let bin = build_release(repo)?;
    let build_time = tb.elapsed();
    eprintln!(
        "bench: fixture ready in {} ({:.0} s; release build {:.0} s)",
        dir.display(),
        prepare_time.as_secs_f64(),
        build_time.as_secs_f64()
    );
    if o.prepare_only {
        return Ok(ExitCode::SUCCESS);
    }
    let t1 = Instant::now();
    let report = measure(repo, &dir, &fx, &d26, &bin, o)?;
    let measure_time = t1.elapsed();
    let prepared = format!(
        "prepare {:.0} s ({}), cargo build --release {:.0} s",
        prepare_time.as_secs_f64(),
        if fx.made.is_empty() {
            "fixture reused".to_string()
        } else {
            format!("made: {}", fx.made.join(", "))
        },
        build_time.as_secs_f64()
    );
    let md = report.markdown(o.note.as_deref(), &prepared, measure_time);
    println!("\n{md}");
    if !o.no_write {
        let doc = repo.join("docs/performance.md");
        write_block(&doc, &md)?;
        println!("wrote the table to {}", doc.display());
    }
    let failed = report.targets.iter().filter(|t| !t.pass()).count();
    println!(
        "bench: {prepared}, measure {:.0} s; {} of {} targets met",
        measure_time.as_secs_f64(),
        report.targets.len() - failed,
        report.targets.len()
    );
    Ok(if o.check && failed > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

// ---------------------------------------------------------------------------------------------
// Prepare

struct Fixture {
    ctx: PathBuf,
    archive: PathBuf,
    single_ref: String,
    multi_ref: String,
    docker_version: String,
    /// The steps done this time (the others were reused from the bench dir).
    made: Vec<&'static str>,
}

fn sha256_file(p: &Path) -> Result<String> {
    let mut f = fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f
            .read(&mut buf)
            .with_context(|| format!("reading {}", p.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn save_state(path: &Path, state: &Value) -> Result<()> {
    let mut s = serde_json::to_vec_pretty(state)?;
    s.push(b'\n');
    fs::write(path, s).with_context(|| format!("writing {}", path.display()))
}

fn prepare(dir: &Path, root: &Path, d26: &Engine) -> Result<Fixture> {
    let state_path = dir.join("fixture.json");
    let mut state: Value = fs::read(&state_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({}));
    let ctx = dir.join("context");
    fs::create_dir_all(&ctx)?;
    let mut made = Vec::new();
    // oracle::minbase caches it there; say so when mmdebstrap runs this time.
    if !root.join("cache/minbase-bookworm.tar").is_file() {
        made.push("mmdebstrap minbase");
    }

    // The rootfs tarball.
    let (tar, meta) = oracle::minbase(&root.join("cache"))?;
    eprintln!("bench: hashing {}", tar.display());
    let inputs = json!({
        "made_by": meta["made_by"],
        "tar": tar.display().to_string(),
        "tar_sha256": sha256_file(&tar)?,
        "compress": format!("gzip {}", GZIP_ARGS.join(" ")),
    });
    let rootfs = ctx.join("rootfs.tar.gz");
    let fresh = state["rootfs"]["inputs"] == inputs
        && rootfs.is_file()
        && state["rootfs"]["sha256"] == json!(sha256_file(&rootfs)?);
    if fresh {
        eprintln!("bench: reusing {}", rootfs.display());
    } else {
        eprintln!("bench: gzip {} {}", GZIP_ARGS.join(" "), tar.display());
        let partial = ctx.join("rootfs.tar.gz.partial");
        let out = fs::File::create(&partial)?;
        let status = Command::new("gzip")
            .args(GZIP_ARGS)
            .arg("-c")
            .arg(&tar)
            .stdout(out)
            .status()
            .context("running gzip")?;
        if !status.success() {
            bail!("gzip {} failed ({status})", tar.display());
        }
        fs::rename(&partial, &rootfs)?;
        made.push("rootfs.tar.gz");
        state["rootfs"] = json!({"inputs": inputs, "sha256": sha256_file(&rootfs)?});
        save_state(&state_path, &state)?;
    }
    let dockerfile = ctx.join("Dockerfile");
    if fs::read_to_string(&dockerfile).ok().as_deref() != Some(DOCKERFILE) {
        fs::write(&dockerfile, DOCKERFILE)?;
    }

    let buildx = engines::run(d26.docker(None).args(["buildx", "version"]))
        .context("docker buildx version")
        .context("Docker 26.1 needs the buildx plugin (`cargo xtask engines` installs it)")?;
    let buildx = buildx
        .split_whitespace()
        .nth(1)
        .unwrap_or("unknown")
        .to_string();
    let docker_version = format!("Docker {} (buildx {buildx})", d26.server_version);
    let key = format!(
        "rootfs {}; Dockerfile {}; {docker_version}",
        state["rootfs"]["sha256"].as_str().unwrap_or(""),
        crate::sha256_hex(DOCKERFILE.as_bytes())
    );

    // The single-platform image: docker-archive and registry.
    let archive = dir.join("image-26.1.tar");
    let single_ref = format!("{REGISTRY_ADDR}/{REPO_SINGLE}:{TAG}");
    let fresh = state["single"]["key"] == json!(key)
        && archive.is_file()
        && state["single"]["archive_sha256"] == json!(sha256_file(&archive)?)
        && registry_digest(REPO_SINGLE, TAG)?.map(Value::from)
            == Some(state["single"]["digest"].clone());
    if fresh {
        eprintln!("bench: reusing {} and {single_ref}", archive.display());
    } else {
        eprintln!("bench: building {single_ref} with Docker 26.1 (buildx, BuildKit)");
        engines::run(
            d26.docker(Some(true))
                .args(["buildx", "build", "--no-cache", "--load", "-q", "-t"])
                .arg(&single_ref)
                .arg(&ctx),
        )
        .context("docker buildx build")?;
        let partial = dir.join("image-26.1.tar.partial");
        engines::run(
            d26.docker(None)
                .args(["save", "-o"])
                .arg(&partial)
                .arg(&single_ref),
        )
        .context("docker save")?;
        fs::rename(&partial, &archive)?;
        made.push("image-26.1 (docker-archive and registry)");
        eprintln!("bench: pushing {single_ref}");
        engines::run(d26.docker(None).args(["push", "-q", &single_ref])).context("docker push")?;
        let digest = registry_digest(REPO_SINGLE, TAG)?
            .with_context(|| format!("{single_ref} is not in the registry after docker push"))?;
        state["single"] = json!({
            "key": key,
            "archive_sha256": sha256_file(&archive)?,
            "ref": single_ref,
            "digest": digest,
        });
        save_state(&state_path, &state)?;
    }

    // The multi-platform image.
    let multi_ref = format!("{REGISTRY_ADDR}/{REPO_MULTI}:{TAG}");
    let fresh = state["multi"]["key"] == json!(key)
        && registry_digest(REPO_MULTI, TAG)?.map(Value::from)
            == Some(state["multi"]["digest"].clone());
    if fresh {
        eprintln!("bench: reusing {multi_ref}");
    } else {
        let mut parts = Vec::new();
        for p in PLATFORMS {
            let r = format!(
                "{REGISTRY_ADDR}/{REPO_MULTI}:{TAG}-{}",
                p.trim_start_matches("linux/").replace('/', "-")
            );
            eprintln!("bench: building and pushing {r} ({p})");
            engines::run(
                d26.docker(Some(true))
                    .args(["buildx", "build", "--no-cache", "--push", "-q"])
                    .args(["--platform", p, "-t", &r])
                    .arg(&ctx),
            )
            .context("docker buildx build --push")?;
            parts.push(r);
        }
        eprintln!("bench: joining them into the manifest list {multi_ref}");
        made.push("the 4-platform image");
        engines::run(
            d26.docker(None)
                .args(["buildx", "imagetools", "create", "-t", &multi_ref])
                .args(&parts),
        )
        .context("docker buildx imagetools create")?;
        // The per-platform tags stay in the registry (the list refers to them by digest), not in the daemon.
        let _ = d26.docker(None).arg("rmi").args(&parts).output();
        let (digest, body) = registry_manifest(REPO_MULTI, TAG, "GET")?.with_context(|| {
            format!("{multi_ref} is not in the registry after imagetools create")
        })?;
        let list: Value = serde_json::from_slice(&body)
            .with_context(|| format!("the manifest of {multi_ref} is not JSON"))?;
        let n = list["manifests"].as_array().map_or(0, Vec::len);
        if n != PLATFORMS.len() {
            bail!(
                "{multi_ref} lists {n} manifests, expected {}",
                PLATFORMS.len()
            );
        }
        state["multi"] = json!({
            "key": key,
            "ref": multi_ref,
            "platforms": PLATFORMS,
            "digest": digest,
            "made_by": "per platform: docker buildx build --no-cache --platform P --push; then docker buildx imagetools create",
        });
        save_state(&state_path, &state)?;
    }
    Ok(Fixture {
        ctx,
        archive,
        single_ref,
        multi_ref,
        docker_version,
        made,
    })
}

/// The manifest digest the loopback registry serves for `repo:tag`, if any.
fn registry_digest(repo: &str, tag: &str) -> Result<Option<String>> {
    Ok(registry_manifest(repo, tag, "HEAD")?.map(|(d, _)| d))
}

/// `(Docker-Content-Digest, body)` of `repo:tag` from the loopback registry (plain HTTP/1.0).
fn registry_manifest(repo: &str, tag: &str, method: &str) -> Result<Option<(String, Vec<u8>)>> {
    let addr = REGISTRY_ADDR.parse().context("registry address")?;
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to the registry on {REGISTRY_ADDR}"))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let accept = [
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    ]
    .join(", ");
    write!(
        s,
        "{method} /v2/{repo}/manifests/{tag} HTTP/1.0\r\nHost: {REGISTRY_ADDR}\r\nAccept: {accept}\r\n\r\n"
    )?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp)
        .with_context(|| format!("reading the registry's answer for {repo}:{tag}"))?;
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("malformed HTTP answer from the registry")?;
    let head = String::from_utf8_lossy(&resp[..split]).into_owned();
    let body = resp[split + 4..].to_vec();
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status == "404" {
        return Ok(None);
    }
    if status != "200" {
        bail!(
            "registry answered {:?} for {repo}:{tag}",
            head.lines().next().unwrap_or("")
        );
    }
    let digest = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case("docker-content-digest")
                .then(|| v.trim().to_string())
        })
        .context("the registry sent no Docker-Content-Digest")?;
    Ok(Some((digest, body)))
}

/// `cargo build --release --locked -p layerproof-cli`; the binary's path from cargo's own report.
fn build_release(repo: &Path) -> Result<PathBuf> {
    eprintln!("bench: cargo build --release --locked -p layerproof-cli");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(repo)
        .args([
            "build",
            "--release",
            "--locked",
            "-p",
            "layerproof-cli",
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .context("running cargo build")?;
    if !out.status.success() {
        bail!(
            "cargo build --release -p layerproof-cli failed ({})",
            out.status
        );
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "layerproof")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .context("cargo build reported no `layerproof` executable")
}

// ---------------------------------------------------------------------------------------------
// Measure

fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-:=+,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Installs a Debian package when `bin` is missing (root only).
fn ensure_tool(bin: &str, package: &str) -> Result<()> {
    let found = if bin.contains('/') {
        Path::new(bin).is_file()
    } else {
        Command::new("sh")
            .args(["-c", &format!("command -v {bin}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if found {
        return Ok(());
    }
    eprintln!("bench: {bin} is missing; apt-get install -y {package}");
    let ok = Command::new("apt-get")
        .args(["install", "-y", "-qq", package])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        bail!(
            "{bin} is needed (Debian package `{package}`) and `apt-get install {package}` failed"
        );
    }
    Ok(())
}

struct Cmd {
    id: char,
    name: &'static str,
    /// Arguments to layerproof (relative to the bench dir); None for a plain shell command.
    args: Option<Vec<String>>,
    shell: String,
    display: String,
    mean: f64,
    stddev: Option<f64>,
    rss_kib: Option<u64>,
    verdict: String,
}

struct Target {
    what: String,
    value: f64,
    limit: f64,
    unit: &'static str,
}

impl Target {
    fn pass(&self) -> bool {
        self.value.is_finite() && self.value <= self.limit
    }
}

struct Report {
    cmds: Vec<Cmd>,
    targets: Vec<Target>,
    date: String,
    machine: String,
    load_before: String,
    load_after: String,
    docker: String,
    layerproof: String,
    runs: u32,
    build_runs: u32,
}

fn read_trim(p: &str) -> String {
    fs::read_to_string(p).unwrap_or_default().trim().to_string()
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<f64>().ok())
        })
        .map_or(0.0, |k| k / (1 << 20) as f64);
    format!(
        "{cores} cores ({cpu}), {mem_gib:.0} GiB, kernel {}",
        read_trim("/proc/sys/kernel/osrelease")
    )
}

fn loadavg() -> String {
    read_trim("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn git_desc(repo: &Path) -> String {
    let head = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown commit".into());
    let dirty = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args([
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "crates",
            "Cargo.toml",
            "Cargo.lock",
        ])
        .output()
        .ok()
        .map(|o| !o.stdout.is_empty());
    match dirty {
        Some(false) => format!("{head} (clean)"),
        Some(true) => format!("{head} + uncommitted changes in crates/ or Cargo.*"),
        None => format!("{head} (dirty state unknown)"),
    }
}

fn now_utc() -> String {
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let s = oracle::rfc3339(t as f64);
    format!("{}Z", &s[..19.min(s.len())])
}

/// Runs `layerproof ARGS` once under GNU time in `dir`: the verdict must be reproduced.
fn check_verdict(dir: &Path, bin: &Path, c: &mut Cmd) -> Result<()> {
    let Some(args) = &c.args else {
        return Ok(());
    };
    let results = dir.join("results");
    let time_file = results.join(format!("{}.time", c.id));
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&time_file)
        .arg(bin)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .context("running layerproof under /usr/bin/time")?;
    fs::write(results.join(format!("{}.json", c.id)), &out.stdout)?;
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let verdict = r["verdict"].as_str().unwrap_or("");
    if !out.status.success() || verdict != "reproduced" {
        bail!(
            "({}) {} did not reproduce ({}; verdict {verdict:?}); a benchmark of a failing verify means nothing.\ncommand: {}\n{}\n{}",
            c.id,
            c.name,
            out.status,
            c.display,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout)
                .chars()
                .take(4000)
                .collect::<String>()
        );
    }
    if args.iter().any(|a| a == "--all-platforms") {
        let n = r["platforms"].as_array().map_or(0, Vec::len);
        if n != PLATFORMS.len() {
            bail!(
                "({}) {} verified {n} platforms, expected {}",
                c.id,
                c.name,
                PLATFORMS.len()
            );
        }
    }
    let level = r["level"].as_str().unwrap_or("?");
    let platform = r["platform"].as_str().unwrap_or("?");
    c.verdict = format!("{verdict} ({level})");
    let text = fs::read_to_string(&time_file).unwrap_or_default();
    c.rss_kib = text.lines().last().and_then(|l| l.trim().parse().ok());
    eprintln!(
        "bench: ({}) {}: {verdict}, level {level}, platform {platform}, peak RSS {}",
        c.id,
        c.name,
        c.rss_kib
            .map_or("?".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0))
    );
    Ok(())
}

/// Runs hyperfine over `cmds` in `dir`; fills their mean and standard deviation.
fn hyperfine(
    dir: &Path,
    cmds: &mut [&mut Cmd],
    runs: u32,
    json_name: &str,
    env: Option<&Command>,
) -> Result<()> {
    let json_path = dir.join("results").join(json_name);
    let mut h = Command::new("hyperfine");
    h.current_dir(dir)
        .arg("--warmup")
        .arg("1")
        .arg("--runs")
        .arg(runs.to_string())
        .arg("--export-json")
        .arg(&json_path)
        .stdin(Stdio::null());
    if let Some(e) = env {
        for (k, v) in e.get_envs() {
            match v {
                Some(v) => h.env(k, v),
                None => h.env_remove(k),
            };
        }
    }
    for c in cmds.iter() {
        h.arg("-n")
            .arg(format!("({}) {}", c.id, c.name))
            .arg(&c.shell);
    }
    let status = h.status().context("running hyperfine")?;
    if !status.success() {
        bail!("hyperfine failed ({status})");
    }
    let v: Value = serde_json::from_slice(
        &fs::read(&json_path).with_context(|| format!("reading {}", json_path.display()))?,
    )
    .context("hyperfine's JSON export")?;
    let results = v["results"]
        .as_array()
        .context("hyperfine JSON has no results")?;
    if results.len() != cmds.len() {
        bail!(
            "hyperfine reported {} results for {} commands",
            results.len(),
            cmds.len()
        );
    }
    for (c, r) in cmds.iter_mut().zip(results) {
        c.mean = r["mean"]
            .as_f64()
            .context("hyperfine result without a mean")?;
        c.stddev = r["stddev"].as_f64();
    }
    Ok(())
}

fn measure(
    repo: &Path,
    dir: &Path,
    fx: &Fixture,
    d26: &Engine,
    bin: &Path,
    o: &Opts,
) -> Result<Report> {
    ensure_tool("hyperfine", "hyperfine")?;
    ensure_tool("/usr/bin/time", "time")?;
    fs::create_dir_all(dir.join("results"))?;
    let rel = |p: &Path| {
        p.strip_prefix(dir)
            .map_or_else(|_| p.display().to_string(), |r| r.display().to_string())
    };
    let ctx = rel(&fx.ctx);
    let dockerfile = format!("{ctx}/Dockerfile");
    let rootfs = format!("{ctx}/rootfs.tar.gz");
    let verify = |image: String, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = vec![
            "verify".into(),
            "--dockerfile".into(),
            dockerfile.clone(),
            "--image".into(),
            image,
        ];
        v.extend(extra.iter().map(|s| s.to_string()));
        v.extend(["--no-cache".into(), "--format".into(), "json".into()]);
        v
    };
    let bin_q = sh_quote(&bin.display().to_string());
    let mk = |id: char, name: &'static str, args: Option<Vec<String>>, shell: String| {
        let (shell, display) = match &args {
            Some(a) => {
                let a: Vec<String> = a.iter().map(|s| sh_quote(s)).collect();
                (
                    format!("{bin_q} {}", a.join(" ")),
                    format!("layerproof {}", a.join(" ")),
                )
            }
            None => (shell.clone(), shell),
        };
        Cmd {
            id,
            name,
            args,
            shell,
            display,
            mean: f64::NAN,
            stddev: None,
            rss_kib: None,
            verdict: String::new(),
        }
    };
    let mut a = mk(
        'a',
        "gzip -dc | sha256sum",
        None,
        format!("gzip -dc {} | sha256sum", sh_quote(&rootfs)),
    );
    let mut b = mk(
        'b',
        "verify docker-archive",
        Some(verify(format!("docker-archive:{}", rel(&fx.archive)), &[])),
        String::new(),
    );
    let mut c = mk(
        'c',
        "verify registry image",
        Some(verify(format!("docker://{}", fx.single_ref), &[])),
        String::new(),
    );
    let mut d = mk(
        'd',
        "verify 4-platform image, linux/amd64",
        Some(verify(
            format!("docker://{}", fx.multi_ref),
            &["--platform", "linux/amd64"],
        )),
        String::new(),
    );
    let mut e = mk(
        'e',
        "verify 4-platform image, --all-platforms",
        Some(verify(
            format!("docker://{}", fx.multi_ref),
            &["--all-platforms"],
        )),
        String::new(),
    );
    let client = sh_quote(&d26.client.display().to_string());
    let build_args = format!(
        "buildx build --no-cache --load -q -t {BUILD_TAG} {}",
        sh_quote(&ctx)
    );
    let mut f = mk(
        'f',
        "docker buildx build --no-cache (26.1)",
        None,
        format!("{client} {build_args}"),
    );
    f.display = format!("docker {build_args}");

    for cmd in [&mut b, &mut c, &mut d, &mut e] {
        check_verdict(dir, bin, cmd)?;
    }
    let load_before = loadavg();
    eprintln!("bench: load average before timing: {load_before}");
    hyperfine(
        dir,
        &mut [&mut a, &mut b, &mut c, &mut d, &mut e],
        o.runs,
        "hyperfine-verify.json",
        None,
    )?;
    let build_runs = o.runs.min(3);
    let env = d26.docker(Some(true));
    hyperfine(
        dir,
        &mut [&mut f],
        build_runs,
        "hyperfine-docker-build.json",
        Some(&env),
    )?;
    let load_after = loadavg();

    let rss_b = b.rss_kib.map_or(f64::NAN, |k| k as f64 / 1024.0);
    let targets = vec![
        Target {
            what: "(b) verify docker-archive / (a) gzip -dc | sha256sum".into(),
            value: b.mean / a.mean,
            limit: 0.30,
            unit: "×",
        },
        Target {
            what: "(b) verify docker-archive / (f) docker buildx build --no-cache".into(),
            value: b.mean / f.mean,
            limit: 0.10,
            unit: "×",
        },
        Target {
            what: "peak RSS of (b)".into(),
            value: rss_b,
            limit: RSS_LIMIT_MIB,
            unit: " MiB",
        },
        Target {
            what: "(c) registry / (b) docker-archive".into(),
            value: c.mean / b.mean,
            limit: 1.2,
            unit: "×",
        },
        Target {
            what: "(e) --all-platforms (4) / (d) one platform".into(),
            value: e.mean / d.mean,
            limit: 2.3,
            unit: "×",
        },
    ];
    Ok(Report {
        cmds: vec![a, b, c, d, e, f],
        targets,
        date: now_utc(),
        machine: machine(),
        load_before,
        load_after,
        docker: fx.docker_version.clone(),
        layerproof: git_desc(repo),
        runs: o.runs,
        build_runs,
    })
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

impl Report {
    fn markdown(&self, note: Option<&str>, prepared: &str, measure: Duration) -> String {
        let mut s = format!("## Latest `cargo xtask bench` — {}\n\n", self.date);
        if let Some(n) = note {
            s += &format!("**{n}**\n\n");
        }
        s += &format!(
            "Machine: {}; load average {} before timing, {} after. {}. layerproof {}.\n\
             hyperfine `--warmup 1 --runs {}` for (a)–(e) in one invocation, `--runs {}` for (f).\n\
             Fixture: Debian bookworm minbase (mmdebstrap, SOURCE_DATE_EPOCH=1700000000), `gzip -n -6`;\n\
             `FROM scratch` / `ADD rootfs.tar.gz /` / `CMD [\"bash\"]` built by Docker 26.1 with BuildKit.\n\
             Bench time: {prepared}, measure {:.0} s.\n\n",
            self.machine,
            self.load_before,
            self.load_after,
            self.docker,
            self.layerproof,
            self.runs,
            self.build_runs,
            measure.as_secs_f64()
        );
        s += "| | command | mean ± σ | peak RSS | verdict |\n|---|---|---|---|---|\n";
        for c in &self.cmds {
            s += &format!(
                "| {} | `{}` | {} ± {} | {} | {} |\n",
                c.id,
                c.display.replace('|', "\\|"),
                secs(c.mean),
                c.stddev.map_or("?".into(), secs),
                c.rss_kib
                    .map_or("—".into(), |k| format!("{:.0} MiB", k as f64 / 1024.0)),
                if c.verdict.is_empty() {
                    "—"
                } else {
                    &c.verdict
                }
            );
        }
        s += "\n| target (issue #7) | measured | limit | |\n|---|---|---|---|\n";
        for t in &self.targets {
            let v = if t.unit == "×" {
                format!("{:.2}{}", t.value, t.unit)
            } else {
                format!("{:.0}{}", t.value, t.unit)
            };
            let l = if t.unit == "×" {
                format!("≤ {:.2}{}", t.limit, t.unit)
            } else {
                format!("≤ {:.0}{}", t.limit, t.unit)
            };
            s += &format!(
                "| {} | {v} | {l} | {} |\n",
                t.what.replace('|', "\\|"),
                if t.pass() { "PASS" } else { "FAIL" }
            );
        }
        s
    }
}

/// Replaces the text between the markers (appends a marked block when there is none).
fn write_block(doc: &Path, md: &str) -> Result<()> {
    let text = fs::read_to_string(doc).unwrap_or_default();
    let new = match (text.find(BEGIN), text.find(END)) {
        (Some(b), Some(e)) if b < e => format!("{}{BEGIN}\n{md}{}", &text[..b], &text[e..]),
        _ => {
            let sep = if text.is_empty() || text.ends_with("\n\n") {
                ""
            } else if text.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{text}{sep}{BEGIN}\n{md}{END}\n")
        }
    };
    fs::write(doc, new).with_context(|| format!("writing {}", doc.display()))
}
