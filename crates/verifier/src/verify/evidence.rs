//! What the published side says about the engine that built it: the builder (from the
//! config's history), the engine version (from `docker_version`), and the profiles ranked by
//! those and by the published layer's headers.

use layerproof_layer::Profile;
use layerproof_layer::profile::OwnerNames;

use crate::dockerfile::{self, BuilderKind};
use crate::layerscan::{self, Scan};

/// Tell the builder from the config history.
pub(super) fn builder_of(config: &serde_json::Value) -> (BuilderKind, String) {
    let history = config["history"].as_array();
    let comments = history
        .into_iter()
        .flatten()
        .filter_map(|h| h["comment"].as_str());
    for c in comments {
        if c == dockerfile::eval::BUILDKIT_COMMENT {
            return (BuilderKind::Buildkit, format!("history comment {c:?}"));
        }
    }
    let classic = history
        .into_iter()
        .flatten()
        .filter_map(|h| h["created_by"].as_str())
        .any(|c| c.starts_with("/bin/sh -c #(nop)"));
    if classic {
        return (
            BuilderKind::Classic,
            "history created_by \"/bin/sh -c #(nop) …\"".into(),
        );
    }
    (
        BuilderKind::Buildkit,
        "no builder marks in the history; assumed BuildKit (the default since Docker 23)".into(),
    )
}

/// Profile names ranked by the engine version a classic config records (`docker_version`).
pub(super) fn version_hint(config: &serde_json::Value) -> Option<&'static str> {
    let v = config["docker_version"].as_str()?;
    let mut parts = v.split(['.', '+', '-', '~']);
    let major: u32 = parts.next()?.parse().ok()?;
    let minor: u32 = parts.next()?.parse().ok()?;
    Some(match (major, minor) {
        (20, _) if v.contains("dfsg") => "docker-20.10-debian",
        (..=20, _) => "docker-20.10",
        (23, _) => "docker-23.0",
        (24..=27, _) => "docker-24-27",
        (28, _) | (29, 0..=6) => "docker-28-29.6",
        _ => "docker-29.7",
    })
}

/// Tie order when nothing else tells the profiles apart: today's most common engines first.
const PREFERENCE: &[&str] = &[
    "docker-24-27",
    "docker-28-29.6",
    "docker-29.7",
    "docker-23.0",
    "docker-20.10",
    "docker-20.10-debian",
    "buildkit-containerd",
    "buildkit-overlayfs",
    "docker-29.7-buildkit-overlayfs",
];

/// Candidate profiles, most plausible first, with the published layer's evidence.
pub(crate) fn rank_profiles(
    scan: &Scan,
    version: Option<&'static str>,
    builder: BuilderKind,
) -> Vec<&'static Profile> {
    let has_names = scan.published.has_names;
    let type_bits = scan
        .entries
        .iter()
        .any(|e| e.kind == layerscan::EntryKind::Dir && e.header.mode & !0o7777 != 0);
    let any_dir = scan
        .entries
        .iter()
        .any(|e| e.kind == layerscan::EntryKind::Dir);
    let mut v: Vec<(i32, usize, &'static Profile)> = Profile::all()
        .iter()
        .map(|p| {
            let mut score = 0;
            if Some(p.name) == version {
                score += 8;
            }
            if has_names == (p.owner_names.value == OwnerNames::Lookup) {
                score += 4;
            }
            if any_dir && type_bits == p.type_bits.value {
                score += 2;
            }
            // the classic builder never runs on a containerd-only BuildKit
            if builder == BuilderKind::Classic && p.name.starts_with("buildkit-") {
                score -= 1;
            }
            let pref = PREFERENCE
                .iter()
                .position(|n| *n == p.name)
                .unwrap_or(PREFERENCE.len());
            (score, pref, p)
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, _, p)| p).collect()
}

/// The profile whose unpack runs while the published layer is still being read: the one the
/// engine version names, else the most common.
pub(super) fn first_guess(version: Option<&'static str>) -> &'static Profile {
    version
        .and_then(Profile::by_name)
        .or_else(|| Profile::by_name(PREFERENCE[0]))
        .unwrap_or(&Profile::all()[0])
}
