//! layerproof-verifier (under construction).
#![forbid(unsafe_code)]
