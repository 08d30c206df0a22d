//! `layerproof profiles [NAME] [--format json]`.
use std::io::Write;

use layerproof_layer::Profile;

use crate::Outcome;
use crate::util::Format;

/// List the engine profiles: every switch that changes layer bytes (or the unpack), its value,
/// what it does, and the evidence behind it (observed on a real engine, or read in source).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show only this profile.
    pub name: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
}

#[derive(serde::Serialize)]
struct ProfileView<'a> {
    name: &'a str,
    summary: &'a str,
    switches: Vec<layerproof_layer::profile::SwitchView>,
}

/// Run the subcommand.
pub fn run(args: Args) -> anyhow::Result<Outcome> {
    let all = Profile::all();
    let chosen: Vec<&Profile> = match &args.name {
        Some(n) => vec![Profile::by_name(n).ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|p| p.name).collect();
            anyhow::anyhow!("unknown profile {n:?}; known: {}", names.join(", "))
        })?],
        None => all.iter().collect(),
    };
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let views: Vec<ProfileView<'_>> = chosen
                .iter()
                .map(|p| ProfileView {
                    name: p.name,
                    summary: p.summary,
                    switches: p.switches(),
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &views).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Format::Human => {
            for (i, p) in chosen.iter().enumerate() {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "{}  {}", p.name, p.summary)?;
                let switches = p.switches();
                let kw = switches.iter().map(|s| s.key.len()).max().unwrap_or(0);
                let vw = switches.iter().map(|s| s.value.len()).max().unwrap_or(0);
                for s in &switches {
                    writeln!(
                        out,
                        "  {:<6} {:<kw$}  {:<vw$}  {}",
                        s.side, s.key, s.value, s.meaning
                    )?;
                    writeln!(
                        out,
                        "  {:<6} {:<kw$}  {:<vw$}  [{}] {}",
                        "",
                        "",
                        "",
                        s.evidence.kind.as_str(),
                        s.evidence.detail
                    )?;
                }
            }
        }
    }
    Ok(Outcome::Success)
}
