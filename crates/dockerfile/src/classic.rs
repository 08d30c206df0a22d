//! The classic builder's build-arg rules (moby `daemon/builder/dockerfile/buildargs.go`): which
//! values a `$VAR` sees, globally and in a stage. BuildKit's are in [`crate::eval`].

use std::collections::{BTreeMap, BTreeSet};

use crate::lex::EnvList;

/// Declared ARGs in declaration order: each name with its expanded default, if any.
pub(crate) type Declared = Vec<(String, Option<String>)>;

/// The proxy args the classic builder accepts from `--build-arg` without a declaration.
const BUILTIN_PROXY_ARGS: [&str; 10] = [
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// `BuildArgs.GetAllMeta`: the global ARGs with a value, and the builtin proxy args, each
/// overridden by `--build-arg`.
pub(crate) fn meta_values(
    meta: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (k, d) in meta {
        if let Some(v) = build_args.get(k) {
            m.insert(k.clone(), v.clone());
        } else if let Some(d) = d {
            m.insert(k.clone(), d.clone());
        }
    }
    for k in BUILTIN_PROXY_ARGS {
        if let Some(v) = build_args.get(k) {
            m.insert(k.to_string(), v.clone());
        }
    }
    m
}

/// [`meta_values`] as an expansion environment (for the global ARGs' own defaults).
pub(crate) fn meta_env(
    meta: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
) -> EnvList {
    let mut e = EnvList::new();
    for (k, v) in &meta_values(meta, build_args) {
        e.set(k, v);
    }
    e
}

/// The expansion env of an instruction in a stage: the config's Env plus the args the stage
/// declared (and the builtin proxy args) whose names the Env does not define. A declared arg's
/// value is its `--build-arg`, else its last declaration's default, else the global default.
pub(crate) fn stage_env(
    declared: &[(String, Option<String>)],
    config_env: &[String],
    meta: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
) -> EnvList {
    let mut allowed: BTreeMap<String, String> = BTreeMap::new();
    let mut keys: Vec<String> = declared.iter().map(|(k, _)| k.clone()).collect();
    keys.extend(BUILTIN_PROXY_ARGS.iter().map(|s| s.to_string()));
    for k in keys {
        let default = declared
            .iter()
            .rev()
            .find(|(ak, _)| *ak == k)
            .map(|(_, d)| d.clone());
        let v = if let Some(v) = build_args.get(&k) {
            Some(v.clone())
        } else {
            match default {
                Some(Some(d)) => Some(d),
                _ => meta
                    .iter()
                    .rev()
                    .find(|(mk, _)| *mk == k)
                    .and_then(|(_, d)| d.clone()),
            }
        };
        if let Some(v) = v {
            allowed.insert(k, v);
        }
    }
    let env_keys: BTreeSet<&str> = config_env
        .iter()
        .map(|e| e.split_once('=').map_or(e.as_str(), |p| p.0))
        .collect();
    let extra: Vec<String> = allowed
        .iter()
        .filter(|(k, _)| !env_keys.contains(k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut all: Vec<&str> = config_env.iter().map(String::as_str).collect();
    all.extend(extra.iter().map(String::as_str));
    EnvList::from_pairs(all)
}
