//! Where a digest read from an image becomes a [`Digest`], so that ours and the published one
//! are compared as values.

use layerproof_archive::Digest;

/// The published digest `d` as a value. A parsed [`layerproof_image::Digest`] holds 64
/// lowercase hex digits, so `None` does not happen; were it to, no digest of ours would equal it.
pub(crate) fn published(d: &layerproof_image::Digest) -> Option<Digest> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(d.hex(), &mut bytes).ok()?;
    Some(Digest::from_bytes(bytes))
}
