//! Platforms (`os/arch[/variant]`, the [`Platform`] of `layerproof-platform`) and how a
//! manifest is picked from an index.
use crate::error::Error;

pub use layerproof_platform::Platform;

/// Which manifests of an index to take.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum PlatformSelector {
    /// The host platform (the default, as `docker pull`).
    #[default]
    Host,
    /// One given platform.
    One(Platform),
    /// Every platform.
    All,
}

impl PlatformSelector {
    /// Parses `all`, `host` or `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<PlatformSelector, Error> {
        match s {
            "all" => Ok(PlatformSelector::All),
            "host" | "" => Ok(PlatformSelector::Host),
            p => Platform::parse(p)
                .map(PlatformSelector::One)
                .map_err(|e| Error::Reference {
                    input: e.input,
                    reason: "platform must be os/arch[/variant]".into(),
                }),
        }
    }

    /// The concrete platform asked for, if one.
    pub fn wanted(&self) -> Option<Platform> {
        match self {
            PlatformSelector::Host => Some(Platform::host()),
            PlatformSelector::One(p) => Some(p.clone()),
            PlatformSelector::All => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector() {
        assert_eq!(
            PlatformSelector::parse("all").unwrap(),
            PlatformSelector::All
        );
        assert_eq!(
            PlatformSelector::parse("Linux/ARM/v7").unwrap(),
            PlatformSelector::One(Platform::parse("linux/arm/v7").unwrap())
        );
        assert_eq!(
            PlatformSelector::parse("linux").unwrap_err().to_string(),
            "invalid image reference \"linux\": platform must be os/arch[/variant]"
        );
    }
}
