//! Small helpers shared by subcommands.

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Readable text.
    #[value(alias = "text")]
    Human,
    /// Machine-readable JSON (a versioned schema).
    Json,
}

/// `--build-arg` values as `docker build` takes them: `KEY=VALUE`, or `KEY` alone for the value
/// of the environment variable of that name.
pub fn parse_build_args(
    args: &[String],
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    for a in args {
        match a.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                out.insert(k.to_string(), v.to_string());
            }
            _ => match std::env::var(a) {
                // `--build-arg NAME` takes the value from the environment, as docker build
                Ok(v) if !a.is_empty() => {
                    out.insert(a.clone(), v);
                }
                _ => anyhow::bail!(
                    "--build-arg {a:?}: expected KEY=VALUE (or KEY set in the environment)"
                ),
            },
        }
    }
    Ok(out)
}

/// The profile named `name`; the error lists the names (after `choices`, e.g. "use auto or one
/// of").
pub fn profile_by_name(
    name: &str,
    choices: &str,
) -> anyhow::Result<&'static layerproof_layer::Profile> {
    use layerproof_layer::Profile;
    Profile::by_name(name).ok_or_else(|| {
        let names: Vec<&str> = Profile::all().iter().map(|p| p.name).collect();
        anyhow::anyhow!(
            "--profile {name:?}: unknown; {choices}: {}",
            names.join(", ")
        )
    })
}
