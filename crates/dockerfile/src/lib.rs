//! A Dockerfile frontend for `FROM scratch` images: what BuildKit and the classic builder would
//! write for a Dockerfile, without building anything.
//!
//! [`parse`] turns Dockerfile text into a typed [`Dockerfile`] (no expansion);
//! [`evaluate`] runs it for one builder ([`BuilderKind::Buildkit`] or
//! [`BuilderKind::Classic`]) with build args and a platform, and returns per
//! stage the image config and history that builder would write
//! ([`ImageModel`]), the layer-producing ADD/COPY steps ([`CopyStep`]), or an
//! [`OutOfScope`] value for anything that needs to run code (`RUN`) or a real
//! base image. Docker's refusals are [`Error`] values worded like Docker's.
//!
//! **What it never does:** run a command, pull or read a base image, touch
//! the network, or read a file other than through [`Context::read_dir`],
//! which walks a build-context directory without following symlinks (the rest
//! is pure: same input, same output; no clock, host or locale). It never
//! panics, whatever the input (fuzzed: `fuzz/fuzz_targets/dockerfile.rs`).
//! It models the image configuration and the list of sources; writing the
//! layer bytes is `layerproof-layer`'s job, checking a published image is
//! `layerproof-verifier`'s.
//!
//! ```
//! use layerproof_dockerfile::{self as dockerfile, BuildOptions, BuilderKind, Platform, StageOutcome};
//! let df = dockerfile::parse("FROM scratch\nADD rootfs.tar.gz /\nCMD [\"bash\"]\n").unwrap();
//! let opts = BuildOptions {
//!     builder: BuilderKind::Buildkit,
//!     build_args: Default::default(),
//!     platform: Platform::parse("linux/amd64").unwrap(),
//!     build_platform: None,
//!     target: None,
//! };
//! let ev = dockerfile::evaluate(&df, &opts, None).unwrap();
//! let StageOutcome::Image(img) = &ev.stages[0].outcome else { panic!() };
//! assert_eq!(img.history[0].created_by, "ADD rootfs.tar.gz / # buildkit");
//! ```
//!
//! # What is modelled (sources: moby/buildkit `frontend/dockerfile`, moby/moby `daemon/builder/dockerfile`)
//! * Parser directives `# syntax=`, `# escape=` (`\` or `` ` ``), `# check=`
//!   (recorded, otherwise ignored); they must come first, each at most once.
//! * Continuation lines with the escape token, comment lines inside
//!   continuations, empty continuation lines (a warning, as in BuildKit), a
//!   leading BOM, case-insensitive keywords, `--flags` (Go `extractBuilderFlags`
//!   and `BFlags`), JSON (exec) vs shell form, ENV/LABEL legacy `K V` form.
//! * Expansion exactly like BuildKit's shell lexer (see [`lex`]), applied to
//!   ADD/COPY (sources, dest, `--chown`, `--chmod`, `--checksum`), ENV, LABEL,
//!   WORKDIR, USER, EXPOSE (split into words), VOLUME, STOPSIGNAL and ARG
//!   defaults. Never to CMD, ENTRYPOINT, RUN, SHELL, HEALTHCHECK, ONBUILD,
//!   MAINTAINER, nor `COPY --from`.
//! * ARG scoping. BuildKit predefines `BUILDPLATFORM BUILDOS BUILDOSVERSION
//!   BUILDARCH BUILDVARIANT TARGETPLATFORM TARGETOS TARGETOSVERSION TARGETARCH
//!   TARGETVARIANT TARGETSTAGE` in the global scope (a stage sees them after
//!   `ARG NAME`); the classic builder predefines none of them (only
//!   `--build-arg` values, and the proxy args without declaration). Global
//!   ARGs are visible in a stage only after a bare `ARG NAME`. BuildKit's
//!   history shows the effective value (`ARG RELEASE=22.04`), the classic
//!   builder the declaration (`ARG RELEASE`).
//! * Config: both builders start a scratch stage with
//!   `Env=["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]`;
//!   BuildKit also sets `WorkingDir="/"` and `ArgsEscaped=true` on CMD.
//!   Shell-form CMD/ENTRYPOINT are wrapped in the current SHELL
//!   (default `["/bin/sh","-c"]`). ENTRYPOINT resets an inherited CMD.
//!   WORKDIR is relative to the previous one (the classic builder cleans
//!   absolute paths, BuildKit keeps them as written). EXPOSE becomes `N/proto`
//!   with ranges expanded. HEALTHCHECK durations are nanoseconds.
//!   MAINTAINER sets `author`.
//! * History `created_by`: classic `/bin/sh -c #(nop)  CMD ["/bin/bash"]`
//!   (two spaces) and `/bin/sh -c #(nop) ADD <SOURCE_HASH> in / ` (one
//!   argument, trailing space; the hash is left as [`SOURCE_HASH_PLACEHOLDER`]);
//!   BuildKit `ADD src / # buildkit`, `CMD ["/bin/bash"]`, comment
//!   `buildkit.dockerfile.v0`; `empty_layer` for everything but ADD/COPY and
//!   WORKDIR (BuildKit: only when not `/`).
//! * Multi-stage builds of scratch stages, `FROM <earlier stage>`,
//!   `COPY --from=<stage name or index>`; BuildKit skips stages the target does
//!   not need.
//! * `.dockerignore` and source globs: see [`context`].
//!
//! # Deviations from BuildKit and the classic builder
//! * Heredocs (`<<EOF`) are rejected with [`Error::Unsupported`].
//! * Remote sources (http(s), git) are [`Error::Unsupported`]; `--checksum`
//!   therefore always errors, as it does for local sources in BuildKit.
//! * `RUN` flags are not validated (RUN is out of scope anyway).
//! * The classic builder's `--chown` name lookup (needs /etc/passwd in the
//!   image) and BuildKit's symbolic `--chmod` are only checked for syntax.
//! * Older engines differ in details: the classic `HEALTHCHECK` history before
//!   Docker 25 lacks `StartInterval`, and engines before BuildKit's `#`/`%`/`/`
//!   modifiers reject them. The model follows current sources.
//! * `variant` for the classic builder is taken from the requested platform
//!   (UNSURE: the daemon derives it from its own platform).
//! * Go `unicode.IsLetter`/`IsDigit` in variable names are approximated with
//!   Rust's `is_alphabetic` and a table of decimal-digit blocks.
//! * JSON arrays with lone UTF-16 surrogates are treated as shell form (Go
//!   decodes them to U+FFFD).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod classic;
pub mod context;
mod dispatch;
pub mod eval;
pub mod gocompat;
pub mod instructions;
pub mod lex;
mod model;
pub mod parser;
mod values;

use serde::Serialize;

pub use context::{Context, EntryKind, IgnoreMatcher, ResolvedSource};
pub use eval::evaluate;
pub use instructions::{
    ArgDef, CommandLine, CopyArgs, Dockerfile, Healthcheck, Instruction, KeyValue, Kind, Stage,
};
/// The target platform of a build (`layerproof-platform`'s, which `layerproof-image` uses too).
pub use layerproof_platform::Platform;
pub use model::{
    BUILDKIT_COMMENT, BuildOptions, BuilderKind, ContainerConfig, CopyStep, DEFAULT_PATH,
    Evaluation, HealthConfig, HistoryEntry, ImageModel, OutOfScope, SOURCE_HASH_PLACEHOLDER,
    StageOutcome, StageResult,
};

/// A line range in the Dockerfile (1-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Span {
    /// First line.
    pub start_line: usize,
    /// Last line (continuations included).
    pub end_line: usize,
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.start_line == self.end_line {
            write!(f, "line {}", self.start_line)
        } else {
            write!(f, "lines {}-{}", self.start_line, self.end_line)
        }
    }
}

/// A parser warning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Line.
    pub line: usize,
    /// Message, worded like BuildKit's.
    pub message: String,
}

/// Errors from parsing and evaluating. Messages follow Docker's wording;
/// everything but [`Error::Unsupported`] is something Docker refuses too.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The line parser failed.
    #[error("dockerfile parse error on line {line}: {message}")]
    Parse {
        /// Line (1-based).
        line: usize,
        /// Message.
        message: String,
    },
    /// An instruction is malformed.
    #[error("dockerfile parse error on {span}: {message}")]
    Instruction {
        /// Where.
        span: Span,
        /// Message.
        message: String,
    },
    /// Variable expansion failed.
    #[error("{span}: {message}")]
    Expansion {
        /// Where.
        span: Span,
        /// Message.
        message: String,
    },
    /// An ADD/COPY source is missing or unusable.
    #[error("{span}: {instruction}: {message}")]
    Source {
        /// Where.
        span: Span,
        /// `ADD` or `COPY`.
        instruction: String,
        /// Message.
        message: String,
    },
    /// Valid Dockerfile syntax that layerproof does not model.
    #[error("{span}: unsupported: {message}")]
    Unsupported {
        /// Where.
        span: Span,
        /// What.
        message: String,
    },
}

/// Parses Dockerfile text. Never panics, whatever the input.
pub fn parse(src: &str) -> Result<Dockerfile, Error> {
    let raw = parser::parse_raw(src)?;
    instructions::type_file(raw)
}
