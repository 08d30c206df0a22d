//! Integration tests of `layerproof-dockerfile`, one binary (each test file would be one more
//! binary to link).

mod never_panics;
mod platform;
mod snapshots;
