//! What the published side says about the engine that built it: the profiles ranked by the
//! builder and engine version the config names ([`crate::config::builder_of`],
//! [`Profile::for_docker_version`]) and by the published layer's headers.

use layerproof_dockerfile::BuilderKind;
use layerproof_layer::Profile;
use layerproof_layer::profile::OwnerNames;

use crate::layerscan::{self, Scan};

/// Candidate profiles, most plausible first, with the published layer's evidence.
pub(crate) fn rank_profiles(
    scan: &Scan,
    version: Option<&'static Profile>,
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
    let mut v: Vec<(i32, u8, &'static Profile)> = Profile::all()
        .iter()
        .map(|p| {
            let mut score = 0;
            if version.is_some_and(|v| v.name == p.name) {
                score += 8;
            }
            if has_names == (p.owner_names.value == OwnerNames::Lookup) {
                score += 4;
            }
            if any_dir && type_bits == p.type_bits.value {
                score += 2;
            }
            // the classic builder never runs on BuildKit on its own (no Docker engine)
            if builder == BuilderKind::Classic && p.engine.is_none() {
                score -= 1;
            }
            (score, p.preference, p)
        })
        .collect();
    v.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    v.into_iter().map(|(_, _, p)| p).collect()
}

/// The profile whose unpack runs while the published layer is still being read: the one the
/// engine version names, else the most common.
pub(super) fn first_guess(version: Option<&'static Profile>) -> &'static Profile {
    version.unwrap_or_else(Profile::preferred)
}
