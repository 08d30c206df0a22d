//! The values a request may leave open, settled to their defaults, each default recorded as
//! [`Assumed`].
use layerproof_dockerfile::BuilderKind;
use layerproof_image::Platform;
use layerproof_layer::Profile;

use super::BuildRequest;
use super::report::{Assumed, AssumedSource};
use crate::config::{Engine, GoTime};

/// The engine, builder, platform and build time of a rebuild.
#[derive(Debug, Clone)]
pub(super) struct Settled {
    pub engine: Engine,
    pub builder: BuilderKind,
    pub platform: Platform,
    pub build_time: GoTime,
}

impl Settled {
    /// The request's values, or their defaults (pushed onto `assumed`, in this order: engine,
    /// builder, platform, build time).
    pub fn new(req: &BuildRequest, assumed: &mut Vec<Assumed>) -> Settled {
        let engine = match req.engine {
            Some(e) => e,
            None => Engine::of_profile(req.profile).unwrap_or_else(|| {
                let newest = Profile::newest();
                assumed.push(Assumed::new(
                    "engine",
                    format!(
                        "{newest} (profile {} is not a Docker engine's own)",
                        req.profile.name
                    ),
                    AssumedSource::Default,
                    Some("--engine-version"),
                ));
                Engine::of_profile(newest).unwrap_or(Engine::new(29, 7))
            }),
        };
        let builder = req.builder.unwrap_or_else(|| {
            let b = if engine.major >= 23 {
                BuilderKind::Buildkit
            } else {
                BuilderKind::Classic
            };
            assumed.push(Assumed::new(
                "builder",
                format!("{b:?}").to_lowercase(),
                AssumedSource::Default,
                Some("--builder"),
            ));
            b
        });
        let platform = req.platform.clone().unwrap_or_else(|| {
            let p = Platform::host();
            assumed.push(Assumed::new(
                "platform",
                p.to_string(),
                AssumedSource::Default,
                Some("--platform"),
            ));
            p
        });
        let (build_time, source) = match req.build_time {
            Some(t) => (t, AssumedSource::Option),
            None => (GoTime::utc(0, 0), AssumedSource::Default),
        };
        assumed.push(Assumed::new(
            "build_time",
            build_time.to_string(),
            source,
            Some("--build-time"),
        ));
        Settled {
            engine,
            builder,
            platform,
            build_time,
        }
    }
}

/// The `docker_version` an engine of this profile writes: the profile's own
/// ([`layerproof_layer::profile::DockerEngine::docker_version`]) when `engine` is the profile's
/// release, else `MAJOR.MINOR.0`.
pub(super) fn default_docker_version(profile: &Profile, engine: &Engine) -> String {
    match (profile.engine, Engine::of_profile(profile)) {
        (Some(own), Some(e)) if (e.major, e.minor) == (engine.major, engine.minor) => {
            own.docker_version.to_string()
        }
        _ => format!("{}.{}.0", engine.major, engine.minor),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_docker_version_is_the_profiles_own_for_its_release() {
        let debian = Profile::for_docker_version("20.10.24+dfsg1").unwrap();
        let own = Engine::of_profile(debian).unwrap();
        assert_eq!(default_docker_version(debian, &own), "20.10.24+dfsg1");
        let p = Profile::preferred();
        assert_eq!(default_docker_version(p, &Engine::new(26, 1)), "26.1.5");
        assert_eq!(default_docker_version(p, &Engine::new(25, 0)), "25.0.0");
        let bk = Profile::all().iter().find(|p| p.engine.is_none()).unwrap();
        assert_eq!(default_docker_version(bk, &Engine::new(29, 7)), "29.7.0");
    }
}
