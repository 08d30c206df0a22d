//! Proves, or disproves, that a published container image was built from a Dockerfile and its
//! build context: every layer is rebuilt byte for byte as a Docker engine would write it, and
//! graded against the published one (`reproduced`, `content-equivalent`, `different`,
//! `not-buildable`).
//!
//! One function per workflow, each owning its report:
//! - [`verify::verify`] rebuilds and grades every layer of an image (`layerproof verify`); its
//!   [`report::Report`] renders as text ([`report::human`]), JUnit ([`report::junit`]) or JSON
//!   (its `serde` form, the schema `layerproof.verify/v1`).
//! - [`build::rebuild`] builds the image a Dockerfile describes (`layerproof rebuild`).
//! - [`materialise::unpack`] writes what `ADD` leaves behind to a directory (`layerproof unpack`).
//!
//! Beneath them: [`rebuild`] turns a source into layer bytes under an engine profile,
//! [`layerscan`] reads a layer tar in one pass, [`streamed`] proves an uncompressed layer without
//! reading its bodies, [`explain`] says what differs, [`blob`] re-encodes a layer for the blob
//! digest, [`config`] writes and checks image configs, and [`infer`] holds the few free
//! parameters a rebuild may take from the published side.
//!
//! What it never does: run a build, a container or a Docker daemon; take a file's contents,
//! mode or owner from the published image (only what [`infer`] names); unpack to disk while
//! verifying. Reading a registry is `layerproof-image`'s, and only for registry references.
//!
//! # Example
//!
//! ```no_run
//! use layerproof_verifier::report::{self, Style};
//! use layerproof_verifier::verify::{self, NoProgress, ProfileChoice, Request, Verdict};
//!
//! let req = Request {
//!     dockerfile: "Dockerfile".into(),
//!     context: ".".into(),
//!     build_args: Default::default(),
//!     image: "docker-archive:image.tar".parse()?,
//!     open: Default::default(),
//!     platforms: Default::default(),
//!     profile: ProfileChoice::Auto,
//!     blob_level: true,
//!     streamed: true,
//!     limits: Default::default(),
//!     rootfs: None,
//! };
//! let report = verify::verify(&req, &NoProgress)?;
//! print!("{}", report::human(&report, Style::new(false)));
//! assert_eq!(report.verdict, Verdict::Reproduced);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// The Dockerfile frontend (`layerproof-dockerfile`), whose types this crate's API takes and
/// returns (`BuilderKind` in `build::BuildRequest` and the reports, `ImageModel` in `config`), so
/// that its users need not depend on the frontend themselves.
pub use layerproof_dockerfile as dockerfile;

pub mod blob;
pub mod build;
pub mod checksum;
pub mod classic_hash;
pub mod config;

pub mod conformance;
pub mod explain;
pub mod import;
pub mod infer;
pub mod layerscan;
pub mod materialise;
pub mod paths;
pub mod rebuild;
pub mod report;
pub mod streamed;
pub mod verify;

mod digest;
mod pipeline;
