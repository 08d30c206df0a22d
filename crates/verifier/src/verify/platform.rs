//! One platform of the image: its config read once, the Dockerfile evaluated for its builder
//! and platform, each step paired with a published layer, and the config checked field by
//! field. An oci-import (`--rootfs`) compares the image's one layer with the tarball instead.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::Path;
use std::time::Instant;

use layerproof_archive::compression::{self, Compression};
use layerproof_dockerfile::{BuildOptions, BuilderKind, CopyStep, ImageModel};
use layerproof_image::chain::{self, MAX_CONFIG};
use layerproof_layer::Profile;

use super::layer::{LayerJob, published_layer};
use super::sources::{SourceDigests, Sources, StepSource};
use super::{Error, Run, joined};
use crate::build::model::{self, ModelError};
use crate::classic_hash::{ContextFile, ContextTar};
use crate::config::{
    BuilderMark, CheckOptions, CheckStatus, ConfigCheck, Engine, builder_of, check_config,
};
use crate::explain;
use crate::layerscan::{self, Scan};
use crate::report::{
    Builder, ImageInfo, LayerReport, PlatformReport, RebuiltLayer, StepInfo, Verdict, worst,
};

/// A published image config, read once: its bytes (what is checked) and their JSON.
pub(super) struct PublishedConfig {
    bytes: Vec<u8>,
    json: serde_json::Value,
}

impl PublishedConfig {
    /// The `created_by` lines of its history.
    fn history_lines(&self) -> Vec<&str> {
        self.json["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["created_by"].as_str())
            .collect()
    }
}

impl Run<'_> {
    /// Verify one platform's image; the sources' digests come back with the report.
    pub(super) fn verify_platform(
        &self,
        img: &chain::Image,
    ) -> Result<(PlatformReport, Sources), Error> {
        if let Some(rootfs) = &self.req.rootfs {
            return Ok((self.verify_import(img, rootfs)?, Sources::new()));
        }
        let started = Instant::now();
        let platform = img.summary.platform.to_string();
        let config = self.read_config(img)?;
        let builder = builder_of(&config.json).unwrap_or_else(BuilderMark::assumed);
        let version = config.json["docker_version"]
            .as_str()
            .and_then(Profile::for_docker_version);
        let image = image_info(img, builder.kind.into(), builder.evidence);
        let builder = builder.kind;
        let model = self.model(&img.summary.platform, builder)?;
        let mut notes: Vec<String> = img.warning.iter().cloned().collect();
        let steps = &model.layers;
        if steps.len() != img.layers.len() {
            notes.push(format!(
                "the Dockerfile produces {} layer(s) for {platform}, the image has {}",
                steps.len(),
                img.layers.len()
            ));
        }
        let mut layers = Vec::new();
        let mut step_sources = Vec::new();
        let mut digests = Sources::new();
        for (index, (step, published)) in steps.iter().zip(&img.layers).enumerate() {
            let source = self.step_source(step)?;
            self.progress.step(
                &platform,
                &format!(
                    "layer {}: {} {}",
                    index + 1,
                    source.info.instruction,
                    source.name
                ),
            );
            let job = LayerJob {
                index,
                source: &source,
                published,
                platform: &platform,
                version,
                builder,
            };
            let (report, hashed) = self.verify_layer(&job, digests.get(&source.key()))?;
            digests.insert(source.key(), hashed);
            layers.push(report);
            step_sources.push(source);
        }
        let config_checks = self.config_checks(
            &config,
            &model,
            builder,
            (&step_sources, &digests),
            &layers,
            &mut notes,
        );
        let (mut verdict, level) = worst(layers.iter().map(|l| (l.verdict, l.level)));
        if steps.len() != img.layers.len() {
            verdict = verdict.max(Verdict::Different);
        }
        let differing: Vec<&str> = config_checks
            .iter()
            .filter(|c| c.status == CheckStatus::Differ)
            .map(|c| c.field.as_str())
            .collect();
        if !differing.is_empty() {
            notes.push(format!(
                "the published config differs from the Dockerfile in: {}",
                differing.join(", ")
            ));
            verdict = verdict.max(Verdict::Different);
        }
        let report = PlatformReport {
            platform,
            verdict,
            level: (verdict == Verdict::Reproduced).then_some(level).flatten(),
            image,
            layers,
            config: config_checks,
            notes,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        Ok((report, digests))
    }

    fn read_config(&self, img: &chain::Image) -> Result<PublishedConfig, Error> {
        let bytes = self.src.blob(&img.config)?.read_all(MAX_CONFIG)?;
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        Ok(PublishedConfig { bytes, json })
    }

    /// The image the Dockerfile's target stage builds for `platform` and `builder`, or why it
    /// is not modelled.
    fn model(
        &self,
        platform: &layerproof_image::Platform,
        builder: BuilderKind,
    ) -> Result<ImageModel, Error> {
        let opts = BuildOptions {
            builder,
            build_args: self.req.build_args.clone(),
            platform: platform.clone(),
            build_platform: None,
            target: None,
        };
        let path = || self.req.dockerfile.clone();
        model::image_model(self.df, &opts, self.context).map_err(|e| match e {
            ModelError::OutOfScope {
                line,
                instruction,
                reason,
            } => Error::OutOfScope {
                path: path(),
                line,
                instruction,
                reason,
            },
            e => Error::Dockerfile {
                path: path(),
                message: e.to_string(),
            },
        })
    }

    /// oci-import: the image's layer must be the tarball's own tar stream.
    fn verify_import(&self, img: &chain::Image, rootfs: &Path) -> Result<PlatformReport, Error> {
        let started = Instant::now();
        let platform = img.summary.platform.to_string();
        let config = self.read_config(img)?;
        let evidence = config.json["history"]
            .as_array()
            .and_then(|h| h.first())
            .and_then(|h| h["created_by"].as_str())
            .map_or_else(
                || "no history".to_string(),
                |c| format!("history created_by {c:?}"),
            );
        let image = image_info(img, Builder::OciImport, evidence);
        let mut notes = Vec::new();
        if img.layers.len() != 1 {
            notes.push(format!(
                "an imported rootfs is one layer; the image has {} (compared with the first)",
                img.layers.len()
            ));
        }
        let layers = match img.layers.first() {
            Some(published) => vec![self.import_layer(published, rootfs, &platform)?],
            None => Vec::new(),
        };
        let verdict = match layers.first() {
            Some(l) if notes.is_empty() => l.verdict,
            Some(l) => l.verdict.max(Verdict::Different),
            None => Verdict::Different,
        };
        let level = layers.first().and_then(|l| l.level);
        Ok(PlatformReport {
            platform,
            verdict,
            level: (verdict == Verdict::Reproduced).then_some(level).flatten(),
            image,
            layers,
            config: Vec::new(),
            notes,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// The imported layer: the published blob and the rootfs tarball scanned at once, then
    /// compared by diff_id (and blob), or explained.
    fn import_layer(
        &self,
        published: &chain::Layer,
        rootfs: &Path,
        platform: &str,
    ) -> Result<LayerReport, Error> {
        let what = format!("{platform} layer 1");
        self.progress
            .step(platform, &format!("layer 1: {}", rootfs.display()));
        let (scanned, ours) = std::thread::scope(|s| {
            let t = s.spawn(|| self.scan_published(&published.blob, &what));
            let ours = self.scan_rootfs(rootfs);
            (joined(t, "scanner"), ours)
        });
        let (scan, compression) = scanned?;
        let (ours, src_compression) = ours?;
        let step = StepInfo {
            instruction: "IMPORT".into(),
            line: 0,
            source: rootfs.display().to_string(),
            dest: "/".into(),
        };
        let mut report = LayerReport::new(
            0,
            step,
            Verdict::Reproduced,
            published_layer(published, compression, &scan),
        );
        let mut rebuilt = RebuiltLayer {
            diff_id: ours.diff_id.map_or_else(String::new, |d| d.to_string()),
            blob_digest: None,
            size: ours.size,
            entries: ours.entries.len() as u64,
            treatment: format!(
                "imported as is ({} tarball, decompressed)",
                src_compression.as_str()
            ),
        };
        if ours.diff_id == scan.diff_id {
            let layer = |w: &mut dyn io::Write| -> io::Result<()> {
                let f = File::open(rootfs)?;
                let mut d = compression::open(BufReader::new(f), &self.req.limits.decompress)?;
                io::copy(&mut d, w).map(|_| ())
            };
            let (level, blob_digest, blob_report) = self.blob_level(
                published,
                compression,
                &rebuilt.diff_id,
                &layer,
                "layer 1",
                platform,
                &mut report.notes,
            )?;
            rebuilt.blob_digest = blob_digest;
            report.blob = blob_report;
            report.level = Some(level);
        } else {
            let diff = explain::compare(&ours, &scan);
            report.verdict = if diff.content_equivalent {
                Verdict::ContentEquivalent
            } else {
                Verdict::Different
            };
            report.differences = Some(diff);
        }
        report.rebuilt = Some(rebuilt);
        Ok(report)
    }

    /// The rootfs tarball, decompressed and scanned, and its compression.
    fn scan_rootfs(&self, rootfs: &Path) -> Result<(Scan, Compression), Error> {
        let err = |e: io::Error| Error::File {
            path: rootfs.to_path_buf(),
            source: e,
        };
        let f = File::open(rootfs).map_err(err)?;
        let d = compression::open(
            BufReader::with_capacity(1 << 16, f),
            &self.req.limits.decompress,
        )
        .map_err(err)?;
        let c = d.compression();
        let scan = layerscan::scan(d, self.req.limits.read.clone()).map_err(|e| Error::Scan {
            path: rootfs.to_path_buf(),
            source: Box::new(e),
        })?;
        Ok((scan, c))
    }

    fn step_source(&self, step: &CopyStep) -> Result<StepSource, Error> {
        let s = model::step_source(step, &self.req.context).map_err(|e| Error::OutOfScope {
            path: self.req.dockerfile.clone(),
            line: e.line,
            instruction: e.instruction,
            reason: e.reason,
        })?;
        Ok(StepSource {
            path: s.path,
            name: s.name,
            info: StepInfo {
                instruction: s.instruction,
                line: s.line,
                source: s.source,
                dest: s.dest,
            },
            unpack: s.unpack,
        })
    }

    /// Check the published config against the Dockerfile's model, with the steps' sources
    /// and their digests.
    fn config_checks(
        &self,
        config: &PublishedConfig,
        model: &ImageModel,
        builder: BuilderKind,
        (sources, digests): (&[StepSource], &Sources),
        layers: &[LayerReport],
        notes: &mut Vec<String>,
    ) -> Vec<ConfigCheck> {
        let published_lines = config.history_lines();
        let engine_tar = config.json["docker_version"]
            .as_str()
            .and_then(Engine::from_docker_version)
            .map(|e| e.context_tar());
        let source_hashes: Vec<Option<String>> = sources
            .iter()
            .map(|s| {
                let d = digests.get(&s.key())?;
                if builder != BuilderKind::Classic {
                    return None;
                }
                self.classic_source_hash(s, d, &published_lines, engine_tar, notes)
            })
            .collect();
        let diff_ids: Vec<String> = layers
            .iter()
            .map(|l| {
                l.rebuilt
                    .as_ref()
                    .map_or_else(String::new, |r| r.diff_id.clone())
            })
            .collect();
        let complete =
            diff_ids.len() == model.layers.len() && diff_ids.iter().all(|d| !d.is_empty());
        check_config(
            &config.bytes,
            model,
            &CheckOptions {
                builder: Some(builder),
                source_hashes: &source_hashes,
                diff_ids: complete.then_some(diff_ids.as_slice()),
            },
        )
    }

    /// The classic builder's `file:<hash>` of a source to expect in the history. The client
    /// that sent the context decides the mode bits of the hashed header: take the generation
    /// the history shows, else the daemon's own.
    fn classic_source_hash(
        &self,
        source: &StepSource,
        digests: &SourceDigests,
        published_lines: &[&str],
        engine_tar: Option<ContextTar>,
        notes: &mut Vec<String>,
    ) -> Option<String> {
        let shown = digests
            .classic
            .iter()
            .find(|(_, h)| published_lines.iter().any(|l| l.contains(h.as_str())));
        if shown.is_none()
            && let Some(found) = context_mode_from_history(source, published_lines, notes)
        {
            return Some(found);
        }
        let (tar, hash) = shown
            .or_else(|| digests.classic.iter().find(|(t, _)| Some(*t) == engine_tar))
            .or(digests.classic.last())?;
        if shown.is_some() && Some(*tar) != engine_tar {
            notes.push(format!(
                "the ADD source hash of {} matches a {} build context (another client \
                 generation than the daemon's)",
                source.info.source,
                match tar {
                    ContextTar::TypeBits => "Docker ≤ 23 client's",
                    ContextTar::PermissionsOnly => "Docker ≥ 24 client's",
                }
            ));
        }
        Some(hash.clone())
    }
}

/// The image part of a platform report.
fn image_info(img: &chain::Image, builder: Builder, evidence: String) -> ImageInfo {
    ImageInfo {
        manifest: img.manifest.as_ref().map(|d| d.digest.to_string()),
        config: img.config.digest.to_string(),
        created: img.summary.created.clone(),
        builder,
        builder_evidence: evidence,
    }
}

/// The classic source hash when the build context's file mode differs from this checkout's
/// (a umask 002 checkout gives 0664): try the common modes against the `file:` hashes the
/// published history shows, in one more read of the source.
fn context_mode_from_history(
    source: &StepSource,
    published_lines: &[&str],
    notes: &mut Vec<String>,
) -> Option<String> {
    let size = std::fs::metadata(&source.path).ok()?.len();
    let file = ContextFile::new(source.info.source.clone(), 0o644, size);
    for line in published_lines {
        let Some(at) = line.find("file:") else {
            continue;
        };
        let hash: String = line[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == ':')
            .collect();
        let body = File::open(&source.path).ok()?;
        if let Ok(Some((mode, _))) =
            crate::classic_hash::find_context_mode(&file, BufReader::new(body), &hash)
        {
            notes.push(format!(
                "the ADD source hash of {} was computed with context file mode {mode:04o} \
                 (this checkout's file has another mode; a property of the build context, not \
                 of the tarball)",
                source.info.source
            ));
            return Some(hash);
        }
    }
    None
}
