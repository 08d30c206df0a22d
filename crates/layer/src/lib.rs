//! layerproof-layer (under construction).
#![forbid(unsafe_code)]
