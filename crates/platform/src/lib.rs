//! The platform an image is built for: `os/arch[/variant]`, as containerd's `platforms` package
//! spells it.
//!
//! One [`Platform`] type for every crate that names one: `layerproof-image` picks the manifest
//! of an index with it ([`Platform::satisfies`]), and `layerproof-dockerfile` takes the target
//! platform of a build as one (`TARGETPLATFORM`, `TARGETARCH`, … and the config's `os`,
//! `architecture` and `variant`). It is a crate of its own so that the Dockerfile frontend need
//! not depend on the image reader, which brings a registry client.
//!
//! **What it never does:** normalise aliases (`x86_64` stays `x86_64`, not containerd's
//! `amd64`), or look at anything but its input, except [`Platform::host`].
//!
//! ```
//! use layerproof_platform::Platform;
//! let p = Platform::parse("Linux/ARM64/v8").unwrap();
//! assert_eq!(p.to_string(), "linux/arm64/v8");
//! assert!(p.satisfies(&Platform::parse("linux/arm64").unwrap()));
//! assert!(Platform::parse("linux").is_err());
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

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

/// A string that is not `os/arch[/variant]`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid platform {input:?}: must be os/arch[/variant], each part letters, digits, '.', '_' or '-'"
)]
pub struct ParseError {
    /// What was given.
    pub input: String,
}

impl Platform {
    /// Parses `os/arch[/variant]`, lower-cased as containerd does; each part must be non-empty
    /// and of ASCII letters, digits, `.`, `_` or `-` (containerd's specifier syntax).
    pub fn parse(s: &str) -> Result<Platform, ParseError> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok = |p: &str| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        };
        if !(2..=3).contains(&parts.len()) || !parts.iter().all(|p| ok(p)) {
            return Err(ParseError {
                input: s.to_string(),
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
    }

    #[test]
    fn parse_lowercases_and_refuses_empty_or_odd_parts() {
        let p = Platform::parse("Linux/AMD64").unwrap();
        assert_eq!((p.os.as_str(), p.architecture.as_str()), ("linux", "amd64"));
        assert_eq!(p.variant, None);
        for bad in [
            "linux/amd64/",
            "/amd64",
            "linux//v7",
            "linux/amd 64",
            "linux/amd64\n",
        ] {
            let e = Platform::parse(bad).unwrap_err();
            assert_eq!(e.input, bad);
        }
        assert_eq!(
            Platform::parse("linux/").unwrap_err().to_string(),
            "invalid platform \"linux/\": must be os/arch[/variant], each part letters, digits, '.', '_' or '-'"
        );
    }
}
