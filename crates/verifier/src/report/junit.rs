//! JUnit XML for CI systems: one test suite per platform, one test case per layer plus one
//! for the image-level checks.

use std::fmt::Write as _;

use super::human::{Style, layer, short};
use super::model::{LayerReport, Level, Report, Verdict};

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 forbids most control characters even escaped
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML: a test suite per platform, a test case per layer (plus one for the layer count).
pub fn junit(report: &Report) -> String {
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let platforms = &report.platforms;
    let tests: usize = platforms.iter().map(|p| p.layers.len() + 1).sum();
    let failures: usize = platforms
        .iter()
        .map(|p| {
            p.layers
                .iter()
                .filter(|l| l.verdict != Verdict::Reproduced)
                .count()
                + usize::from(!p.notes.is_empty() && p.verdict != Verdict::Reproduced)
        })
        .sum();
    let _ = writeln!(
        o,
        "<testsuites name=\"layerproof verify\" tests=\"{tests}\" failures=\"{failures}\" time=\"{:.3}\">",
        report.timings.total_ms as f64 / 1000.0
    );
    for p in platforms {
        let layer_failures = p
            .layers
            .iter()
            .filter(|l| l.verdict != Verdict::Reproduced)
            .count();
        let image_fail = !p.notes.is_empty() && p.verdict != Verdict::Reproduced;
        // a lone platform's suite takes the whole run's time, as the report's single shape does
        let elapsed_ms = if report.multi_platform {
            p.elapsed_ms
        } else {
            report.timings.total_ms
        };
        let _ = writeln!(
            o,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" time=\"{:.3}\">",
            xml_escape(&p.platform),
            p.layers.len() + 1,
            layer_failures + usize::from(image_fail),
            elapsed_ms as f64 / 1000.0
        );
        let _ = writeln!(
            o,
            "    <testcase classname=\"{}\" name=\"image {}\">",
            xml_escape(&p.platform),
            xml_escape(&p.image.config)
        );
        if image_fail {
            let _ = writeln!(
                o,
                "      <failure message=\"{}\">{}</failure>",
                xml_escape(p.notes.first().map_or("", String::as_str)),
                xml_escape(&p.notes.join("\n"))
            );
        }
        let _ = writeln!(o, "    </testcase>");
        for l in &p.layers {
            let name = format!(
                "layer {} {} {} ({})",
                l.index + 1,
                l.step.instruction,
                l.step.source,
                short(&l.published.digest)
            );
            let _ = writeln!(
                o,
                "    <testcase classname=\"{}\" name=\"{}\">",
                xml_escape(&p.platform),
                xml_escape(&name)
            );
            if l.verdict == Verdict::Reproduced {
                let _ = writeln!(
                    o,
                    "      <system-out>{}</system-out>",
                    xml_escape(&format!(
                        "reproduced at level {} with profile {}",
                        match l.level {
                            Some(Level::Blob) => "blob",
                            _ => "diff_id",
                        },
                        l.profile.unwrap_or("-")
                    ))
                );
            } else {
                let mut body = String::new();
                layer(&mut body, l, Style::new(false));
                let _ = writeln!(
                    o,
                    "      <failure message=\"{}\" type=\"{}\">{}</failure>",
                    xml_escape(&headline(l)),
                    l.verdict.as_str(),
                    xml_escape(&body)
                );
            }
            let _ = writeln!(o, "    </testcase>");
        }
        let _ = writeln!(o, "  </testsuite>");
    }
    o.push_str("</testsuites>\n");
    o
}

/// One line saying why a layer is not reproduced.
pub fn headline(l: &LayerReport) -> String {
    match l.verdict {
        Verdict::Reproduced => "reproduced".into(),
        Verdict::NotBuildable => format!(
            "not buildable: {}",
            l.refusal.as_ref().map_or("", |r| r.message.as_str())
        ),
        v => {
            let first = l
                .differences
                .as_ref()
                .and_then(|d| d.groups.first().map(|g| g.summary.clone()))
                .unwrap_or_default();
            format!("{}: {first}", v.as_str())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::xml_escape;

    #[test]
    fn xml_escape_handles_markup_and_controls() {
        assert_eq!(xml_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
        assert_eq!(xml_escape("x\u{1}y"), "x\\u{1}y");
    }
}
