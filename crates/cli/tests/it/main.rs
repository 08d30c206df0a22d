//! End-to-end tests of the `layerproof` binary, one test binary: every command on the examples
//! and recorded oracle cases, through one `check` helper; human output is compared whole with
//! the snapshots under `testdata/snapshots/cli/` (`UPDATE_EXPECT=1` rewrites them).

mod commands;
mod common;
mod rebuild;
mod verify;
