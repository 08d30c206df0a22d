//! The `layerproof` command line.
#![forbid(unsafe_code)]
fn main() {}
