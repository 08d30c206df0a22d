//! The image config: the values only a real run decides (taken from a published config, or
//! assumed), then the config itself.
use layerproof_dockerfile::{BuilderKind, ImageModel};
use sha2::Digest as _;

use super::report::{Assumed, AssumedSource};
use super::settle::{Settled, default_docker_version};
use super::{BuildRequest, Error};
use crate::config::{self, ConfigInputs, RunValues};

/// The config of the image `model` describes, with the layers' diff_ids and source hashes.
pub(super) fn image_config(
    req: &BuildRequest,
    settled: &Settled,
    model: &ImageModel,
    diff_ids: &[String],
    source_hashes: &[Option<String>],
    assumed: &mut Vec<Assumed>,
) -> Result<Vec<u8>, Error> {
    let run = run_values(req, settled, model, assumed)?;
    let inputs = ConfigInputs {
        model,
        builder: settled.builder,
        engine: settled.engine,
        diff_ids,
        source_hashes,
    };
    match config::image_config(&inputs, &run) {
        Err(config::Error::MissingRunValue(what)) if what.starts_with("config.Image") => {
            // the previous step ran in a container whose ID only a real build knows
            let mut run = run;
            let invented = format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(
                    format!("layerproof parent image {}", diff_ids.join(",")).as_bytes()
                ))
            );
            assumed.push(Assumed::new(
                "config.Image (previous step's image ID)",
                invented.clone(),
                AssumedSource::Invented,
                Some("--run-values-from"),
            ));
            run.parent_image = Some(invented);
            Ok(config::image_config(&inputs, &run)?)
        }
        other => Ok(other?),
    }
}

/// The run-dependent values: from a published config, or assumed (and reported).
fn run_values(
    req: &BuildRequest,
    settled: &Settled,
    model: &ImageModel,
    assumed: &mut Vec<Assumed>,
) -> Result<RunValues, Error> {
    if let Some(p) = &req.run_values_from {
        return published_run_values(p, settled.builder, model, assumed);
    }
    let (created, how) = match req.created {
        Some(c) => (c, AssumedSource::Option),
        None => (settled.build_time, AssumedSource::Derived),
    };
    assumed.push(Assumed::new(
        "created (image and every history entry)",
        created.to_string(),
        how,
        Some("--created"),
    ));
    let docker_version = if settled.builder == BuilderKind::Classic {
        let (v, how) = match &req.docker_version {
            Some(v) => (v.clone(), AssumedSource::Option),
            None => (
                default_docker_version(req.profile, &settled.engine),
                AssumedSource::Default,
            ),
        };
        assumed.push(Assumed::new(
            "docker_version",
            v.clone(),
            how,
            Some("--docker-version"),
        ));
        v
    } else {
        String::new()
    };
    let seed = format!("{created} {}", model.history.len());
    let mut run = RunValues::uniform(model.history.len(), created, &docker_version, &seed);
    let last_is_layer = model
        .layers
        .iter()
        .any(|l| l.history_index + 1 == model.history.len() && l.instruction != "WORKDIR");
    if settled.builder == BuilderKind::Classic && !model.history.is_empty() && !last_is_layer {
        if let Some(c) = &run.container {
            assumed.push(Assumed::new(
                "container (the last step's build container)",
                c.clone(),
                AssumedSource::Invented,
                Some("--run-values-from"),
            ));
        }
    } else {
        run.container = None;
    }
    Ok(run)
}

/// Every run-dependent value from a published image config.
fn published_run_values(
    path: &std::path::Path,
    builder: BuilderKind,
    model: &ImageModel,
    assumed: &mut Vec<Assumed>,
) -> Result<RunValues, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        source: e,
    })?;
    let run = RunValues::from_published(&bytes).map_err(|e| Error::PublishedConfig {
        path: path.to_path_buf(),
        source: e,
    })?;
    if run.history_created.len() != model.history.len() {
        return Err(Error::HistoryLength {
            path: path.to_path_buf(),
            published: run.history_created.len(),
            ours: model.history.len(),
        });
    }
    for (i, t) in run.history_created.iter().enumerate() {
        assumed.push(Assumed::new(
            format!("history[{i}].created"),
            t.to_string(),
            AssumedSource::PublishedConfig,
            Some("--run-values-from"),
        ));
    }
    if builder == BuilderKind::Classic {
        for (name, v) in [
            ("docker_version", Some(run.docker_version.clone())),
            ("container", run.container.clone()),
            ("config.Image", run.parent_image.clone()),
        ] {
            if let Some(v) = v {
                assumed.push(Assumed::new(
                    name,
                    v,
                    AssumedSource::PublishedConfig,
                    Some("--run-values-from"),
                ));
            }
        }
    }
    Ok(run)
}
