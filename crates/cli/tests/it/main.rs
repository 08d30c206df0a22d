//! End-to-end tests of the `layerproof` binary, one test binary: `verify` and `rebuild` on the
//! examples and recorded oracle cases.

mod common;
mod rebuild;
mod verify;
