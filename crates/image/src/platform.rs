//! Platforms (`os/arch[/variant]`) and how a manifest is picked from an index.
use std::fmt;

use crate::error::Error;

/// An OS/architecture pair with an optional CPU variant.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Platform {
    /// `linux`, `windows`, …
    pub os: String,
    /// GOARCH spelling: `amd64`, `arm64`, `arm`, `386`, `ppc64le`, `s390x`, `riscv64`, …
    pub architecture: String,
    /// `v7`, `v8`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Result<Platform, Error> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(Error::Reference {
                input: s.to_string(),
                reason: "platform must be os/arch[/variant]".into(),
            });
        }
        Ok(Platform {
            os: parts[0].to_ascii_lowercase(),
            architecture: parts[1].to_ascii_lowercase(),
            variant: parts.get(2).map(|v| v.to_ascii_lowercase()),
        })
    }

    /// The platform this program runs on, in Go's spelling.
    pub fn host() -> Platform {
        let (architecture, variant) = match std::env::consts::ARCH {
            "x86_64" => ("amd64", None),
            "x86" => ("386", None),
            "aarch64" => ("arm64", None),
            "arm" => ("arm", Some("v7")),
            "powerpc64" => ("ppc64le", None),
            "s390x" => ("s390x", None),
            "riscv64" => ("riscv64", None),
            other => (other, None),
        };
        Platform {
            os: std::env::consts::OS.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        }
    }

    fn norm_variant(&self) -> Option<&str> {
        match (self.architecture.as_str(), self.variant.as_deref()) {
            ("arm64", Some("v8")) | ("amd64", Some("v1")) => None,
            (_, v) => v,
        }
    }

    /// Whether an image for `self` satisfies a request for `wanted` (a missing variant in the
    /// request matches any variant; `arm64/v8` equals `arm64`).
    pub fn satisfies(&self, wanted: &Platform) -> bool {
        self.os == wanted.os
            && self.architecture == wanted.architecture
            && (wanted.norm_variant().is_none() || self.norm_variant() == wanted.norm_variant())
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

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
            p => Ok(PlatformSelector::One(Platform::parse(p)?)),
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
    fn parse_and_match() {
        let p = Platform::parse("linux/arm64/v8").unwrap();
        assert!(Platform::parse("linux/arm64").unwrap().satisfies(&p));
        assert!(p.satisfies(&Platform::parse("linux/arm64").unwrap()));
        let v7 = Platform::parse("linux/arm/v7").unwrap();
        assert!(!Platform::parse("linux/arm/v6").unwrap().satisfies(&v7));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux/amd64/x/y").is_err());
        assert_eq!(
            PlatformSelector::parse("all").unwrap(),
            PlatformSelector::All
        );
    }
}
