//! Which builder wrote a config.
//!
//! The rule, in order (each mark read in moby and BuildKit, and borne out by every config under
//! `testdata/oracle/` and `crates/verifier/tests/config_engines/`, which the tests check):
//! 1. The newest history entry that carries a builder's mark decides. BuildKit's Dockerfile
//!    frontend writes the comment `buildkit.dockerfile.v0` on every entry it makes; the classic
//!    builder writes `#(nop)` after the shell in the `created_by` of every step but `RUN`, and
//!    never a comment. Newest first, because older entries may be a base image's, made by the
//!    other builder.
//! 2. No entry is marked: `container_config` is moby's `image.Image` field, written by the
//!    classic builder and never by BuildKit's exporter.
//! 3. Nothing marked: unknown, and BuildKit is assumed ([`BuilderMark::assumed`]), the default
//!    since Docker 23.

use serde_json::Value;

use layerproof_dockerfile::{BUILDKIT_COMMENT, BuilderKind};

/// The classic builder's marker between the shell and a step that ran no command.
const CLASSIC_NOP: &str = " #(nop) ";

/// The builder that wrote a config, and what in the config says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuilderMark {
    /// The builder.
    pub kind: BuilderKind,
    /// The mark, in words (`history comment "buildkit.dockerfile.v0"`).
    pub evidence: String,
}

impl BuilderMark {
    /// What is assumed of a config that carries no mark: BuildKit.
    pub fn assumed() -> BuilderMark {
        BuilderMark {
            kind: BuilderKind::Buildkit,
            evidence: "no builder marks in the history; assumed BuildKit (the default since \
                       Docker 23)"
                .into(),
        }
    }
}

/// Which builder wrote a config (the rule is in the module docs); `None` when it carries no
/// mark.
pub fn builder_of(config: &Value) -> Option<BuilderMark> {
    let history = config["history"].as_array().map_or(&[][..], Vec::as_slice);
    let marked = history.iter().rev().find_map(|h| {
        if let Some(c) = h["comment"].as_str().filter(|c| *c == BUILDKIT_COMMENT) {
            return Some(BuilderMark {
                kind: BuilderKind::Buildkit,
                evidence: format!("history comment {c:?}"),
            });
        }
        let (shell, _) = h["created_by"].as_str()?.split_once(CLASSIC_NOP)?;
        Some(BuilderMark {
            kind: BuilderKind::Classic,
            evidence: format!("history created_by \"{shell} #(nop) …\""),
        })
    });
    marked.or_else(|| {
        config.get("container_config").map(|_| BuilderMark {
            kind: BuilderKind::Classic,
            evidence: "container_config (the classic builder's run config)".into(),
        })
    })
}

/// [`builder_of`] a config's bytes; `None` when they are not JSON or carry no mark.
pub fn detect_builder(published: &[u8]) -> Option<BuilderKind> {
    let v: Value = serde_json::from_slice(published).ok()?;
    builder_of(&v).map(|m| m.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[track_caller]
    fn check(config: Value, expected: Option<(BuilderKind, &str)>) {
        let got = builder_of(&config);
        assert_eq!(
            got.as_ref().map(|m| (m.kind, m.evidence.as_str())),
            expected
        );
    }

    #[test]
    fn the_newest_marked_entry_decides() {
        let bk = |by: &str| json!({"created_by": by, "comment": BUILDKIT_COMMENT});
        let classic = |by: &str| json!({"created_by": by});
        check(
            json!({"history": [bk("ADD a.tar / # buildkit"), bk("CMD [\"sh\"]")]}),
            Some((
                BuilderKind::Buildkit,
                "history comment \"buildkit.dockerfile.v0\"",
            )),
        );
        check(
            json!({"history": [classic("/bin/sh -c #(nop) ADD file:ab in / ")], "container_config": {}}),
            Some((
                BuilderKind::Classic,
                "history created_by \"/bin/sh -c #(nop) …\"",
            )),
        );
        // a classic step (any shell, RUN unmarked) over a BuildKit-built base
        check(
            json!({"history": [bk("ADD a.tar /"), classic("/bin/bash -e -c #(nop)  CMD [\"x\"]"), classic("/bin/bash -e -c make")]}),
            Some((
                BuilderKind::Classic,
                "history created_by \"/bin/bash -e -c #(nop) …\"",
            )),
        );
        check(
            json!({"history": [classic("/bin/sh -c make")], "container_config": null}),
            Some((
                BuilderKind::Classic,
                "container_config (the classic builder's run config)",
            )),
        );
        check(json!({"history": [classic("/bin/sh -c make")]}), None);
        check(json!({"history": "x", "created_by": 3}), None);
        assert_eq!(detect_builder(b"not json"), None);
        assert_eq!(BuilderMark::assumed().kind, BuilderKind::Buildkit);
    }

    /// Every config recorded from a real engine names the builder it was recorded with (the
    /// folder or file name: `docker-26.1-classic/config.json`, `docker-20.10-buildkit.json`).
    #[test]
    fn every_recorded_config_names_its_builder() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut configs = Vec::new();
        for case in std::fs::read_dir(root.join("testdata/oracle")).unwrap() {
            for build in std::fs::read_dir(case.unwrap().path())
                .into_iter()
                .flatten()
            {
                let build = build.unwrap().path();
                let name = build.file_name().unwrap().to_string_lossy().into_owned();
                configs.push((name, build.join("config.json")));
            }
        }
        for case in std::fs::read_dir(root.join("crates/verifier/tests/config_engines")).unwrap() {
            for file in std::fs::read_dir(case.unwrap().path())
                .into_iter()
                .flatten()
            {
                let file = file.unwrap().path();
                let name = file.file_stem().unwrap().to_string_lossy().into_owned();
                configs.push((name, file));
            }
        }
        let mut checked = 0;
        for (name, path) in configs {
            let expected = match name.rsplit_once('-') {
                Some((_, "classic")) => BuilderKind::Classic,
                Some((_, "buildkit")) => BuilderKind::Buildkit,
                _ => continue,
            };
            let Ok(bytes) = std::fs::read(&path) else {
                continue; // the engine refused the build: no config
            };
            let config: Value = serde_json::from_slice(&bytes).unwrap();
            let mark = builder_of(&config);
            assert_eq!(mark.map(|m| m.kind), Some(expected), "{}", path.display());
            checked += 1;
        }
        // 58 oracle cases built on two engines with two builders, and 4 × 4 recordings
        assert!(checked >= 200, "only {checked} recorded configs found");
    }
}
