//! The integration tests of `layerproof-verifier`, one binary (each test file would be one more
//! binary to link, each with rustls and ureq): every recorded engine build reproduced by the
//! conformance check, by `verify` and in its image config, and the config engines' metadata
//! recordings.

mod config_engines;
mod config_oracle;
mod oracle_conformance;
mod verify_oracle;
