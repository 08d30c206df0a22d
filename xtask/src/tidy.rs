//! Checks of the repository itself, run as plain tests by `cargo test --workspace` (as
//! rust-analyzer's `xtask/src/tidy.rs` does): every source file opens with a module doc and
//! every crate doc is an overview, every member inherits the workspace's `rust-version` (which
//! the README states), no library source file grows past [`MAX_LINES`], and each doc that
//! describes a file's types changes together with that file ([`IN_STEP`]).
//!
//! Each failure says what to change; none of these checks reads anything but the repository.

use std::fs;
use std::path::{Path, PathBuf};

use crate::{repo_root, sha256_hex};

/// Longest source file in `crates/*/src`, in lines; tests beside a module (`foo/tests.rs`) are
/// not counted.
const MAX_LINES: usize = 800;

/// Files still over [`MAX_LINES`] while they are being split. This list must only shrink: a
/// file that was split, moved or shortened fails the test until its line here is removed, and
/// a new file over the limit is split, not added.
const TOO_LONG: &[&str] = &[];

/// Crate docs that are still placeholders while they are rewritten. This list must only shrink
/// too: a doc that became an overview fails the test until its line here is removed.
const PLACEHOLDER_DOCS: &[&str] = &[];

/// Words that mark a crate doc's first line as a placeholder rather than a summary.
const PLACEHOLDER_WORDS: &[&str] = &["under construction", "todo", "fixme", "placeholder", "wip"];

/// Fewest `//!` lines of a crate doc: what the crate does, and what it does not.
const MIN_CRATE_DOC_LINES: usize = 3;

/// The fields every member takes from `[workspace.package]`.
const INHERITED: &[&str] = &["version", "edition", "rust-version", "license"];

/// A doc that describes the types in a code file, with the sha256 of both as they were last
/// checked against each other.
struct InStep {
    doc: &'static str,
    doc_sha256: &'static str,
    code: &'static str,
    code_sha256: &'static str,
}

/// Docs kept in step with code by hash (rust-analyzer's check of `lsp-extensions.md`): change
/// either file and the test fails until the other is brought in step and both hashes are
/// recorded here again.
const IN_STEP: &[InStep] = &[InStep {
    doc: "docs/verify-json.md",
    doc_sha256: "2f572c5e374d8e1a9382dcfd8a8e78c39c8aec751de8f97a397c637cfbf81251",
    code: "crates/verifier/src/report/model.rs",
    code_sha256: "34b676200ef5005ffb8f791768e7a840091367a9bb96e0f1819318fe08468903",
}];

fn root() -> PathBuf {
    repo_root().expect("xtask sits in the repository")
}

/// Repository-relative path with `/` separators, as the lists above spell them.
fn rel(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// Every `.rs` file under `dir`, sorted, so failure messages are stable.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d).unwrap_or_else(|e| panic!("read {}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The workspace members' directories: `crates/*` and `xtask`, as the root manifest lists them.
fn members(root: &Path) -> Vec<PathBuf> {
    let manifest = read(&root.join("Cargo.toml"));
    assert!(
        manifest.contains(r#"members = ["crates/*", "xtask"]"#),
        "the root Cargo.toml's members changed: teach xtask/src/tidy.rs's members() the new list"
    );
    let mut dirs: Vec<PathBuf> = fs::read_dir(root.join("crates"))
        .expect("crates/")
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs.push(root.join("xtask"));
    dirs
}

/// The `src` directories of every member.
fn source_dirs(root: &Path) -> Vec<PathBuf> {
    members(root).into_iter().map(|m| m.join("src")).collect()
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The leading `//!` lines of a file, without the marker.
fn module_doc(text: &str) -> Vec<&str> {
    text.lines()
        .map_while(|l| l.strip_prefix("//!"))
        .map(str::trim)
        .collect()
}

/// Fails with every problem at once, one per line.
fn report(what: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{what}:\n  {}\n",
        problems.join("\n  ")
    );
}

#[test]
fn every_source_file_opens_with_a_module_doc() {
    let root = root();
    let mut problems = Vec::new();
    for dir in source_dirs(&root) {
        for file in rust_files(&dir) {
            if module_doc(&read(&file)).is_empty() {
                problems.push(format!(
                    "{} does not open with a `//!` doc saying what the module is for",
                    rel(&root, &file)
                ));
            }
        }
    }
    report("source files without a module doc", &problems);
}

#[test]
fn every_crate_doc_is_an_overview() {
    let root = root();
    let mut problems = Vec::new();
    for member in members(&root) {
        let lib = member.join("src/lib.rs");
        if !lib.is_file() {
            continue;
        }
        let name = rel(&root, &lib);
        let text = read(&lib);
        let doc = module_doc(&text);
        let lines = doc.len();
        let summary = doc.first().copied().unwrap_or_default().to_lowercase();
        let words = summary
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let words = format!(" {words} ");
        let placeholder = PLACEHOLDER_WORDS
            .iter()
            .find(|w| words.contains(&format!(" {w} ")));
        let bad = match placeholder {
            Some(w) => Some(format!("its doc is a placeholder ({w:?})")),
            None if lines < MIN_CRATE_DOC_LINES => Some(format!(
                "its doc has {lines} lines; say what the crate does and what it never does"
            )),
            None => None,
        };
        let allowed = PLACEHOLDER_DOCS.contains(&name.as_str());
        match (bad, allowed) {
            (Some(why), false) => problems.push(format!("{name}: {why}")),
            (None, true) => problems.push(format!(
                "{name} has an overview now: remove it from PLACEHOLDER_DOCS in xtask/src/tidy.rs"
            )),
            _ => {}
        }
    }
    for allowed in PLACEHOLDER_DOCS {
        if !root.join(allowed).is_file() {
            problems.push(format!(
                "{allowed} no longer exists: remove it from PLACEHOLDER_DOCS in xtask/src/tidy.rs"
            ));
        }
    }
    report("crate docs", &problems);
}

/// The value of `key = "…"` in the `[workspace.package]` table of the root manifest.
fn workspace_package_value(manifest: &str, key: &str) -> Option<String> {
    let mut in_table = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_table = line == "[workspace.package]";
        } else if in_table
            && let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().trim_matches('"').to_string());
        }
    }
    None
}

/// The lines of a manifest's `[package]` table.
fn package_table(manifest: &str) -> Vec<&str> {
    manifest
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "[package]")
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .collect()
}

#[test]
fn every_member_inherits_the_workspace_package() {
    let root = root();
    let manifest = read(&root.join("Cargo.toml"));
    let mut problems = Vec::new();
    for key in INHERITED {
        if workspace_package_value(&manifest, key).is_none() {
            problems.push(format!("Cargo.toml: [workspace.package] has no {key}"));
        }
    }
    for member in members(&root) {
        let path = member.join("Cargo.toml");
        let text = read(&path);
        let package = package_table(&text);
        for key in INHERITED {
            let inherited = format!("{key}.workspace = true");
            if !package.contains(&inherited.as_str()) {
                problems.push(format!(
                    "{}: [package] must say `{inherited}`",
                    rel(&root, &path)
                ));
            }
        }
    }
    report("workspace members", &problems);
}

#[test]
fn the_readme_states_the_msrv() {
    let root = root();
    let msrv = workspace_package_value(&read(&root.join("Cargo.toml")), "rust-version")
        .expect("[workspace.package] rust-version");
    let stated = format!("Rust toolchain ({msrv} or newer");
    assert!(
        read(&root.join("README.md")).contains(&stated),
        "README.md's Install section must name the workspace's rust-version: {stated:?}"
    );
}

/// Whether a file under `src` holds a module's tests (`foo/tests.rs`, `foo/tests/…`), which
/// may be as long as they need.
fn is_test_file(rel: &str) -> bool {
    rel.ends_with("/tests.rs") || rel.contains("/tests/")
}

#[test]
fn no_source_file_is_too_long() {
    let root = root();
    let mut problems = Vec::new();
    for file in rust_files(&root.join("crates")) {
        let name = rel(&root, &file);
        if !name.contains("/src/") || is_test_file(&name) {
            continue;
        }
        let lines = read(&file).lines().count();
        let allowed = TOO_LONG.contains(&name.as_str());
        if lines > MAX_LINES && !allowed {
            problems.push(format!(
                "{name} has {lines} lines (limit {MAX_LINES}): split it into modules (its tests may \
                 go to a tests.rs beside it)"
            ));
        } else if lines <= MAX_LINES && allowed {
            problems.push(format!(
                "{name} has {lines} lines now: remove it from TOO_LONG in xtask/src/tidy.rs"
            ));
        }
    }
    for allowed in TOO_LONG {
        if !root.join(allowed).is_file() {
            problems.push(format!(
                "{allowed} no longer exists: remove it from TOO_LONG in xtask/src/tidy.rs"
            ));
        }
    }
    report("source files over the length limit", &problems);
}

#[test]
fn docs_change_with_the_types_they_describe() {
    let root = root();
    let mut problems = Vec::new();
    for pair in IN_STEP {
        let hash = |rel: &str| {
            let bytes = fs::read(root.join(rel)).unwrap_or_else(|e| {
                panic!("{rel}: {e} (if it moved, update its path in IN_STEP in xtask/src/tidy.rs)")
            });
            sha256_hex(&bytes)
        };
        let (doc, code) = (hash(pair.doc), hash(pair.code));
        if doc == pair.doc_sha256 && code == pair.code_sha256 {
            continue;
        }
        let changed = match (doc != pair.doc_sha256, code != pair.code_sha256) {
            (true, true) => format!("both {} and {} changed", pair.doc, pair.code),
            (true, false) => format!("{} changed, {} did not", pair.doc, pair.code),
            _ => format!("{} changed, {} did not", pair.code, pair.doc),
        };
        problems.push(format!(
            "{changed}. {} describes the types of {}: bring it in step with them, then record \
             both hashes in IN_STEP in xtask/src/tidy.rs:\n      doc_sha256: \"{doc}\",\n      \
             code_sha256: \"{code}\",",
            pair.doc, pair.code
        ));
    }
    report("docs out of step with the code they describe", &problems);
}
