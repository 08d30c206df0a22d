//! Compression detection and decoders (spec §2.3). Filled by the archive-reader work.
