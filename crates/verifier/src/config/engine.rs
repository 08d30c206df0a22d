//! The engine whose config shape is written, and what its version decides.

use serde::Serialize;

use super::gojson::Encoder;
use crate::classic_hash::ContextTar;

/// The engine whose config shape is written: Docker Engine `major.minor` and the Go version it
/// was built with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Engine {
    /// Docker Engine major version (20, 23, 24, …).
    pub major: u32,
    /// Minor version (20.10 → 10).
    pub minor: u32,
    /// Go 1.x the engine was built with (decides `\b` and `\f` in JSON strings).
    pub go_minor: u32,
}

/// Layout of BuildKit's `config` object (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BuildkitLayout {
    /// BuildKit ≤ 0.11 (Docker ≤ 24).
    Legacy,
    /// BuildKit 0.12 (Docker 25).
    Oci11,
    /// BuildKit ≥ 0.13 (Docker ≥ 26).
    DockerSpec,
}

impl Engine {
    /// Docker `major.minor` built with the Go of its upstream release.
    pub fn new(major: u32, minor: u32) -> Engine {
        let go_minor = match (major, minor) {
            (..=19, _) => 13,
            (20, _) => 19,
            (23, _) => 20,
            (24, _) => 20,
            (25, _) | (26, _) => 21,
            (27, m) if m < 4 => 21,
            (27, _) => 22,
            (28, _) => 23,
            _ => 24,
        };
        Engine {
            major,
            minor,
            go_minor,
        }
    }

    /// The engine a `docker_version` string names (`20.10.24+dfsg1`, `26.1.5`). Debian's
    /// `+dfsg` builds of Docker ≥ 26 use trixie's Go 1.24.
    pub fn from_docker_version(v: &str) -> Option<Engine> {
        let mut it = v.split(['.', '+', '-', '~']);
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        let mut e = Engine::new(major, minor);
        if v.contains("dfsg") && major >= 26 {
            e.go_minor = 24;
        }
        Some(e)
    }

    /// The engine a layer profile (`layerproof profiles`) stands for: 20.10 for `docker-20.10*`,
    /// 23.0, 26.1 (the observed member of `docker-24-27`), 28.5 and 29.7. `None` for profiles
    /// that are not a Docker engine's graphdriver path.
    pub fn for_profile(name: &str) -> Option<Engine> {
        Some(match name {
            "docker-20.10" | "docker-20.10-debian" => Engine::new(20, 10),
            "docker-23.0" => Engine::new(23, 0),
            "docker-24-27" => Engine::new(26, 1),
            "docker-28-29.6" => Engine::new(28, 5),
            "docker-29.7" | "docker-29.7-buildkit-overlayfs" => Engine::new(29, 7),
            _ => return None,
        })
    }

    /// Which mode the context tar of a client of this version carries (classic source hash).
    pub fn context_tar(&self) -> ContextTar {
        ContextTar::for_client_major(self.major)
    }

    pub(super) fn buildkit_layout(&self) -> BuildkitLayout {
        match self.major {
            ..=24 => BuildkitLayout::Legacy,
            25 => BuildkitLayout::Oci11,
            _ => BuildkitLayout::DockerSpec,
        }
    }

    /// Docker ≥ 25 uses image-spec's `History` (`created`, `created_by`, `author`, …) for the
    /// classic builder too (moby 2a6ff3c24f); before, moby's own (`created`, `author`,
    /// `created_by`, …).
    pub(super) fn classic_oci_history(&self) -> bool {
        self.major >= 25
    }

    /// Docker ≥ 25 writes `--chown=X ` with a space before the source hash.
    pub(super) fn classic_chown_space(&self) -> bool {
        self.major >= 25
    }

    /// The `encoding/json` of the Go this engine was built with.
    pub(super) fn encoder(&self) -> Encoder {
        Encoder {
            short_bf: self.go_minor >= 22,
        }
    }
}

impl std::fmt::Display for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "docker-{}.{} (go1.{})",
            self.major, self.minor, self.go_minor
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engines_from_versions() {
        let e = Engine::from_docker_version("20.10.24+dfsg1").unwrap();
        assert_eq!((e.major, e.minor, e.go_minor), (20, 10, 19));
        let e = Engine::from_docker_version("26.1.5+dfsg1").unwrap();
        assert_eq!((e.major, e.minor, e.go_minor), (26, 1, 24));
        assert_eq!(Engine::from_docker_version("26.1.5").unwrap().go_minor, 21);
        assert!(Engine::from_docker_version("dev").is_none());
        assert_eq!(
            Engine::for_profile("docker-24-27"),
            Some(Engine::new(26, 1))
        );
        assert_eq!(Engine::for_profile("buildkit-containerd"), None);
    }
}
