//! Go `archive/tar`-compatible reader (spec §3 step 1). Filled by the archive-reader work.
