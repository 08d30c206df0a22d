//! Test support shared by layerproof's integration tests and `cargo xtask`: one walker over the
//! fixtures recorded from real engines under `testdata/oracle/` ([`oracle`]).
//!
//! The walker checks every recorded file against its case's `PROVENANCE.json` once, so a
//! hand-edited fixture fails whichever test reads it first, and hands out typed cases and builds
//! instead of JSON. It never rebuilds, compares or grades anything: that stays with the crate
//! under test. Used only as a dev-dependency and by xtask; never published.
//!
//! ```no_run
//! let oracle = layerproof_testkit::oracle::committed().unwrap_or_else(|e| panic!("{e}"));
//! for case in &oracle.cases {
//!     for build in &case.builds {
//!         println!("{} / {} on Docker {}", case.name, build.name, build.engine_version);
//!     }
//! }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod oracle;
