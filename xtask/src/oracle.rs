//! `cargo xtask oracle`: build every case with the real engines and record or compare what they wrote.
//!
//! `--record` writes `testdata/oracle/<case>/<engine>-<builder>/` (layer.tar, layer.txt dump,
//! diff_id, config.json, build.json; or refusal.txt), the case input and Dockerfile, one
//! PROVENANCE.json per case and SUMMARY.md. `--check-provenance` re-hashes every recorded file.
//! Without flags it rebuilds live and compares against layerproof (see [`crate::compare`]) and
//! against the recorded fixtures.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use crate::engines::{Engine, Version};
use crate::testgen::Case;
use crate::{dump, sha256_hex};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Builder {
    Classic,
    Buildkit,
}

impl Builder {
    pub fn label(self) -> &'static str {
        match self {
            Builder::Classic => "classic",
            Builder::Buildkit => "buildkit",
        }
    }
}

pub const BUILDERS: [Builder; 2] = [Builder::Classic, Builder::Buildkit];

/// Every `<engine>-<builder>` folder name, in table order.
pub fn all_combos() -> Vec<String> {
    [Version::D20, Version::D26]
        .iter()
        .flat_map(|v| BUILDERS.map(|b| format!("{}-{}", v.label(), b.label())))
        .collect()
}

/// What one engine/builder did with one case.
pub enum DockerResult {
    Built {
        /// The exact layer bytes from `docker save` (None when the image has no layer).
        layer: Option<Vec<u8>>,
        config: Vec<u8>,
        diff_ids: Vec<String>,
    },
    Refused {
        /// Docker's message, normalised (temp paths, ids, timings removed).
        message: String,
    },
}

pub struct Build {
    pub result: DockerResult,
    pub started: f64,
    pub finished: f64,
    pub command: Vec<String>,
}

impl Build {
    pub fn window(&self) -> (u64, u64) {
        (self.started.floor() as u64, self.finished.ceil() as u64)
    }
}

/// A case as the oracle sees it: a name and the input file.
pub struct Input {
    pub name: String,
    pub file_name: String,
    pub bytes_path: PathBuf,
    pub dockerfile: String,
}

impl Input {
    pub fn from_case(c: &Case, gen_dir: &Path) -> Input {
        Input {
            name: c.name.to_string(),
            file_name: c.file_name(),
            bytes_path: gen_dir.join(c.file_name()),
            dockerfile: c.dockerfile(),
        }
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` from Unix seconds (civil-from-days, proleptic Gregorian).
pub fn rfc3339(t: f64) -> String {
    let secs = t.floor() as i64;
    let ms = ((t - t.floor()) * 1000.0) as i64;
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Replaces what changes from run to run in Docker's error output.
fn normalise(text: &str, ctx: &Path, tag: &str) -> String {
    let mut s = text
        .replace(&ctx.display().to_string(), "<ctx>")
        .replace(tag, "<tag>");
    // ANSI escapes.
    while let Some(i) = s.find('\u{1b}') {
        let end = s[i..]
            .find(|c: char| c.is_ascii_alphabetic())
            .map_or(s.len(), |e| i + e + 1);
        s.replace_range(i..end, "");
    }
    let mut out = Vec::new();
    for line in s.lines() {
        let mut words = Vec::new();
        for w in line.split(' ') {
            words.push(mask_word(w));
        }
        let l = words.join(" ");
        // BuildKit progress lines carry timings: "#5 0.123 ..." / "#5 DONE 0.1s".
        let l = strip_timing(&l);
        out.push(l);
    }
    out.join("\n").trim().to_string() + "\n"
}

fn mask_word(w: &str) -> String {
    // Runs of ≥12 hex digits are ids/digests; paths under /tmp/ are temp dirs; durations.
    let mut out = String::new();
    let mut run = String::new();
    for ch in w.chars() {
        if ch.is_ascii_hexdigit() && !ch.is_ascii_uppercase() {
            run.push(ch);
        } else {
            flush(&mut out, &mut run);
            out.push(ch);
        }
    }
    flush(&mut out, &mut run);
    if let Some(i) = out.find("/tmp/") {
        let end = out[i..]
            .find(['\'', '"', ':', ')', ','])
            .map_or(out.len(), |e| i + e);
        out.replace_range(i..end, "<tmp>");
    }
    if out.len() > 1 && out.ends_with('s') && out[..out.len() - 1].parse::<f64>().is_ok() {
        return "<dur>".into();
    }
    out
}

fn flush(out: &mut String, run: &mut String) {
    if run.len() >= 12 && run.chars().any(|c| c.is_ascii_digit()) {
        out.push_str("<id>");
    } else {
        out.push_str(run);
    }
    run.clear();
}

fn strip_timing(l: &str) -> String {
    let mut parts = l.splitn(3, ' ');
    if let (Some(a), Some(b), Some(rest)) = (parts.next(), parts.next(), parts.next())
        && a.starts_with('#')
        && a[1..].parse::<u32>().is_ok()
        && b.parse::<f64>().is_ok()
    {
        return format!("{a} <t> {rest}");
    }
    l.to_string()
}

/// The line that says why: the last "ERROR"/"error"/"failed" line of the output.
pub fn key_line(message: &str) -> String {
    let lines: Vec<&str> = message.lines().filter(|l| !l.trim().is_empty()).collect();
    let pick = lines
        .iter()
        .rev()
        .find(|l| l.starts_with("ERROR") || l.contains("rror") || l.contains("failed"))
        .or(lines.last());
    pick.map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Builds `input` on `engine` with `builder`, saves the image and extracts the layer.
pub fn build(engine: &Engine, builder: Builder, input: &Input, work: &Path) -> Result<Build> {
    let ctx = work.join("ctx");
    if ctx.exists() {
        fs::remove_dir_all(&ctx)?;
    }
    fs::create_dir_all(&ctx)?;
    let dst = ctx.join(&input.file_name);
    fs::copy(&input.bytes_path, &dst)
        .with_context(|| format!("copying {}", input.bytes_path.display()))?;
    fs::write(ctx.join("Dockerfile"), &input.dockerfile)?;
    // A source that is copied rather than unpacked keeps its mtime and mode: pin both so a
    // plain-copy layer is reproducible (T0 = 2023-11-14T22:13:20Z, 0644).
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o644))?;
        let f = fs::File::options().write(true).open(&dst)?;
        f.set_modified(UNIX_EPOCH + std::time::Duration::from_secs(crate::tarw::T0))
            .with_context(|| format!("setting the mtime of {}", dst.display()))?;
    }
    let tag = format!(
        "layerproof-oracle/{}:{}-{}-{}",
        input.name.to_ascii_lowercase(),
        engine.version.label().replace('.', "-"),
        builder.label(),
        std::process::id()
    );
    let mut args = vec!["build".to_string(), "--no-cache".to_string()];
    if builder == Builder::Buildkit {
        args.push("--progress=plain".into());
    }
    args.extend(["-t".to_string(), tag.clone(), ctx.display().to_string()]);
    let started = now();
    let out = engine
        .docker(Some(builder == Builder::Buildkit))
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", engine.client.display()))?;
    let finished = now();
    let command = std::iter::once(format!(
        "DOCKER_BUILDKIT={} docker",
        u8::from(builder == Builder::Buildkit)
    ))
    .chain(args.iter().map(|a| {
        a.replace(&ctx.display().to_string(), "<ctx>")
            .replace(&tag, "<tag>")
    }))
    .collect();
    if !out.status.success() {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = engine.docker(None).args(["rmi", "-f", &tag]).output();
        return Ok(Build {
            result: DockerResult::Refused {
                message: normalise(&text, &ctx, &tag),
            },
            started,
            finished,
            command,
        });
    }
    let save = work.join("save.tar");
    let saved = engine
        .docker(None)
        .args(["save", "-o"])
        .arg(&save)
        .arg(&tag)
        .output()
        .context("running docker save")?;
    let _ = engine.docker(None).args(["rmi", "-f", &tag]).output();
    if !saved.status.success() {
        bail!(
            "docker save {tag} failed: {}",
            String::from_utf8_lossy(&saved.stderr)
        );
    }
    let bytes = fs::read(&save)?;
    fs::remove_file(&save)?;
    let result = extract(&bytes).with_context(|| format!("reading docker save output of {tag}"))?;
    Ok(Build {
        result,
        started,
        finished,
        command,
    })
}

/// Finds config and the single layer of a `docker save` archive (legacy or OCI layout) via manifest.json.
fn extract(save: &[u8]) -> Result<DockerResult> {
    let members = dump::members(save)?;
    let get = |name: &str| -> Result<&[u8]> {
        members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| *d)
            .with_context(|| format!("{name} missing from docker save output"))
    };
    let manifest: Value =
        serde_json::from_slice(get("manifest.json")?).context("parsing manifest.json")?;
    let m = manifest
        .as_array()
        .and_then(|a| a.first())
        .context("manifest.json is not a non-empty array")?;
    let config_name = m["Config"].as_str().context("manifest.json: no Config")?;
    let config = get(config_name)?.to_vec();
    let cfg: Value = serde_json::from_slice(&config).context("parsing image config")?;
    let diff_ids: Vec<String> = cfg["rootfs"]["diff_ids"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let layers: Vec<&str> = m["Layers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let layer = match layers.as_slice() {
        [] => None,
        [one] => Some(get(one)?.to_vec()),
        more => bail!("expected one layer, the image has {}", more.len()),
    };
    if let (Some(l), Some(d)) = (&layer, diff_ids.first()) {
        let have = format!("sha256:{}", sha256_hex(l));
        if &have != d {
            bail!("saved layer hashes to {have} but the config's diff_id is {d}");
        }
    }
    Ok(DockerResult::Built {
        layer,
        config,
        diff_ids,
    })
}

/// `<engine>-<builder>` folder name.
pub fn combo(engine: &Engine, builder: Builder) -> String {
    format!("{}-{}", engine.version.label(), builder.label())
}

fn write(p: &Path, bytes: &[u8]) -> Result<()> {
    fs::write(p, bytes).with_context(|| format!("writing {}", p.display()))
}

/// Writes one combo's outputs into `dir` (created fresh).
fn record_build(dir: &Path, b: &Build, keep_layer: bool) -> Result<()> {
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::create_dir_all(dir)?;
    let mut meta = json!({
        "command": b.command,
        "started_unix": b.started,
        "finished_unix": b.finished,
        "started": rfc3339(b.started),
        "finished": rfc3339(b.finished),
        "wall_clock_note": "implied directories get an mtime between started and finished (whole seconds)",
    });
    match &b.result {
        DockerResult::Built {
            layer,
            config,
            diff_ids,
        } => {
            meta["outcome"] = json!("built");
            meta["diff_ids"] = json!(diff_ids);
            write(&dir.join("config.json"), config)?;
            match layer {
                Some(l) => {
                    write(
                        &dir.join("diff_id"),
                        format!("sha256:{}\n", sha256_hex(l)).as_bytes(),
                    )?;
                    meta["layer_bytes"] = json!(l.len());
                    if keep_layer {
                        write(&dir.join("layer.tar"), l)?;
                        let lines = dump::dump(l)?;
                        write(
                            &dir.join("layer.txt"),
                            dump::render(&lines, Some(b.window())).as_bytes(),
                        )?;
                    }
                }
                None => write(&dir.join("diff_id"), b"none (the image has no layer)\n")?,
            }
        }
        DockerResult::Refused { message } => {
            meta["outcome"] = json!("refused");
            let text = format!("{}\n\n{}", key_line(message), message);
            write(&dir.join("refusal.txt"), text.as_bytes())?;
        }
    }
    let mut j = serde_json::to_vec_pretty(&meta)?;
    j.push(b'\n');
    write(&dir.join("build.json"), &j)
}

fn git(args: &[&str], repo: &Path) -> String {
    Command::new("git")
        .args(args)
        .current_dir(repo)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub fn engine_versions(engines: &[Engine]) -> Result<Value> {
    let mut m = serde_json::Map::new();
    for e in engines {
        let out = e
            .docker(None)
            .args(["version", "--format", "{{json .}}"])
            .output()
            .context("docker version")?;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let info = e
            .docker(None)
            .args([
                "info",
                "--format",
                "{{.Driver}} {{.KernelVersion}} {{.CgroupVersion}}",
            ])
            .output()
            .context("docker info")?;
        m.insert(
            e.version.label().to_string(),
            json!({
                "client_binary": e.client.display().to_string(),
                "client": {"Version": v["Client"]["Version"], "GoVersion": v["Client"]["GoVersion"], "GitCommit": v["Client"]["GitCommit"]},
                "server": {"Version": v["Server"]["Version"], "GoVersion": v["Server"]["GoVersion"], "GitCommit": v["Server"]["GitCommit"], "Components": v["Server"]["Components"]},
                "driver_kernel_cgroup": String::from_utf8_lossy(&info.stdout).trim(),
                "buildx": if e.version == Version::D26 { plugin_version(e) } else { Value::Null },
            }),
        );
    }
    Ok(Value::Object(m))
}

fn plugin_version(e: &Engine) -> Value {
    e.docker(None)
        .args(["buildx", "version"])
        .output()
        .ok()
        .map(|o| json!(String::from_utf8_lossy(&o.stdout).trim()))
        .unwrap_or(Value::Null)
}

/// sha256 of every file under `dir` except PROVENANCE.json, keyed by relative path.
fn hash_tree(dir: &Path) -> Result<BTreeMap<String, String>> {
    let mut m = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let p = e.path();
            if e.file_type()?.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(dir)?.to_string_lossy().into_owned();
            if rel == "PROVENANCE.json" {
                continue;
            }
            let bytes = fs::read(&p).with_context(|| format!("reading {}", p.display()))?;
            m.insert(rel, sha256_hex(&bytes));
        }
    }
    Ok(m)
}

pub struct RecordCtx<'a> {
    pub out: &'a Path,
    pub engines: &'a [Engine],
    pub versions: Value,
    pub commit: String,
}

impl<'a> RecordCtx<'a> {
    pub fn new(repo: &'a Path, out: &'a Path, engines: &'a [Engine]) -> Result<Self> {
        let mut commit = git(&["rev-parse", "HEAD"], repo);
        if !git(&["status", "--porcelain", "--", "xtask"], repo).is_empty() {
            commit += "+dirty(xtask)";
        }
        Ok(RecordCtx {
            out,
            engines,
            versions: engine_versions(engines)?,
            commit,
        })
    }
}

/// Records one case on every engine × builder. `keep_layer` false for the large real case.
pub fn record_case(rc: &RecordCtx, input: &Input, keep_layer: bool, extra: Value) -> Result<()> {
    let case_dir = rc.out.join(&input.name);
    if case_dir.exists() {
        fs::remove_dir_all(&case_dir)?;
    }
    fs::create_dir_all(&case_dir)?;
    if keep_layer {
        fs::copy(&input.bytes_path, case_dir.join(&input.file_name))
            .with_context(|| format!("copying {}", input.bytes_path.display()))?;
    }
    write(&case_dir.join("Dockerfile"), input.dockerfile.as_bytes())?;
    let work = tempfile::tempdir()?;
    let mut builds = serde_json::Map::new();
    for e in rc.engines {
        for b in BUILDERS {
            let name = combo(e, b);
            eprint!("  {:<40} {:<22} ", input.name, name);
            let built = build(e, b, input, work.path())?;
            let (s, w) = (built.finished - built.started, &built.result);
            match w {
                DockerResult::Built { diff_ids, .. } => eprintln!(
                    "built   {:5.1}s {}",
                    s,
                    diff_ids
                        .first()
                        .map_or("(no layer)", |d| &d[..19.min(d.len())])
                ),
                DockerResult::Refused { message } => {
                    eprintln!("REFUSED {s:5.1}s {}", key_line(message))
                }
            }
            record_build(&case_dir.join(&name), &built, keep_layer)?;
            builds.insert(
                name,
                json!({"started": rfc3339(built.started), "finished": rfc3339(built.finished)}),
            );
        }
    }
    let input_bytes = fs::read(&input.bytes_path)?;
    let files = hash_tree(&case_dir)?;
    let prov = json!({
        "case": input.name,
        "input": {"file": input.file_name, "sha256": sha256_hex(&input_bytes), "bytes": input_bytes.len(), "committed": keep_layer},
        "made_by": "cargo xtask oracle --record (real engines only; never hand-edit)",
        "generator_commit": rc.commit,
        "recorded_at": rfc3339(now()),
        "engines": rc.versions,
        "builds": builds,
        "extra": extra,
        "files": files,
    });
    let mut j = serde_json::to_vec_pretty(&prov)?;
    j.push(b'\n');
    write(&case_dir.join("PROVENANCE.json"), &j)
}

/// Re-hash every recorded file against its case's `PROVENANCE.json` (and `SUMMARY.md` against
/// the top one) with the walker the tests use; an edited, missing or unlisted file fails.
pub fn check_provenance(out: &Path) -> Result<()> {
    let oracle = layerproof_testkit::oracle::walk(out)?;
    println!(
        "provenance ok: {} files in {} cases",
        oracle.files_checked,
        oracle.cases.len()
    );
    Ok(())
}

/// Live comparison of a fresh build against the recorded fixture for the same combo.
pub fn against_record(out: &Path, case: &str, combo: &str, b: &Build) -> Result<String, String> {
    let dir = out.join(case).join(combo);
    if !dir.exists() {
        return Err("no recorded fixture".into());
    }
    match &b.result {
        DockerResult::Refused { message } => match fs::read_to_string(dir.join("refusal.txt")) {
            Ok(t) if t.lines().next() == Some(key_line(message).as_str()) => {
                Ok("refused as recorded".into())
            }
            Ok(t) => Err(format!(
                "refused differently: now {:?}, recorded {:?}",
                key_line(message),
                t.lines().next()
            )),
            Err(_) => Err(format!(
                "refused now ({}) but recorded as built",
                key_line(message)
            )),
        },
        DockerResult::Built { layer, .. } => {
            let Some(layer) = layer else {
                return Ok("no layer".into());
            };
            let Ok(rec) = fs::read(dir.join("layer.tar")) else {
                let want = fs::read_to_string(dir.join("diff_id")).unwrap_or_default();
                let have = format!("sha256:{}", sha256_hex(layer));
                return if want.trim() == have {
                    Ok("same diff_id".into())
                } else {
                    Err(format!("diff_id now {have}, recorded {}", want.trim()))
                };
            };
            if rec == *layer {
                return Ok("byte-identical to the record".into());
            }
            let rb: Value = fs::read(dir.join("build.json"))
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            let rw = (
                rb["started_unix"].as_f64().unwrap_or(0.0).floor() as u64,
                rb["finished_unix"].as_f64().unwrap_or(0.0).ceil() as u64,
            );
            let a = dump::dump(&rec).map_err(|e| e.to_string())?;
            let c = dump::dump(layer).map_err(|e| e.to_string())?;
            let (ma, mc) = (
                dump::masked(&a, Some(rw)),
                dump::masked(&c, Some(b.window())),
            );
            if ma == mc {
                Ok("identical to the record except build wall-clock mtimes".into())
            } else {
                let i = ma
                    .iter()
                    .zip(&mc)
                    .position(|(x, y)| x != y)
                    .unwrap_or(ma.len().min(mc.len()));
                Err(format!(
                    "differs from the record at header {i}:\n      recorded: {}\n      now:      {}",
                    ma.get(i).map_or("(none)", String::as_str),
                    mc.get(i).map_or("(none)", String::as_str)
                ))
            }
        }
    }
}

/// Re-reads a case folder for the summary.
struct Cell {
    diff_id: Option<String>,
    refusal: Option<String>,
    masked: Option<Vec<String>>,
    wall_clock: bool,
    plain_copy: bool,
}

fn read_cell(dir: &Path, file_name: &str) -> Option<Cell> {
    if !dir.exists() {
        return None;
    }
    let refusal = fs::read_to_string(dir.join("refusal.txt"))
        .ok()
        .map(|t| t.lines().next().unwrap_or("").to_string());
    let diff_id = fs::read_to_string(dir.join("diff_id"))
        .ok()
        .map(|s| s.trim().to_string());
    let b: Value = fs::read(dir.join("build.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let w = (
        b["started_unix"].as_f64().unwrap_or(0.0).floor() as u64,
        b["finished_unix"].as_f64().unwrap_or(0.0).ceil() as u64,
    );
    let (masked, wall_clock, plain_copy) = match fs::read(dir.join("layer.tar"))
        .ok()
        .and_then(|l| dump::dump(&l).ok())
    {
        Some(lines) => {
            let m = dump::masked(&lines, Some(w));
            let wc = m.iter().any(|l| l.contains("<wall-clock>"));
            let pc = lines.len() == 2 && lines[0].text.contains(&format!("name={file_name:?}"));
            (Some(m), wc, pc)
        }
        None => (None, false, false),
    };
    Some(Cell {
        diff_id,
        refusal,
        masked,
        wall_clock,
        plain_copy,
    })
}

fn short(c: &Cell) -> String {
    if let Some(r) = &c.refusal {
        let r = r.replace('|', "\\|");
        let r: String = r.chars().take(110).collect();
        return format!("**refused**: `{r}`");
    }
    let d = c.diff_id.clone().unwrap_or_default();
    let mut s = format!("`{}`", d.get(7..19).unwrap_or(&d));
    if c.plain_copy {
        s += " plain copy";
    }
    if c.wall_clock {
        s += " ⏱";
    }
    s
}

/// The refusal reason without the builder's wrapping ("failed to copy files: ", …).
pub fn reason(line: &str) -> &str {
    let mut r = line;
    for p in [
        "ERROR: failed to solve: ",
        "failed to copy files: ",
        "Error processing tar file(exit status 1): ",
    ] {
        if let Some(i) = r.find(p) {
            r = &r[i + p.len()..];
        }
    }
    r
}

/// Masked dump lines with the per-engine profile switches removed: file-type bits in the mode
/// field (Docker ≤23) and uname/gname (Debian 20.10 looks them up on the host).
fn without_profile(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let mut t = l.clone();
            if let Some(i) = t.find(" mode=") {
                let digits = &t[i + 6..(i + 13).min(t.len())];
                if let Ok(m) = u32::from_str_radix(digits, 8) {
                    t.replace_range(i + 6..i + 13, &format!("{:07o}", m & 0o7777));
                }
            }
            for key in [" uname=\"", " gname=\""] {
                if let Some(i) = t.find(key) {
                    let rest = &t[i + key.len()..];
                    if let Some(e) = rest.find('"') {
                        t.replace_range(i..i + key.len() + e + 1, "");
                    }
                }
            }
            t
        })
        .collect()
}

fn same(a: &Cell, b: &Cell) -> Option<bool> {
    match (&a.refusal, &b.refusal, &a.masked, &b.masked) {
        (Some(x), Some(y), _, _) => Some(reason(x) == reason(y)),
        (None, None, Some(x), Some(y)) => Some(x == y),
        (None, None, _, _) => Some(a.diff_id == b.diff_id),
        _ => Some(false),
    }
}

fn first_diff(a: &Cell, b: &Cell) -> String {
    if let (Some(x), Some(y)) = (&a.masked, &b.masked) {
        if let Some(i) = x.iter().zip(y).position(|(p, q)| p != q) {
            return format!(
                "first differing header #{i}: `{}` vs `{}`",
                x[i].replace('\n', " "),
                y[i].replace('\n', " ")
            );
        }
        return format!("{} vs {} headers", x.len(), y.len());
    }
    match (&a.refusal, &b.refusal) {
        (Some(x), None) => format!("refused (`{x}`) vs built"),
        (None, Some(y)) => format!("built vs refused (`{y}`)"),
        (Some(x), Some(y)) => format!("`{x}` vs `{y}`"),
        _ => String::new(),
    }
}

/// SUMMARY.md from whatever is recorded under `out`, in case order.
pub fn write_summary(out: &Path, cases: &[Case], combos: &[String]) -> Result<()> {
    let mut s = String::new();
    s += "# What the real engines did, case by case\n\n";
    s += "Generated by `cargo xtask oracle --record` from the folders next to this file; never edit by hand.\n";
    s += "Inputs come from `cargo xtask gen-testdata` (`testdata/gen/`), each with `FROM scratch` / `ADD <file> /`.\n\n";
    s += "Cell: the first 12 hex digits of the diff_id, or the key line of Docker's refusal. ";
    s += "⏱ = the layer has entries whose mtime is the build's wall clock (implied directories), so the diff_id changes on every build; ";
    s += "the comparisons below mask those mtimes. *plain copy* = the layer holds the input file itself (not unpacked).\n\n";
    s += "| case | ";
    s += &combos.join(" | ");
    s += " | classic vs buildkit | 20.10 vs 26.1 |\n|---|";
    s += &"---|".repeat(combos.len() + 2);
    s.push('\n');
    let mut notes = Vec::new();
    for c in cases {
        let cells: Vec<Option<Cell>> = combos
            .iter()
            .map(|k| read_cell(&out.join(c.name).join(k), &c.file_name()))
            .collect();
        if cells.iter().all(Option::is_none) {
            continue;
        }
        s += &format!("| [{}]({}/) | ", c.name, c.name);
        for cell in &cells {
            s += &cell.as_ref().map_or("—".to_string(), short);
            s += " | ";
        }
        // classic vs buildkit per engine; 20.10 vs 26.1 per builder (combos are [20c,20b,26c,26b]).
        let cmp = |i: usize, j: usize| -> (String, Option<String>) {
            match (
                cells.get(i).and_then(Option::as_ref),
                cells.get(j).and_then(Option::as_ref),
            ) {
                (Some(a), Some(b)) => match same(a, b) {
                    Some(true) => ("same".into(), None),
                    _ => ("**differ**".into(), Some(first_diff(a, b))),
                },
                _ => ("—".into(), None),
            }
        };
        let mut cb = Vec::new();
        let mut ev = Vec::new();
        for (i, j, lab) in [(0, 1, "20.10"), (2, 3, "26.1")] {
            let (t, n) = cmp(i, j);
            cb.push(format!("{lab}: {t}"));
            if let Some(n) = n {
                notes.push(format!(
                    "- **{}**, classic vs buildkit on {lab}: {n}",
                    c.name
                ));
            }
        }
        for (i, j, lab) in [(0, 2, "classic"), (1, 3, "buildkit")] {
            let (mut t, mut n) = cmp(i, j);
            if let (Some(Some(a)), Some(Some(b))) = (cells.get(i), cells.get(j))
                && n.is_some()
                && let (Some(x), Some(y)) = (&a.masked, &b.masked)
                && without_profile(x) == without_profile(y)
            {
                t = "same but type bits/names".into();
                n = None;
            }
            ev.push(format!("{lab}: {t}"));
            if let Some(n) = n {
                notes.push(format!("- **{}**, 20.10 vs 26.1 with {lab}: {n}", c.name));
            }
        }
        s += &format!("{} | {} |\n", cb.join(", "), ev.join(", "));
    }
    s += "\n## Differences, first differing header (wall-clock mtimes masked, checksums dropped)\n\n";
    s += "*same but type bits/names*: the layers differ only in the profile switches the oracle notes describe \
(20.10 writes file-type bits in the mode field and uname/gname looked up on the daemon host; 26.1 writes neither). \
Refusals count as the same when the reason matches after the builder's wrapping text is removed.\n\n";
    for n in &notes {
        s += n;
        s.push('\n');
    }
    s += "\n## Rule and prediction per case\n\n| case | rule | spec predicts |\n|---|---|---|\n";
    for c in cases {
        if out.join(c.name).exists() {
            s += &format!(
                "| {} | {} | {} |\n",
                c.name,
                c.rule.replace('|', "\\|"),
                c.expect.replace('|', "\\|")
            );
        }
    }
    if out.join("minbase-bookworm").exists() {
        s += "\n## Large real case: minbase-bookworm (not committed; `cargo xtask oracle --record --with-minbase`)\n\n| combo | diff_id |\n|---|---|\n";
        for k in combos {
            let d = fs::read_to_string(out.join("minbase-bookworm").join(k).join("diff_id"))
                .unwrap_or_else(|_| {
                    fs::read_to_string(out.join("minbase-bookworm").join(k).join("refusal.txt"))
                        .map(|t| format!("refused: {}", t.lines().next().unwrap_or("")))
                        .unwrap_or_default()
                });
            s += &format!("| {k} | `{}` |\n", d.trim());
        }
    }
    write(&out.join("SUMMARY.md"), s.as_bytes())?;
    let prov = json!({
        "made_by": "cargo xtask oracle --record",
        "files": {"SUMMARY.md": sha256_hex(s.as_bytes())},
    });
    let mut j = serde_json::to_vec_pretty(&prov)?;
    j.push(b'\n');
    write(&out.join("PROVENANCE.json"), &j)
}

/// The mmdebstrap rootfs, cached under the engines root.
pub fn minbase(cache: &Path) -> Result<(PathBuf, Value)> {
    let out = cache.join("minbase-bookworm.tar");
    let epoch = "1700000000";
    let args = [
        "--variant=minbase",
        "--mode=root",
        "--format=tar",
        "bookworm",
        "<out>",
        "http://deb.debian.org/debian",
    ];
    let meta = json!({
        "made_by": format!("SOURCE_DATE_EPOCH={epoch} mmdebstrap {}", args.join(" ")),
        "source_date_epoch": epoch,
    });
    if out.is_file() {
        return Ok((out, meta));
    }
    fs::create_dir_all(cache)?;
    let partial = cache.join("minbase-bookworm.tar.partial");
    eprintln!(
        "minbase: running mmdebstrap (needs deb.debian.org) into {}",
        partial.display()
    );
    let status = Command::new("mmdebstrap")
        .args(args.iter().map(|a| {
            if *a == "<out>" {
                partial.display().to_string()
            } else {
                a.to_string()
            }
        }))
        .env("SOURCE_DATE_EPOCH", epoch)
        .status()
        .context("running mmdebstrap (apt-get install mmdebstrap, or `cargo xtask engines`)")?;
    if !status.success() {
        bail!("mmdebstrap failed ({status})");
    }
    fs::rename(&partial, &out)?;
    Ok((out, meta))
}
