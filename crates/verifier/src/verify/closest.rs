//! The last stage of a layer no profile reproduced: each distinct candidate's layer is written
//! and scanned with the published layer's ruler ([`crate::layerscan`]), and the closest one is
//! explained ([`crate::explain`]).

use std::fs::File;
use std::io::{self, BufReader, Seek};

use layerproof_archive::compression;
use layerproof_archive::read;
use layerproof_image::Descriptor;
use layerproof_layer::Profile;

use super::layer::{Pass, treatment_text};
use super::sources::Setup;
use super::{Error, Run};
use crate::explain::{self, Differences};
use crate::layerscan::{self, Scan};
use crate::rebuild::{self, Unpacked};
use crate::report::RebuiltLayer;

/// The candidate whose layer comes closest to the published one.
pub(super) struct Closest {
    pub(super) profile: &'static Profile,
    pub(super) diff: Differences,
    pub(super) rebuilt: RebuiltLayer,
    /// Our layer, written out.
    pub(super) layer: tempfile::NamedTempFile,
}

impl Run<'_> {
    /// No profile reproduced the layer: write each distinct candidate's layer, scan it with
    /// the published layer's ruler, and keep the closest (content differences weigh more
    /// than tar-level ones). Each candidate's entry in `pass.tried` gets its difference count.
    pub(super) fn explain_closest(
        &self,
        pass: &mut Pass,
        setup: &Setup<'_>,
        scan: &Scan,
    ) -> Result<Closest, Error> {
        let mut best: Option<(usize, Closest)> = None;
        for &profile in &pass.built {
            let key = rebuild::unpack_key(profile);
            let Some(slot) = pass.trees.iter().position(|(k, _)| *k == key) else {
                continue;
            };
            let Unpacked::Tree(prepared) = &mut pass.trees[slot].1 else {
                continue;
            };
            let params = setup.params_for(profile, scan);
            let tmp = tempfile::NamedTempFile::new().map_err(Error::Temp)?;
            let (file, summary) = rebuild::write(prepared, &params, io::BufWriter::new(tmp))
                .map_err(|e| setup.error(e))?;
            let mut tmp = file.into_inner().map_err(|e| Error::Temp(e.into_error()))?;
            tmp.rewind().map_err(Error::Temp)?;
            let ours = layerscan::scan(BufReader::new(tmp.as_file()), read::Options::default())
                .map_err(|e| Error::OwnLayer(Box::new(e)))?;
            let diff = explain::compare(&ours, scan);
            let weight = diff
                .groups
                .iter()
                .map(|g| {
                    if g.level == explain::Level::Content {
                        g.count * 1000
                    } else {
                        g.count
                    }
                })
                .sum::<usize>()
                + diff.tar.len();
            if let Some(c) = pass.tried.iter_mut().find(|c| c.profile == profile.name) {
                c.detail = Some(format!(
                    "{} content-level and {} tar-level difference group(s)",
                    diff.content_groups().count(),
                    diff.groups.len() - diff.content_groups().count()
                ));
            }
            if best.as_ref().is_none_or(|b| weight < b.0) {
                let rebuilt = RebuiltLayer {
                    diff_id: summary.diff_id.to_string(),
                    blob_digest: None,
                    size: summary.size,
                    entries: summary.entries,
                    treatment: treatment_text(&prepared.treatment),
                };
                let closest = Closest {
                    profile,
                    diff,
                    rebuilt,
                    layer: tmp,
                };
                best = Some((weight, closest));
            }
        }
        best.map(|(_, c)| c)
            .ok_or_else(|| Error::Internal("no candidate could be explained".into()))
    }

    /// The first differing header, for differences the entries do not show.
    pub(super) fn first_header_difference(
        &self,
        ours: &mut File,
        blob: &Descriptor,
    ) -> Option<String> {
        let b = self.src.blob(blob).ok()?;
        let d = compression::open(b, &self.req.limits.decompress).ok()?;
        match layerproof_layer::compare::first_difference(BufReader::new(ours), d) {
            Ok(Some(diff)) => Some(diff.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("(cannot compare headers: {e})")),
        }
    }
}
