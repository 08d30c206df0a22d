//! The report's two JSON shapes.

use super::model::*;

fn report(multi_platform: bool) -> Report {
    let platform = PlatformReport {
        platform: "linux/amd64".into(),
        verdict: Verdict::Different,
        level: None,
        image: ImageInfo {
            manifest: None,
            config: "sha256:c".into(),
            created: None,
            builder: Builder::OciImport,
            builder_evidence: "no history".into(),
        },
        layers: Vec::new(),
        config: Vec::new(),
        notes: vec!["n".into()],
        elapsed_ms: 7,
    };
    Report {
        schema: SCHEMA,
        tool: Tool {
            name: "layerproof",
            version: "0",
        },
        verdict: Verdict::Different,
        level: None,
        inputs: vec![Input {
            role: Role::Checksum,
            name: "SHA256SUMS".into(),
            digest: None,
            size: None,
        }],
        platform: "linux/amd64".into(),
        platforms: vec![platform],
        multi_platform,
        timings: Timings { total_ms: 9 },
    }
}

const HEAD: &str = r#"{"schema":"layerproof.verify/v1","tool":{"name":"layerproof","version":"0"},"verdict":"different","level":null,"inputs":[{"role":"checksum","name":"SHA256SUMS"}],"platform":"linux/amd64","#;
const IMAGE: &str =
    r#"{"config":"sha256:c","builder":"oci-import","builder_evidence":"no history"}"#;

#[test]
fn one_platform_is_spread_over_the_top_level() {
    let json = serde_json::to_string(&report(false)).unwrap();
    let want = format!(
        r#"{HEAD}"image":{IMAGE},"layers":[],"config":[],"notes":["n"],"timings":{{"total_ms":9}}}}"#
    );
    assert_eq!(json, want);
}

#[test]
fn several_platforms_are_listed() {
    let json = serde_json::to_string(&report(true)).unwrap();
    let want = format!(
        r#"{HEAD}"platforms":[{{"platform":"linux/amd64","verdict":"different","image":{IMAGE},"layers":[],"config":[],"notes":["n"],"elapsed_ms":7}}],"timings":{{"total_ms":9}}}}"#
    );
    assert_eq!(json, want);
}

#[test]
fn no_platform_has_no_image() {
    let mut r = report(false);
    r.platforms.clear();
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(json, format!(r#"{HEAD}"timings":{{"total_ms":9}}}}"#));
}
