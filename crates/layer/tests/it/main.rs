//! The integration tests of `layerproof-layer`, one binary (each test file would be one more
//! binary to link): the writer against bytes Go's archive/tar wrote, layer rules on built trees,
//! round trips through the reader, and skeletons against layers recorded from real engines.

mod go_writer;
mod layer;
mod oracle;
mod roundtrip;
