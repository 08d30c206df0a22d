//! The engine whose config shape is written, and what its version decides.

use serde::Serialize;

use layerproof_layer::Profile;
use layerproof_layer::profile::DockerRelease;

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
        let release = DockerRelease::of_docker_version(v)?;
        let mut e = Engine::new(release.major, release.minor);
        if v.contains("dfsg") && release.major >= 26 {
            e.go_minor = 24;
        }
        Some(e)
    }

    /// The engine a layer profile stands for: the one that writes its default `docker_version`
    /// ([`layerproof_layer::profile::DockerEngine::docker_version`]). `None` for profiles that are not a Docker engine's.
    pub fn of_profile(profile: &Profile) -> Option<Engine> {
        Engine::from_docker_version(profile.engine?.docker_version)
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
    }

    #[test]
    fn engines_of_profiles() {
        let shape = |p: &Profile| Engine::of_profile(p).map(|e| (e.major, e.minor, e.go_minor));
        let of = |v: &str| Profile::for_docker_version(v).and_then(shape);
        assert_eq!(of("20.10.24+dfsg1"), Some((20, 10, 19)));
        assert_eq!(of("26.1.5+dfsg1"), Some((26, 1, 21)));
        assert_eq!(of("28.0.0"), Some((28, 5, 23)));
        assert_eq!(of("29.7.1"), Some((29, 7, 24)));
        for p in Profile::all() {
            assert_eq!(Engine::of_profile(p).is_some(), p.engine.is_some(), "{p}");
        }
    }
}
