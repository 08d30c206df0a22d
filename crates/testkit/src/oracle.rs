//! The recorded engine fixtures under `testdata/oracle/` (made by `cargo xtask oracle --record`),
//! walked once with every file checked against its case's `PROVENANCE.json`.
//!
//! Layout: `<case>/` holds the input, the `Dockerfile` and `PROVENANCE.json` (engine versions,
//! builds, the sha256 of every other file in the folder); `<case>/<engine>-<builder>/` holds
//! what that engine did (`layer.tar`, `config.json`, `diff_id`, … or `refusal.txt`). The top
//! `PROVENANCE.json` records the hash of `SUMMARY.md`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Fewest cases a walk accepts: the committed fixtures hold more, so a walk that finds fewer
/// (a moved or half-checked-out `testdata/oracle`) fails instead of checking little.
pub const MIN_CASES: usize = 60;

/// Why a walk failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A `PROVENANCE.json` is not JSON, or lacks a field the walker needs.
    #[error("{}: {what}", path.display())]
    Format {
        /// The `PROVENANCE.json`.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// Recorded files that do not match their provenance: edited, missing or unlisted.
    #[error(
        "{} recorded file(s) do not match their provenance (fixtures are made by `cargo xtask \
         oracle --record`, never by hand):\n  {}",
        problems.len(),
        problems.join("\n  ")
    )]
    Provenance {
        /// One line per file.
        problems: Vec<String>,
    },
    /// Fewer cases than [`MIN_CASES`].
    #[error("{} holds {found} recorded cases, fewer than the {MIN_CASES} expected", dir.display())]
    TooFew {
        /// The folder walked.
        dir: PathBuf,
        /// Cases found.
        found: usize,
    },
}

/// The builder an engine ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Builder {
    /// The classic builder (`DOCKER_BUILDKIT=0`).
    Classic,
    /// BuildKit.
    Buildkit,
}

/// What an engine did with a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It built the image; `layer.tar` holds the layer (absent for the large uncommitted case,
    /// which keeps only digests and configs).
    Built,
    /// It refused the build; `refusal.txt` holds its output.
    Refused,
}

/// One engine's build of a case: `<case>/<engine>-<builder>/`.
#[derive(Debug, Clone)]
pub struct Build {
    /// The folder name, `docker-26.1-buildkit`.
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// The engine, `docker-26.1`.
    pub engine: String,
    /// Its version as `docker version` reported it (`26.1.5+dfsg1`).
    pub engine_version: String,
    /// The builder.
    pub builder: Builder,
    /// Built or refused.
    pub outcome: Outcome,
}

impl Build {
    /// The exact layer bytes from `docker save`, if recorded.
    pub fn layer(&self) -> Option<Vec<u8>> {
        fs::read(self.dir.join("layer.tar")).ok()
    }

    /// The image config as saved, if the engine built the image.
    pub fn config(&self) -> Option<Vec<u8>> {
        fs::read(self.dir.join("config.json")).ok()
    }

    /// The engine's output when it refused the build.
    pub fn refusal(&self) -> Option<String> {
        fs::read_to_string(self.dir.join("refusal.txt")).ok()
    }
}

/// One recorded case: `<case>/`.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case's name (its folder's).
    pub name: String,
    /// The folder.
    pub dir: PathBuf,
    /// The `ADD` source's name in the build context.
    pub input: String,
    /// The builds, sorted by folder name.
    pub builds: Vec<Build>,
    /// The whole `PROVENANCE.json`, for what the typed fields leave out.
    pub provenance: Value,
}

impl Case {
    /// The input file, if it is committed (the large real rootfs is not).
    pub fn input_path(&self) -> Option<PathBuf> {
        Some(self.dir.join(&self.input)).filter(|p| p.is_file())
    }

    /// The case's `Dockerfile`.
    pub fn dockerfile(&self) -> PathBuf {
        self.dir.join("Dockerfile")
    }
}

/// Every case of an oracle folder, checked.
#[derive(Debug, Clone)]
pub struct Oracle {
    /// The folder walked.
    pub dir: PathBuf,
    /// The cases, sorted by name.
    pub cases: Vec<Case>,
    /// Files whose hash matched their provenance.
    pub files_checked: usize,
}

impl Oracle {
    /// Every build of every case, with its case.
    pub fn builds(&self) -> impl Iterator<Item = (&Case, &Build)> {
        self.cases
            .iter()
            .flat_map(|c| c.builds.iter().map(move |b| (c, b)))
    }

    /// The case named `name`.
    pub fn case(&self, name: &str) -> Option<&Case> {
        self.cases.iter().find(|c| c.name == name)
    }
}

/// This repository's `testdata/oracle`.
pub fn committed_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/oracle")
}

/// This repository's fixtures, walked once per process.
pub fn committed() -> Result<&'static Oracle, &'static Error> {
    static ORACLE: OnceLock<Result<Oracle, Error>> = OnceLock::new();
    ORACLE.get_or_init(|| walk(&committed_dir())).as_ref()
}

/// Walk `dir`: every subfolder is a case whose files must all match its `PROVENANCE.json`,
/// and `SUMMARY.md` must match the top `PROVENANCE.json` when there is one.
pub fn walk(dir: &Path) -> Result<Oracle, Error> {
    let mut case_dirs = Vec::new();
    for entry in fs::read_dir(dir).map_err(|source| io(dir, source))? {
        let path = entry.map_err(|source| io(dir, source))?.path();
        if path.is_dir() {
            case_dirs.push(path);
        }
    }
    case_dirs.sort();
    let mut problems = Vec::new();
    let mut files_checked = 0;
    let mut cases = Vec::new();
    for case_dir in case_dirs {
        let prov_path = case_dir.join("PROVENANCE.json");
        if !prov_path.is_file() {
            problems.push(format!("{}: no PROVENANCE.json", case_dir.display()));
            continue;
        }
        let prov = read_json(&prov_path)?;
        files_checked += check_files(&case_dir, &prov, &prov_path, &mut problems)?;
        cases.push(case(case_dir, prov, &prov_path)?);
    }
    files_checked += check_summary(dir, &mut problems)?;
    if !problems.is_empty() {
        return Err(Error::Provenance { problems });
    }
    if cases.len() < MIN_CASES {
        return Err(Error::TooFew {
            dir: dir.to_path_buf(),
            found: cases.len(),
        });
    }
    Ok(Oracle {
        dir: dir.to_path_buf(),
        cases,
        files_checked,
    })
}

fn io(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn format(path: &Path, what: impl Into<String>) -> Error {
    Error::Format {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

fn read_json(path: &Path) -> Result<Value, Error> {
    let bytes = fs::read(path).map_err(|source| io(path, source))?;
    serde_json::from_slice(&bytes).map_err(|e| format(path, e.to_string()))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// sha256 of every file under `dir` but its `PROVENANCE.json`, by `/`-separated relative path.
fn hash_tree(dir: &Path) -> Result<BTreeMap<String, String>, Error> {
    let mut hashes = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(|source| io(&d, source))? {
            let path = entry.map_err(|source| io(&d, source))?.path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let rel = path.strip_prefix(dir).unwrap_or(&path);
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            if rel == "PROVENANCE.json" {
                continue;
            }
            let bytes = fs::read(&path).map_err(|source| io(&path, source))?;
            hashes.insert(rel, sha256_hex(&bytes));
        }
    }
    Ok(hashes)
}

/// Every listed file present with its hash, and no file unlisted; returns the files matched.
fn check_files(
    dir: &Path,
    prov: &Value,
    prov_path: &Path,
    problems: &mut Vec<String>,
) -> Result<usize, Error> {
    let want = prov["files"]
        .as_object()
        .ok_or_else(|| format(prov_path, "no \"files\" map of file to sha256"))?;
    let have = hash_tree(dir)?;
    let mut matched = 0;
    for (file, sha) in want {
        match have.get(file) {
            None => problems.push(format!("{}: {file} is missing", dir.display())),
            Some(h) if Some(h.as_str()) != sha.as_str() => problems.push(format!(
                "{}: {file} does not match its recorded sha256",
                dir.display()
            )),
            Some(_) => matched += 1,
        }
    }
    for file in have.keys().filter(|f| !want.contains_key(*f)) {
        problems.push(format!(
            "{}: {file} is not listed in PROVENANCE.json",
            dir.display()
        ));
    }
    Ok(matched)
}

/// `SUMMARY.md` against the top `PROVENANCE.json`, when there is one.
fn check_summary(dir: &Path, problems: &mut Vec<String>) -> Result<usize, Error> {
    let top = dir.join("PROVENANCE.json");
    if !top.is_file() {
        return Ok(0);
    }
    let want = read_json(&top)?["files"]["SUMMARY.md"]
        .as_str()
        .map(str::to_string);
    match fs::read(dir.join("SUMMARY.md")) {
        Ok(bytes) if Some(sha256_hex(&bytes)) == want => Ok(1),
        _ => {
            problems.push(format!("SUMMARY.md does not match {}", top.display()));
            Ok(0)
        }
    }
}

fn case(dir: PathBuf, provenance: Value, prov_path: &Path) -> Result<Case, Error> {
    let field = |v: &Value, what: &str| {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| format(prov_path, format!("no {what}")))
    };
    let name = field(&provenance["case"], "case")?;
    let input = field(&provenance["input"]["file"], "input.file")?;
    let builds_json = provenance["builds"]
        .as_object()
        .ok_or_else(|| format(prov_path, "no builds"))?;
    let mut builds = Vec::new();
    for build in builds_json.keys() {
        let (engine, builder) = build.rsplit_once('-').ok_or_else(|| {
            format(
                prov_path,
                format!("build {build:?} is not <engine>-<builder>"),
            )
        })?;
        let builder = match builder {
            "classic" => Builder::Classic,
            "buildkit" => Builder::Buildkit,
            other => return Err(format(prov_path, format!("unknown builder {other:?}"))),
        };
        let engine_version = field(
            &provenance["engines"][engine]["server"]["Version"],
            &format!("engines.{engine}.server.Version"),
        )?;
        let build_dir = dir.join(build);
        let outcome = if build_dir.join("refusal.txt").is_file() {
            Outcome::Refused
        } else {
            Outcome::Built
        };
        builds.push(Build {
            name: build.clone(),
            dir: build_dir,
            engine: engine.to_string(),
            engine_version,
            builder,
            outcome,
        });
    }
    builds.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Case {
        name,
        dir,
        input,
        builds,
        provenance,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_fixtures_walk_cleanly() {
        let oracle = committed().unwrap_or_else(|e| panic!("{e}"));
        assert!(oracle.cases.len() >= MIN_CASES);
        assert!(oracle.files_checked > oracle.cases.len());
        for (case, build) in oracle.builds() {
            let recorded = match build.outcome {
                Outcome::Refused => build.refusal().is_some(),
                Outcome::Built => build.dir.join("diff_id").is_file(),
            };
            assert!(recorded, "{}/{}: nothing recorded", case.name, build.name);
        }
    }

    #[test]
    fn an_edited_fixture_fails_the_walk() {
        let tmp = std::env::temp_dir().join(format!("layerproof-testkit-{}", std::process::id()));
        let case = tmp.join("c");
        fs::create_dir_all(&case).unwrap();
        fs::write(case.join("Dockerfile"), "FROM scratch\n").unwrap();
        let prov = serde_json::json!({
            "case": "c",
            "input": {"file": "c.tar"},
            "builds": {},
            "files": {"Dockerfile": sha256_hex(b"FROM scratch\n")},
        });
        fs::write(case.join("PROVENANCE.json"), prov.to_string()).unwrap();
        // one case only: the walk fails for the count, not the hashes
        assert!(matches!(walk(&tmp), Err(Error::TooFew { found: 1, .. })));
        fs::write(case.join("Dockerfile"), "FROM scratch \n").unwrap();
        let err = walk(&tmp).unwrap_err().to_string();
        assert!(err.contains("Dockerfile does not match"), "{err}");
        fs::write(case.join("extra"), "").unwrap();
        let err = walk(&tmp).unwrap_err().to_string();
        assert!(err.contains("extra is not listed"), "{err}");
        fs::remove_dir_all(&tmp).unwrap();
    }
}
