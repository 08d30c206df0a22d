//! Docker ADD unpack rules (spec §3).
