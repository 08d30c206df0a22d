//! The integration tests of `layerproof-image`, one binary (each test file would be one more
//! binary to link, each with rustls and ureq): every transport on committed images, the writers,
//! the registry client against a real `docker-registry` behind a fault proxy, and a hostile
//! server.

mod common;
mod hostile_faults;
mod local;
mod registry;
mod write;
