//! `inspect`, `explain`, `profiles` and `unpack` end to end on committed inputs, each compared
//! whole with its snapshot under `testdata/snapshots/cli/`.
use crate::common::check;

#[test]
fn inspect_says_what_add_would_do() {
    check(&["inspect", "examples/tiny/rootfs.tar.gz"])
        .code(0)
        .snapshot("inspect-tiny");
    check(&["inspect", "testdata/gen/implied-parent-dirs.tar"])
        .code(0)
        .snapshot("inspect-implied-parent-dirs");
    check(&[
        "inspect",
        "testdata/oracle/dir-replaced-by-file/dir-replaced-by-file.tar",
    ])
    .code(1)
    .snapshot("inspect-refused");
}

#[test]
fn explain_names_every_digest() {
    check(&[
        "explain",
        "--image",
        "docker-archive:examples/tiny/image-docker-26.1.tar",
    ])
    .code(0)
    .snapshot("explain-tiny-26.1");
}

#[test]
fn profiles_lists_every_switch() {
    check(&["profiles"]).code(0).snapshot("profiles");
}

#[test]
fn unpack_writes_the_tree_or_refuses() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    check(&["unpack", "examples/tiny/rootfs.tar.gz", out])
        .code(0)
        .redact(tmp.path(), "[tmp]")
        .snapshot("unpack-tiny");
    assert!(tmp.path().join("out/etc/os-release").is_file());
    let refused = tmp.path().join("refused");
    check(&[
        "unpack",
        "testdata/oracle/dir-replaced-by-file/dir-replaced-by-file.tar",
        refused.to_str().unwrap(),
    ])
    .code(1)
    .redact(tmp.path(), "[tmp]")
    .snapshot("unpack-refused");
}
