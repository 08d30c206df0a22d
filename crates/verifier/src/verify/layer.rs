//! One layer, as named stages that return values: the streamed comparison
//! ([`crate::streamed`]) when it applies, else [`Run::scan_both`] → [`rank`] →
//! [`Run::skeleton_pass`] → [`Run::bytes_pass`] → [`Run::conclude`] (the blob level for a
//! match, [`Run::explain_closest`] when none matched).

use std::io::{self, Seek};

use layerproof_archive::compression::Compression;
use layerproof_archive::skeleton::Skeleton;
use layerproof_archive::{Bodies, Digest};
use layerproof_dockerfile::BuilderKind;
use layerproof_image::chain;
use layerproof_layer::{HashingWriter, Profile};

use super::closest::Closest;
use super::evidence::{first_guess, rank_profiles};
use super::sources::{Setup, SourceDigests, StepSource, source_digests};
use super::{Error, ProfileChoice, Run, joined};
use crate::layerscan::Scan;
use crate::rebuild::{self, Params, Prepared, Treatment, Unpacked};
use crate::report::{
    Candidate, CandidateOutcome, Compared, LayerReport, PublishedLayer, RebuiltLayer, RefusalInfo,
    Verdict,
};
use crate::streamed::StreamedAttempt;
use crate::{digest, infer};

/// One step's layer to verify: which, from what, and what the config says of its engine.
pub(crate) struct LayerJob<'a> {
    /// Position among the image's layers.
    pub(crate) index: usize,
    /// The step's source.
    pub(crate) source: &'a StepSource,
    /// The published layer.
    pub(crate) published: &'a chain::Layer,
    /// `os/arch[/variant]`, for progress.
    pub(crate) platform: &'a str,
    /// The profile the config's `docker_version` names.
    pub(crate) version: Option<&'static Profile>,
    /// The builder the config's history shows.
    pub(crate) builder: BuilderKind,
}

/// What decides how a source unpacks ([`rebuild::unpack_key`]).
type UnpackKey = (layerproof_archive::unpack::Options, bool);

/// The source trees unpacked so far, one per unpack key.
pub(crate) type Trees = Vec<(UnpackKey, Unpacked)>;

/// The tree `profile` writes from, if it was unpacked (and not refused).
pub(crate) fn tree_for<'t>(trees: &'t Trees, profile: &Profile) -> Option<&'t Prepared> {
    let key = rebuild::unpack_key(profile);
    match trees.iter().find(|(k, _)| *k == key) {
        Some((_, Unpacked::Tree(p))) => Some(p),
        _ => None,
    }
}

/// The published side of a layer report: the descriptor and config's digests, and what the
/// scan of the blob (decompressed as `compression`) found.
pub(crate) fn published_layer(
    layer: &chain::Layer,
    compression: Compression,
    scan: &Scan,
) -> PublishedLayer {
    PublishedLayer {
        digest: layer.blob.digest.to_string(),
        diff_id: layer.diff_id.as_ref().map(ToString::to_string),
        computed_diff_id: scan.diff_id,
        media_type: layer.blob.media_type.clone(),
        size: layer.blob.size,
        compression: compression.as_str().to_string(),
        uncompressed_size: scan.size,
        entries: scan.entries.len(),
    }
}

/// How a source was treated, for the report.
pub(crate) fn treatment_text(t: &Treatment) -> String {
    match t {
        Treatment::Unpacked(c) => format!("unpacked ({})", c.as_str()),
        Treatment::Copied { reason } => format!("copied as a file: {reason}"),
    }
}

/// Candidate profiles, most plausible first: the one asked for, or all of them ranked by the
/// published evidence.
pub(crate) fn rank(
    choice: ProfileChoice,
    scan: &Scan,
    version: Option<&'static Profile>,
    builder: BuilderKind,
) -> Vec<&'static Profile> {
    match choice {
        ProfileChoice::Named(p) => vec![p],
        ProfileChoice::Auto => rank_profiles(scan, version, builder),
    }
}

/// Both sides of a layer, read at once.
struct Scanned {
    scan: Scan,
    compression: Compression,
    /// The source unpacked for the first guess, with body digests only.
    first: Unpacked,
    digests: SourceDigests,
}

/// How a pass compares a candidate with the published layer.
#[derive(Clone, Copy)]
enum Compare {
    /// Headers encoded, bodies by the digests taken while reading.
    Skeleton(Skeleton),
    /// The whole layer written and hashed.
    Bytes,
}

/// What one pass over the candidates found.
pub(crate) struct Pass {
    /// Every candidate tried, in order.
    pub(super) tried: Vec<Candidate>,
    /// The first that matched, and our layer.
    pub(super) matched: Option<(&'static Profile, RebuiltLayer)>,
    /// The first refusal met.
    pub(super) refusal: Option<RefusalInfo>,
    /// The candidates that built a layer, one per distinct output, in order.
    pub(super) built: Vec<&'static Profile>,
    /// The trees the candidates were written from.
    pub(super) trees: Trees,
}

impl Run<'_> {
    /// Verify one layer; the source's digests come back with the report.
    pub(super) fn verify_layer(
        &self,
        job: &LayerJob<'_>,
        known: Option<&SourceDigests>,
    ) -> Result<(LayerReport, SourceDigests), Error> {
        let setup = self.setup(job.source)?;
        let (attempt, hashed) = self.verify_streamed(job, &setup, known)?;
        let known = hashed.as_ref().or(known);
        let gave_up = match attempt {
            StreamedAttempt::Reproduced(report) => {
                let digests = source_digests(job.source, setup.ctx_perm, job.builder, known)?;
                return Ok((*report, digests));
            }
            StreamedAttempt::NotApplicable => None,
            StreamedAttempt::GaveUp(why) => Some(why),
        };
        let Scanned {
            scan,
            compression,
            first,
            digests,
        } = self.scan_both(job, &setup, known)?;
        let mut notes = Vec::new();
        if let Some(why) = gave_up {
            notes.push(format!(
                "the streamed comparison gave up ({why}); both layers were read whole"
            ));
        }
        let target = target_diff_id(job.published, &scan, &mut notes);
        let candidates = rank(self.req.profile, &scan, job.version, job.builder);
        let skeleton_pass = match scan.skeleton {
            Some(skeleton) => {
                let first = (rebuild::unpack_key(self.first_guess(job)), first);
                let pass =
                    self.skeleton_pass(&candidates, skeleton, first, &setup, &scan, target)?;
                Some(pass).filter(|p| p.matched.is_some() || p.built.is_empty())
            }
            None => None,
        };
        let pass = match skeleton_pass {
            Some(pass) => pass,
            None => self.bytes_pass(&candidates, &setup, &scan, target)?,
        };
        let published = published_layer(job.published, compression, &scan);
        let report = self.conclude(job, &setup, &scan, published, compression, pass, notes)?;
        Ok((report, digests))
    }

    /// How the source of `source` is opened and its base parameters.
    fn setup<'s>(&'s self, source: &'s StepSource) -> Result<Setup<'s>, Error> {
        let ctx_perm = std::fs::metadata(&source.path)
            .map(|m| {
                use std::os::unix::fs::PermissionsExt;
                m.permissions().mode() & 0o7777
            })
            .map_err(|e| Error::File {
                path: source.path.clone(),
                source: e,
            })?;
        Ok(Setup {
            path: &source.path,
            name: &source.name,
            unpack: source.unpack,
            ctx_perm,
            memory_budget: self.memory_budget,
            limits: &self.req.limits,
        })
    }

    /// The profile the first unpack uses, before the published layer is known.
    fn first_guess(&self, job: &LayerJob<'_>) -> &'static Profile {
        match self.req.profile {
            ProfileChoice::Named(p) => p,
            ProfileChoice::Auto => first_guess(job.version),
        }
    }

    /// Three threads at once: the published blob scanned, the source hashed, and the source
    /// unpacked for the first guess keeping only body digests (for the skeleton pass).
    fn scan_both(
        &self,
        job: &LayerJob<'_>,
        setup: &Setup<'_>,
        known: Option<&SourceDigests>,
    ) -> Result<Scanned, Error> {
        let what = format!("{} layer {}", job.platform, job.index + 1);
        let (scanned, hashed, first) = std::thread::scope(|s| {
            let published_thread = s.spawn(|| self.scan_published(&job.published.blob, &what));
            let hash_thread =
                s.spawn(|| source_digests(job.source, setup.ctx_perm, job.builder, known));
            let mut p = setup.params(self.first_guess(job));
            p.bodies = Bodies::Digests;
            let first = rebuild::unpack(&|| setup.open(), &p).map_err(|e| setup.error(e));
            let scanned = joined(published_thread, "scanner");
            let hashed = joined(hash_thread, "hash");
            (scanned, hashed, first)
        });
        let (scan, compression) = scanned?;
        let digests = hashed?;
        Ok(Scanned {
            scan,
            compression,
            first: first?,
            digests,
        })
    }

    /// Each candidate's headers encoded and compared with the published skeleton, from trees
    /// unpacked with body digests only (`first` is one of them). Equal skeletons are equal
    /// layers.
    fn skeleton_pass(
        &self,
        candidates: &[&'static Profile],
        skeleton: Skeleton,
        first: (UnpackKey, Unpacked),
        setup: &Setup<'_>,
        scan: &Scan,
        target: Option<Digest>,
    ) -> Result<Pass, Error> {
        let trees = vec![first];
        self.pass(
            Compare::Skeleton(skeleton),
            candidates,
            trees,
            setup,
            scan,
            target,
        )
    }

    /// Each candidate's whole layer written and hashed, from trees unpacked with their bodies:
    /// the exact comparison, which also feeds the explanation.
    fn bytes_pass(
        &self,
        candidates: &[&'static Profile],
        setup: &Setup<'_>,
        scan: &Scan,
        target: Option<Digest>,
    ) -> Result<Pass, Error> {
        self.pass(Compare::Bytes, candidates, Vec::new(), setup, scan, target)
    }

    /// Try `candidates` in order until one gives `target`, unpacking the source once per
    /// distinct unpack key.
    fn pass(
        &self,
        compare: Compare,
        candidates: &[&'static Profile],
        mut trees: Trees,
        setup: &Setup<'_>,
        scan: &Scan,
        target: Option<Digest>,
    ) -> Result<Pass, Error> {
        let mut tried = Vec::new();
        let mut refusal = None;
        let mut built: Vec<(&'static Profile, String)> = Vec::new();
        let mut matched = None;
        for &profile in candidates {
            let key = rebuild::unpack_key(profile);
            let slot = match trees.iter().position(|(k, _)| *k == key) {
                Some(i) => i,
                None => {
                    let mut p = setup.params(profile);
                    p.bodies = match compare {
                        Compare::Skeleton(_) => Bodies::Digests,
                        Compare::Bytes => Bodies::Keep,
                    };
                    let u = rebuild::unpack(&|| setup.open(), &p).map_err(|e| setup.error(e))?;
                    trees.push((key, u));
                    trees.len() - 1
                }
            };
            let params = setup.params_for(profile, scan);
            let prepared = match &mut trees[slot].1 {
                Unpacked::Refused(r) => {
                    refusal.get_or_insert_with(|| RefusalInfo {
                        entry: r.entry,
                        name: r.name.clone(),
                        message: r.message.clone(),
                    });
                    tried.push(Candidate {
                        profile: profile.name,
                        outcome: CandidateOutcome::Refused,
                        diff_id: None,
                        compared: None,
                        detail: Some(r.message.clone()),
                    });
                    continue;
                }
                Unpacked::Tree(prepared) => prepared,
            };
            let output =
                candidate_output(compare, prepared, &params, target).map_err(|e| setup.error(e))?;
            let ok = output.diff_id.is_some() && output.diff_id == target;
            tried.push(Candidate {
                profile: profile.name,
                outcome: if ok {
                    CandidateOutcome::Match
                } else {
                    CandidateOutcome::Differs
                },
                diff_id: output.diff_id,
                compared: Some(match compare {
                    Compare::Skeleton(_) => Compared::Skeleton,
                    Compare::Bytes => Compared::Bytes,
                }),
                detail: None,
            });
            if ok {
                let rebuilt = RebuiltLayer {
                    diff_id: output.diff_id.map_or_else(String::new, |d| d.to_string()),
                    blob_digest: None,
                    size: output.size,
                    entries: output.entries,
                    treatment: treatment_text(&prepared.treatment),
                };
                matched = Some((profile, rebuilt));
                break;
            }
            if !built.iter().any(|(_, d)| *d == output.identity) {
                built.push((profile, output.identity));
            }
        }
        Ok(Pass {
            tried,
            matched,
            refusal,
            built: built.into_iter().map(|(p, _)| p).collect(),
            trees,
        })
    }

    /// The report of a layer once the passes are done: reproduced (with its blob level),
    /// not buildable, or the closest candidate's differences.
    #[allow(clippy::too_many_arguments)]
    fn conclude(
        &self,
        job: &LayerJob<'_>,
        setup: &Setup<'_>,
        scan: &Scan,
        published: PublishedLayer,
        compression: Compression,
        mut pass: Pass,
        mut notes: Vec<String>,
    ) -> Result<LayerReport, Error> {
        let hazards = match pass.trees.first().map(|t| &t.1) {
            Some(Unpacked::Tree(p)) => p.hazards.clone(),
            _ => Vec::new(),
        };
        let chosen = pass
            .matched
            .as_ref()
            .map(|(p, _)| *p)
            .or_else(|| pass.built.first().copied());
        let inferred = chosen.map_or_else(Vec::new, |p| {
            let auto = matches!(self.req.profile, ProfileChoice::Auto) && pass.matched.is_some();
            infer::describe(
                &scan.published,
                p,
                job.source.name.as_bytes(),
                tree_for(&pass.trees, p),
                auto,
            )
        });
        let step = job.source.info.clone();
        if let Some((profile, rebuilt)) = pass.matched {
            let m = crate::blob::Match {
                index: job.index,
                step,
                published: job.published,
                published_info: published,
                compression,
                profile,
                rebuilt,
                inferred,
                candidates: pass.tried,
                notes,
                hazards,
            };
            return self.reproduced(m, job.platform);
        }
        let mut report = LayerReport::new(job.index, step, Verdict::NotBuildable, published);
        report.inferred = inferred;
        report.hazards = hazards;
        if pass.built.is_empty() {
            report.profile = pass.tried.first().map(|c| c.profile);
            report.candidates = pass.tried;
            report.refusal = pass.refusal;
            report.notes = notes;
            return Ok(report);
        }
        self.progress.step(
            job.platform,
            &format!("layer {}: explaining the difference", job.index + 1),
        );
        let Closest {
            profile,
            diff,
            rebuilt,
            mut layer,
        } = self.explain_closest(&mut pass, setup, scan)?;
        report.verdict = if diff.content_equivalent {
            Verdict::ContentEquivalent
        } else {
            Verdict::Different
        };
        if diff.content_equivalent {
            layer.rewind().map_err(Error::Temp)?;
            report.first_header_difference =
                self.first_header_difference(layer.as_file_mut(), &job.published.blob);
        }
        if let Some(r) = &pass.refusal {
            notes.push(format!(
                "some profiles refuse this tarball: {}{}",
                r.message,
                r.entry
                    .map(|e| format!(" (entry {e} {:?})", r.name))
                    .unwrap_or_default()
            ));
        }
        report.rebuilt = Some(rebuilt);
        report.profile = Some(profile.name);
        report.candidates = pass.tried;
        report.differences = Some(diff);
        report.notes = notes;
        Ok(report)
    }
}

/// The diff_id to reproduce: what the published blob decompresses to (with a note when the
/// config's diff_id says otherwise).
fn target_diff_id(
    published: &chain::Layer,
    scan: &Scan,
    notes: &mut Vec<String>,
) -> Option<Digest> {
    if let Some(d) = &published.diff_id
        && digest::published(d) != scan.diff_id
    {
        let ours = scan.diff_id.map_or_else(String::new, |d| d.to_string());
        notes.push(format!(
            "the published blob decompresses to {ours}, but the config's diff_id is {d}; \
             compared with what the blob holds"
        ));
    }
    scan.diff_id
}

/// What a candidate's layer came to in one comparison.
struct Output {
    /// What identifies the output among the candidates'.
    identity: String,
    /// Its diff_id, when known (a differing skeleton does not tell it).
    diff_id: Option<Digest>,
    size: u64,
    entries: u64,
}

/// A candidate's layer under `params`, compared as `compare` says.
fn candidate_output(
    compare: Compare,
    prepared: &mut Prepared,
    params: &Params<'_>,
    target: Option<Digest>,
) -> Result<Output, rebuild::Error> {
    Ok(match compare {
        Compare::Skeleton(published) => {
            let sk = rebuild::skeleton(prepared, params)?;
            // equal skeletons: our bytes are the published bytes, whose sha256 the scan took
            let same = sk.skeleton == published;
            Output {
                identity: format!(
                    "skeleton:{}{}",
                    hex::encode(sk.skeleton.raw),
                    hex::encode(sk.skeleton.bodies)
                ),
                diff_id: target.filter(|_| same),
                size: sk.skeleton.size,
                entries: sk.entries,
            }
        }
        Compare::Bytes => {
            let (_, summary) = rebuild::write(prepared, params, HashingWriter::new(io::sink()))?;
            Output {
                identity: summary.diff_id.to_string(),
                diff_id: Some(summary.diff_id),
                size: summary.size,
                entries: summary.entries,
            }
        }
    })
}
