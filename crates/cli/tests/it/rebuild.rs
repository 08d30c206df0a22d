//! `layerproof rebuild` end to end on recorded oracle cases (hermetic: no Docker needed; the
//! output was also loaded into real engines by hand, see ARCHITECTURE.md). Human output is
//! compared whole with its snapshot under `testdata/snapshots/cli/`.
use std::path::Path;

use layerproof_image::chain;
use layerproof_image::{ImageRef, OpenOptions, PlatformSelector};
use sha2::{Digest, Sha256};

use crate::common::{check, repo};

fn oracle(case: &str) -> String {
    format!("testdata/oracle/{case}")
}

fn read(rel: &str) -> Vec<u8> {
    std::fs::read(repo().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn diff_id(case: &str, combo: &str) -> String {
    String::from_utf8(read(&format!("{}/{combo}/diff_id", oracle(case))))
        .unwrap()
        .trim()
        .to_string()
}

/// The case's Dockerfile and input in a fresh context, the input with the mode and mtime the
/// recording gave it (`xtask/src/oracle.rs`: 0644, 2023-11-14T22:13:20Z), which a file that is
/// copied rather than unpacked keeps.
fn context_like_the_recording(case: &str, tmp: &Path) -> String {
    let dir = tmp.join(case);
    std::fs::create_dir_all(&dir).unwrap();
    let prov: serde_json::Value =
        serde_json::from_slice(&read(&format!("{}/PROVENANCE.json", oracle(case)))).unwrap();
    let input = prov["input"]["file"].as_str().unwrap();
    for f in ["Dockerfile", input] {
        std::fs::write(dir.join(f), read(&format!("{}/{f}", oracle(case)))).unwrap();
    }
    pin_mode_and_mtime(&dir.join(input));
    dir.join("Dockerfile").display().to_string()
}

/// The mode and mtime the recordings gave their inputs (`xtask/src/oracle.rs`): 0644,
/// 2023-11-14T22:13:20Z.
fn pin_mode_and_mtime(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let f = std::fs::File::options().write(true).open(path).unwrap();
    f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000))
        .unwrap();
}

#[track_caller]
fn rebuild_json(args: &[&str]) -> serde_json::Value {
    let all = ["rebuild", "--format", "json", "--platform", "linux/amd64"];
    check(&[&all[..], args].concat()).code(0).json()
}

/// `layerproof rebuild` of the README's example for linux/amd64, with `extra` arguments.
fn rebuild_tiny(extra: &[&str]) -> crate::common::Run {
    let args = [
        "rebuild",
        "--dockerfile",
        "examples/tiny/Dockerfile",
        "--platform",
        "linux/amd64",
    ];
    check(&[&args[..], extra].concat())
}

#[test]
fn readme_example_is_rebuilt() {
    rebuild_tiny(&[]).code(0).snapshot("rebuild-tiny");
}

/// The layer equals the one Docker 26.1 wrote, for both builders, from the Dockerfile and the
/// tarball alone (these cases have no implied directories, so no build time is needed).
#[test]
fn diff_id_matches_the_recorded_engine() {
    let tmp = tempfile::tempdir().unwrap();
    for case in [
        "hardlink-direction-flip",
        "xattr-capability-v3",
        "long-name-unsplittable",
        "compress-xz",
        "not-a-tar",
    ] {
        let dockerfile = context_like_the_recording(case, tmp.path());
        for builder in ["classic", "buildkit"] {
            let v = rebuild_json(&[
                "--dockerfile",
                &dockerfile,
                "--profile",
                "docker-24-27",
                "--builder",
                builder,
            ]);
            assert_eq!(v["schema"], "layerproof.rebuild/v1");
            assert_eq!(v["outcome"], "built");
            assert_eq!(
                v["layers"][0]["diff_id"],
                diff_id(case, &format!("docker-26.1-{builder}")),
                "{case} {builder}"
            );
        }
    }
}

/// With the run-dependent values of a recorded config, the image ID is the recorded one.
#[test]
fn image_id_matches_the_recorded_engine() {
    let case = "symlink-mode-0777";
    // the classic source hash covers the file's mode: use the recording's context
    let tmp = tempfile::tempdir().unwrap();
    let dockerfile = context_like_the_recording(case, tmp.path());
    for (combo, profile, builder) in [
        ("docker-20.10-classic", "docker-20.10-debian", "classic"),
        ("docker-20.10-buildkit", "docker-20.10-debian", "buildkit"),
        ("docker-26.1-classic", "docker-24-27", "classic"),
        ("docker-26.1-buildkit", "docker-24-27", "buildkit"),
    ] {
        let config = format!("{}/{combo}/config.json", oracle(case));
        let v = rebuild_json(&[
            "--dockerfile",
            &dockerfile,
            "--profile",
            profile,
            "--builder",
            builder,
            "--run-values-from",
            &config,
            // Debian's 20.10 looked names up on its host; the files here are root's
            "--names-from",
            "host",
        ]);
        let want = format!("sha256:{}", hex::encode(Sha256::digest(read(&config))));
        assert_eq!(v["image_id"], want.as_str(), "{combo}");
        assert_eq!(v["layers"][0]["diff_id"], diff_id(case, combo), "{combo}");
        let assumed = v["assumed"].as_array().unwrap();
        assert!(
            assumed
                .iter()
                .any(|a| a["name"] == "history[0].created" && a["source"] == "published-config")
        );
    }
}

/// What `--output` writes is read back by the image sources, with the printed IDs.
#[test]
fn outputs_are_read_back() {
    let tmp = tempfile::tempdir().unwrap();
    let case = "hardlink-direction-flip";
    let dockerfile = format!("{}/Dockerfile", oracle(case));
    let oci = tmp.path().join("oci");
    let archive = tmp.path().join("image.tar");
    for (out, gzip) in [
        (format!("oci:{}", oci.display()), true),
        (format!("docker-archive:{}", archive.display()), false),
    ] {
        let mut args = vec![
            "--dockerfile",
            &dockerfile,
            "--profile",
            "docker-24-27",
            "--builder",
            "classic",
            "--build-time",
            "2024-05-01T12:00:00Z",
            "--tag",
            "layerproof-test/flip:1",
            "--output",
            &out,
        ];
        if gzip {
            args.push("--gzip");
        }
        let v = rebuild_json(&args);
        let r: ImageRef = out.parse().unwrap();
        let src = layerproof_image::open(&r, &OpenOptions::default()).unwrap();
        let c = chain::resolve(
            src.as_ref(),
            &PlatformSelector::All,
            layerproof_image::DEFAULT_MAX_MANIFEST,
        )
        .unwrap();
        let img = c.images()[0];
        assert_eq!(
            img.config.digest.to_string(),
            v["image_id"].as_str().unwrap()
        );
        assert_eq!(
            img.layers[0].diff_id.as_ref().unwrap().to_string(),
            diff_id(case, "docker-26.1-classic")
        );
        assert_eq!(
            img.layers[0].blob.digest.to_string(),
            v["layers"][0]["blob"]["digest"].as_str().unwrap()
        );
        assert_eq!(src.tags(), ["layerproof-test/flip:1"]);
        let config = src.blob(&img.config).unwrap().read_all(1 << 20).unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["created"], "2024-05-01T12:00:00Z");
        assert_eq!(config["docker_version"], "26.1.5");
    }
}

#[test]
fn a_refused_add_exits_1_with_dockers_reason() {
    let dockerfile = format!("{}/Dockerfile", oracle("dir-replaced-by-file"));
    check(&[
        "rebuild",
        "--dockerfile",
        &dockerfile,
        "--platform",
        "linux/amd64",
    ])
    .code(1)
    .snapshot("rebuild-refused");
}

#[test]
fn limits_apply_to_rebuild_and_name_their_flag() {
    rebuild_tiny(&["--max-entries", "5"])
        .code(2)
        .snapshot("rebuild-error-max-entries");
    // the memory budget is a size like everywhere else (it was MiB here once): all bodies
    // spill, and the layer is the same
    let small = rebuild_tiny(&["--memory-budget", "0"]).code(0);
    let default = rebuild_tiny(&[]).code(0);
    assert_eq!(small.stdout, default.stdout);
    rebuild_tiny(&["--memory-budget", "64 MiB"])
        .code(2)
        .snapshot("rebuild-error-memory-budget");
}

#[test]
fn a_file_copied_as_it_is_spills_past_the_budget_with_the_same_layer() {
    let tmp = tempfile::tempdir().unwrap();
    // not an archive: ADD copies it as it is
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7919 % 251) as u8).collect();
    let blob = tmp.path().join("blob.bin");
    std::fs::write(&blob, &data).unwrap();
    // the copy keeps the file's mode and mtime: pin them so the output is the same every run
    pin_mode_and_mtime(&blob);
    let df = tmp.path().join("Dockerfile");
    std::fs::write(&df, "FROM scratch\nADD blob.bin /\n").unwrap();
    let args = [
        "rebuild",
        "--dockerfile",
        df.to_str().unwrap(),
        "--platform",
        "linux/amd64",
    ];
    let spilled = check(&[&args[..], &["--memory-budget", "4K"]].concat()).code(0);
    let in_memory = check(&args).code(0);
    assert_eq!(spilled.stdout, in_memory.stdout);
    spilled
        .redact(tmp.path(), "[tmp]")
        .snapshot("rebuild-copied-file");
}

#[test]
fn bad_input_exits_2_naming_the_file() {
    check(&["rebuild", "--dockerfile", "no/such/Dockerfile"])
        .code(2)
        .snapshot("rebuild-error-no-dockerfile");

    let tmp = tempfile::tempdir().unwrap();
    let df = tmp.path().join("Dockerfile");
    std::fs::write(&df, "FROM scratch\nADD missing.tar.gz /\n").unwrap();
    check(&["rebuild", "--dockerfile", df.to_str().unwrap()])
        .code(2)
        .redact(tmp.path(), "[tmp]")
        .snapshot("rebuild-error-missing-source");

    std::fs::write(tmp.path().join("r.tar"), b"not a tar").unwrap();
    std::fs::write(&df, "FROM scratch\nADD r.tar /\nRUN true\n").unwrap();
    check(&["rebuild", "--dockerfile", df.to_str().unwrap()])
        .code(2)
        .redact(tmp.path(), "[tmp]")
        .snapshot("rebuild-error-run-step");

    check(&["rebuild", "--profile", "docker-1.0"])
        .code(2)
        .snapshot("rebuild-error-unknown-profile");
}

#[test]
fn help_teaches_with_examples() {
    let run = check(&["rebuild", "--help"]).code(0);
    let out = &run.stdout;
    for needle in ["Examples:", "docker load", "--run-values-from", "oci:DIR"] {
        assert!(out.contains(needle), "{needle}\n{out}");
    }
}
