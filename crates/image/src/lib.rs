//! Image sources for layerproof: where the *published* side of a verification comes from.
//!
//! **What it does.** Parses image references (`docker-archive:PATH`, `oci:DIR[:TAG|@DIGEST]`,
//! `oci-archive:PATH[:TAG|@DIGEST]`, `docker://HOST/REPO[:TAG][@DIGEST]` and bare Docker names
//! normalised as `docker pull` does), and reads images from `docker save` archives (legacy and
//! Docker ≥ 25 layouts), OCI layouts (directory or tar; image-spec 1.0/1.1; nested indexes;
//! Docker media types inside OCI manifests; blob symlinks resolved only inside the layout) and
//! registries (distribution API v2, bearer-token and basic auth, retries, redirects).
//! [`chain::resolve`] walks index → manifest → config → layers and says which digest each tool
//! shows.
//!
//! **Design.** A pure core ([`manifest`], [`reference`], [`platform`], [`digest`]) parses from
//! bytes; transports implement [`ImageSource`], which hands out only verified content:
//! manifests as checked bytes, blobs as a [`BlobReader`] that hashes while streaming and never
//! reports end of stream unless digest and size matched. The registry transport goes further:
//! it verifies a whole blob (spooled into the [`BlobCache`]) before the first byte reaches the
//! caller.
//!
//! **What it never does.** It never re-serialises a manifest or config (digests are of raw
//! bytes), never trusts a digest algorithm other than sha256, never follows a symlink or path
//! out of a layout or archive, never uses plain HTTP except for loopback and
//! `insecure_registries` hosts, never sends `Authorization` to a redirect target on another
//! origin, never follows a redirect or token realm to a loopback, link-local (cloud metadata) or
//! private-network address unless the registry is on such an address itself (judged by the
//! host as written: a name is not resolved for this), never prints a credential or token ([`registry::auth::Secret`]), never writes
//! anything but its cache, and never panics on input.
//!
//! ```no_run
//! use layerproof_image::{ImageRef, OpenOptions, PlatformSelector, chain};
//! let r: ImageRef = "oci:testdata/image/oci-index".parse()?;
//! let src = layerproof_image::open(&r, &OpenOptions::default())?;
//! let c = chain::resolve(src.as_ref(), &PlatformSelector::All, layerproof_image::DEFAULT_MAX_MANIFEST)?;
//! print!("{}", chain::render_text(&c));
//! # Ok::<(), layerproof_image::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod chain;
pub mod digest;
pub mod docker_archive;
mod error;
pub mod limits;
pub mod manifest;
pub mod oci;
pub mod platform;
pub mod reference;
pub mod registry;
pub mod source;
mod store;
mod tarindex;
pub mod write;

pub use cache::BlobCache;
pub use digest::{Digest, VerifiedReader};
pub use error::Error;
pub use limits::Limits;
pub use manifest::{Descriptor, Manifest};
pub use platform::{Platform, PlatformSelector};
pub use reference::{ImageRef, RegistryRef, Selector};
pub use registry::{Registry, RegistryOptions};
pub use source::{BlobReader, ImageSource, Root, Transport};

/// Default cap on a manifest or index (4 MiB, as the distribution spec suggests).
pub const DEFAULT_MAX_MANIFEST: u64 = 4 << 20;

/// Options for [`open`].
#[derive(Debug, Clone, Default)]
pub struct OpenOptions {
    /// Registry settings (ignored for local transports).
    pub registry: RegistryOptions,
    /// Caps on what the image may make us read (every transport).
    pub limits: Limits,
}

/// Opens the source a reference names. Local files are indexed now; a registry is contacted on
/// first use.
pub fn open(r: &ImageRef, opts: &OpenOptions) -> Result<Box<dyn ImageSource>, Error> {
    Ok(match r {
        ImageRef::DockerArchive(p) => {
            Box::new(docker_archive::DockerArchive::open_with(p, opts.limits)?)
        }
        ImageRef::OciDir { path, selector } => {
            Box::new(oci::OciLayout::open_dir(path, selector.clone())?.with_limits(opts.limits))
        }
        ImageRef::OciArchive { path, selector } => {
            Box::new(oci::OciLayout::open_archive(path, selector.clone())?.with_limits(opts.limits))
        }
        ImageRef::Registry(rr) => {
            Box::new(Registry::new(rr.clone(), opts.registry.clone())?.with_limits(opts.limits))
        }
    })
}
