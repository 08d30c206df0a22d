//! Dockerfile → [`ImageModel`] → the one context file each layer step reads: the part of a
//! build that `verify` and `rebuild` share.
use std::path::{Path, PathBuf};

use layerproof_dockerfile::{
    self as dockerfile, BuildOptions, Context, CopyStep, Dockerfile, ImageModel, StageOutcome,
};

use crate::rebuild::single_source;

/// The build context a command uses when none is given: the Dockerfile's folder, as
/// `docker build -f DIR/Dockerfile DIR` is usually run.
pub fn default_context(dockerfile: &Path) -> PathBuf {
    dockerfile
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), PathBuf::from)
}

/// Why a Dockerfile's target stage gives no image model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The builder would refuse the Dockerfile.
    #[error(transparent)]
    Evaluate(#[from] dockerfile::Error),
    /// A step of the target stage is outside what layerproof models.
    #[error("{instruction}: not rebuilt: {reason}")]
    OutOfScope {
        /// Its first line.
        line: usize,
        /// The instruction, as written.
        instruction: String,
        /// Why.
        reason: String,
    },
    /// The target stage is not built.
    #[error("the target stage is not built")]
    NotBuilt,
}

/// Evaluates `df` for `opts` and returns the image its target stage builds.
pub fn image_model(
    df: &Dockerfile,
    opts: &BuildOptions,
    context: &Context,
) -> Result<ImageModel, ModelError> {
    let ev = dockerfile::evaluate(df, opts, Some(context))?;
    match ev.stages.into_iter().nth(ev.target).map(|s| s.outcome) {
        Some(StageOutcome::Image(m)) => Ok(*m),
        Some(StageOutcome::OutOfScope(o)) => Err(ModelError::OutOfScope {
            line: o.span.start_line,
            instruction: o.instruction,
            reason: o.reason,
        }),
        _ => Err(ModelError::NotBuilt),
    }
}

/// The source of a layer step, resolved to a file of the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepSource {
    /// `ADD` or `COPY`.
    pub instruction: String,
    /// The step's first line in the Dockerfile.
    pub line: usize,
    /// The source's path relative to the context root.
    pub source: String,
    /// The destination, as written.
    pub dest: String,
    /// The source file on disk.
    pub path: PathBuf,
    /// Its base name (the name a plain copy gets).
    pub name: String,
    /// Whether an archive is unpacked (`ADD`) or copied as it is (`COPY`).
    pub unpack: bool,
}

/// A layer step that layerproof does not rebuild, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{instruction}: not rebuilt: {reason}")]
pub struct NotRebuilt {
    /// The step's first line.
    pub line: usize,
    /// The step as written (`ADD a.tar /`).
    pub instruction: String,
    /// Why.
    pub reason: String,
}

/// The one context file `step` reads, below `context` ([`single_source`] says which steps
/// qualify).
pub fn step_source(step: &CopyStep, context: &Path) -> Result<StepSource, NotRebuilt> {
    let one = single_source(step).map_err(|reason| NotRebuilt {
        line: step.span.start_line,
        instruction: format!(
            "{} {} {}",
            step.instruction,
            step.sources.join(" "),
            step.dest
        ),
        reason,
    })?;
    let name = one.path.rsplit('/').next().unwrap_or(one.path.as_str());
    Ok(StepSource {
        instruction: step.instruction.clone(),
        line: step.span.start_line,
        source: one.path.clone(),
        dest: step.dest.clone(),
        path: context.join(&one.path),
        name: name.to_string(),
        unpack: step.unpack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_context_defaults_to_the_dockerfiles_folder() {
        assert_eq!(default_context(Path::new("Dockerfile")), Path::new("."));
        assert_eq!(
            default_context(Path::new("a/b/Dockerfile")),
            Path::new("a/b")
        );
        assert_eq!(default_context(Path::new("/Dockerfile")), Path::new("/"));
    }
}
