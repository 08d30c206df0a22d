//! The values a request may leave open, settled to their defaults, each default recorded as
//! [`Assumed`].
use layerproof_image::Platform;

use super::BuildRequest;
use super::report::{Assumed, AssumedSource};
use crate::config::{Engine, GoTime};
use crate::dockerfile::BuilderKind;

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
            None => Engine::for_profile(req.profile.name).unwrap_or_else(|| {
                assumed.push(Assumed::new(
                    "engine",
                    format!(
                        "docker-29.7 (profile {} is not a Docker engine's own)",
                        req.profile.name
                    ),
                    AssumedSource::Default,
                    Some("--engine-version"),
                ));
                Engine::new(29, 7)
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

/// The `docker_version` an engine of this profile writes (the observed builds where known).
pub(super) fn default_docker_version(profile: &str, engine: &Engine) -> String {
    match profile {
        "docker-20.10-debian" => "20.10.24+dfsg1".into(),
        "docker-20.10" => "20.10.24".into(),
        "docker-24-27" if engine.major == 26 && engine.minor == 1 => "26.1.5".into(),
        _ => format!("{}.{}.0", engine.major, engine.minor),
    }
}
