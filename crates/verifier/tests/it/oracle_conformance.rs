//! Hermetic conformance: every case recorded from real Docker engines under `testdata/oracle/`
//! is rebuilt by layerproof and compared byte for byte (or refusal for refusal).
//!
//! Only the free parameters are taken from Docker's output (implied directories' wall-clock
//! mtimes, uname/gname of the Debian 20.10 build, the metadata of a plain-copied source); every
//! other byte must come from the input tarball. Fixture hashes are checked against each case's
//! PROVENANCE.json first, so a hand-edited fixture fails.

use layerproof_testkit::oracle;
use layerproof_verifier::conformance::{self, Docker, Verdict};

/// Builds of committed inputs under `testdata/oracle` (248 when this was written): fewer means
/// cases went missing, not that they pass.
const MIN_BUILDS: usize = 240;

#[test]
fn every_recorded_case_is_reproduced_byte_for_byte() {
    let oracle = oracle::committed().unwrap_or_else(|e| panic!("{e}"));
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &oracle.cases {
        let Some(input) = case.input_path() else {
            // Large cases (the real Debian rootfs) are not committed; the live oracle covers them.
            continue;
        };
        for build in &case.builds {
            let version = &build.engine_version;
            let profile = conformance::profile_for_version(version)
                .unwrap_or_else(|| panic!("no profile for the recorded Docker {version}"));
            let (layer, refusal) = (build.layer(), build.refusal());
            let build = &build.name;
            let docker = match (&layer, &refusal) {
                (Some(l), _) => Docker::Layer(l),
                (None, Some(r)) => Docker::Refused(r),
                (None, None) => {
                    failures.push(format!(
                        "{}/{build}: neither layer.tar nor refusal.txt",
                        case.name
                    ));
                    continue;
                }
            };
            checked += 1;
            if let Verdict::Mismatch(why) = conformance::check(&input, &case.input, profile, docker)
            {
                failures.push(format!("{}/{build}: {why}", case.name));
            }
        }
    }
    eprintln!(
        "oracle conformance: {checked} recorded builds checked over {} cases",
        oracle.cases.len()
    );
    assert!(
        checked >= MIN_BUILDS,
        "only {checked} recorded builds checked"
    );
    assert!(
        failures.is_empty(),
        "{} of {checked} recorded builds not reproduced:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
