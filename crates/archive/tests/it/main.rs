//! The integration tests of `layerproof-archive`, one binary (each test file would be one more
//! binary to link): the unpack rules through one `check` function, the limits on hostile input,
//! and the committed hostile corpus.

mod hostile_corpus;
mod hostile_limits;
mod unpack_rules;
