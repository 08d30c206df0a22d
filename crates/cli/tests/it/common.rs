//! Helpers shared by the CLI's end-to-end tests.
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (commands run there, so paths in tests are repository-relative).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Run the built `layerproof` in the repository root without colour: (exit code, stdout,
/// stderr).
pub fn layerproof(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_layerproof"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("run layerproof");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
