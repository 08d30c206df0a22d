//! The human report: the verdict and its cause first, details after (text, optionally
//! coloured).

use std::fmt::Write as _;

use super::model::{LayerReport, Level, PlatformReport, Report, Verdict};
use crate::config::CheckStatus;
use crate::explain::Level as DiffLevel;

/// ANSI styling, or none.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    color: bool,
}

impl Style {
    /// Styling on (`true`) or off.
    pub fn new(color: bool) -> Self {
        Style { color }
    }

    fn paint(&self, code: &str, s: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }

    fn verdict(&self, v: Verdict, level: Option<Level>) -> String {
        let text = match (v, level) {
            (Verdict::Reproduced, Some(Level::Blob)) => "REPRODUCED (blob)".to_string(),
            (Verdict::Reproduced, Some(Level::DiffId)) => "REPRODUCED (diff_id)".to_string(),
            (v, _) => v.as_str().to_uppercase(),
        };
        let code = match v {
            Verdict::Reproduced => "1;32",
            Verdict::ContentEquivalent => "1;33",
            Verdict::Different | Verdict::NotBuildable => "1;31",
        };
        self.paint(code, &text)
    }

    fn dim(&self, s: &str) -> String {
        self.paint("2", s)
    }

    fn bold(&self, s: &str) -> String {
        self.paint("1", s)
    }
}

pub(super) fn short(d: &str) -> &str {
    // sha256:<12 hex>
    d.get(..19).unwrap_or(d)
}

/// The human report: the verdict and its cause first, details after.
pub fn human(report: &Report, style: Style) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{} {}",
        style.verdict(report.verdict, report.level),
        style.dim(&format!("({})", report.platform))
    );
    for i in &report.inputs {
        let _ = writeln!(
            o,
            "  {:<10} {}{}",
            i.role.as_str(),
            i.name,
            i.digest
                .as_deref()
                .map(|d| format!("  {}", style.dim(d)))
                .unwrap_or_default()
        );
    }
    for p in &report.platforms {
        platform(&mut o, p, style, report.multi_platform);
    }
    let _ = writeln!(
        o,
        "{}",
        style.dim(&format!("done in {} ms", report.timings.total_ms))
    );
    o
}

fn platform(o: &mut String, p: &PlatformReport, style: Style, heading: bool) {
    let _ = writeln!(o);
    if heading {
        let _ = writeln!(
            o,
            "{} {}",
            style.bold(&p.platform),
            style.verdict(p.verdict, p.level)
        );
    }
    let _ = writeln!(
        o,
        "  image ID   {}  (builder: {}, from {})",
        p.image.config,
        p.image.builder.as_str(),
        p.image.builder_evidence
    );
    if let Some(m) = &p.image.manifest {
        let _ = writeln!(o, "  manifest   {m}");
    }
    config(o, p, style);
    for n in &p.notes {
        let _ = writeln!(o, "  note: {n}");
    }
    for l in &p.layers {
        layer(o, l, style);
    }
}

fn config(o: &mut String, p: &PlatformReport, style: Style) {
    if p.config.is_empty() {
        return;
    }
    let matched = p
        .config
        .iter()
        .filter(|c| c.status == CheckStatus::Match)
        .count();
    let differ: Vec<_> = p
        .config
        .iter()
        .filter(|c| c.status == CheckStatus::Differ)
        .collect();
    let reported = p.config.len() - matched - differ.len();
    let _ = writeln!(
        o,
        "  config     {matched} fields match the Dockerfile, {} differ{}",
        differ.len(),
        style.dim(&format!(", {reported} run-dependent or not compared"))
    );
    let show = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or_else(|| "(absent)".to_string(), |v| v.to_string())
    };
    for c in differ {
        let _ = writeln!(
            o,
            "    {} {}: Dockerfile {} — published {}",
            style.paint("31", "differs"),
            c.field,
            show(&c.expected),
            show(&c.published)
        );
    }
}

/// The lines of one layer: its step and verdict, what explains it, what was inferred and tried.
pub(super) fn layer(o: &mut String, l: &LayerReport, style: Style) {
    let _ = writeln!(o);
    let at = if l.step.line > 0 {
        format!(" (Dockerfile line {})", l.step.line)
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "  layer {} — {} {} {}{at}: {}",
        l.index + 1,
        l.step.instruction,
        l.step.source,
        l.step.dest,
        style.verdict(l.verdict, l.level)
    );
    match l.verdict {
        Verdict::Reproduced => reproduced(o, l, style),
        Verdict::NotBuildable => not_buildable(o, l, style),
        Verdict::ContentEquivalent | Verdict::Different => differences(o, l, style),
    }
    for i in &l.inferred {
        let _ = writeln!(
            o,
            "    inferred   {} = {}  {}",
            i.parameter,
            i.value,
            style.dim(&format!("({})", i.why))
        );
    }
    if l.verdict != Verdict::Reproduced && l.candidates.len() > 1 {
        let tried: Vec<String> = l
            .candidates
            .iter()
            .map(|c| format!("{} {}", c.profile, c.outcome.as_str()))
            .collect();
        let _ = writeln!(o, "    tried      {}", style.dim(&tried.join(", ")));
    }
    for n in &l.notes {
        let _ = writeln!(o, "    note: {n}");
    }
}

/// The lines of a reproduced layer: profile, digests, how the blob was matched.
fn reproduced(o: &mut String, l: &LayerReport, style: Style) {
    if let Some(p) = l.profile {
        let _ = writeln!(o, "    profile    {p}");
    }
    let diff_id = l
        .rebuilt
        .as_ref()
        .map(|r| r.diff_id.clone())
        .or(l.published.computed_diff_id.map(|d| d.to_string()))
        .unwrap_or_else(|| "-".to_string());
    let _ = writeln!(o, "    diff_id    {diff_id}");
    let _ = writeln!(
        o,
        "    blob       {} ({}, {} bytes)",
        l.published.digest, l.published.compression, l.published.size
    );
    if let Some(b) = &l.blob {
        match b.matched() {
            Some(a) => {
                let how = match a.parallel_chunks {
                    Some(n) if n > 1 => {
                        format!("re-encoded in {n} chunks in parallel: same bytes")
                    }
                    Some(_) => "re-encoded: same bytes".to_string(),
                    None => "re-encoded: same digest".to_string(),
                };
                let _ = writeln!(o, "    compressor {} ({how})", a.compressor);
            }
            None => {
                let _ = writeln!(
                    o,
                    "    compressor looks like {}",
                    b.fingerprint.first().map_or("?", String::as_str)
                );
                if let Some(p) = &b.parallel_check {
                    let _ = writeln!(o, "      checked {p}");
                }
                for a in &b.attempts {
                    let _ = writeln!(o, "      tried {} → {}", a.compressor, a.digest);
                }
            }
        }
        for h in &b.header_fields {
            let _ = writeln!(
                o,
                "    inferred   gzip header {h}  {}",
                style.dim("(a compressor parameter, recorded in the published blob)")
            );
        }
    }
}

/// The lines of a layer Docker would refuse to build.
fn not_buildable(o: &mut String, l: &LayerReport, style: Style) {
    if let Some(r) = &l.refusal {
        let at = r
            .entry
            .map(|e| format!(" at entry {e} {:?}", r.name))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "    Docker would refuse this ADD{at}: {}",
            style.bold(&r.message)
        );
    }
    let _ = writeln!(
        o,
        "    yet the image has layer {} — it was not built from this tarball by a \
         Docker engine layerproof knows",
        short(&l.published.digest)
    );
}

/// The lines of a layer that differs: the closest profile and what differs.
fn differences(o: &mut String, l: &LayerReport, style: Style) {
    if let Some(p) = l.profile {
        let _ = writeln!(o, "    closest profile {p}");
    }
    let rebuilt = l.rebuilt.as_ref().map_or("-", |r| r.diff_id.as_str());
    let _ = writeln!(o, "    diff_id    rebuilt   {rebuilt}");
    let _ = writeln!(
        o,
        "               published {}",
        l.published
            .computed_diff_id
            .map_or_else(|| "-".to_string(), |d| d.to_string())
    );
    if let Some(d) = &l.differences {
        if d.content_equivalent {
            let _ = writeln!(
                o,
                "    same files, owners, modes and contents; only the tar encoding differs:"
            );
        }
        for g in &d.groups {
            let tag = match g.level {
                DiffLevel::Content => style.paint("31", "content"),
                DiffLevel::Tar => style.paint("33", "tar    "),
            };
            let _ = writeln!(o, "    {tag} {}", g.summary);
        }
        for t in &d.tar {
            let _ = writeln!(o, "    {} {t}", style.paint("33", "tar    "));
        }
        if d.is_empty() {
            let _ = writeln!(
                o,
                "    every entry matches; the bytes differ outside the entries (padding, \
                 trailer)"
            );
        }
    }
    if let Some(h) = &l.first_header_difference {
        let _ = writeln!(o, "    first differing header:");
        for line in h.lines() {
            let _ = writeln!(o, "      {line}");
        }
    }
}
