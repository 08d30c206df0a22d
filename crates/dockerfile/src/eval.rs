//! Evaluation of a parsed Dockerfile for one builder: ARG/ENV scoping,
//! expansion, and the image config and history each builder would write for
//! `FROM scratch` stages. Layer contents, digests and times are left to the
//! caller; ADD/COPY steps are returned as [`CopyStep`]s.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::context::{Context, ResolvedSource};
use super::instructions::{CommandLine, Dockerfile, Instruction, Kind};
use super::lex::{EnvList, Lexer};
use super::{Error, Span, gocompat};

/// Which builder to model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuilderKind {
    /// BuildKit (`docker build` default since 23.0, buildx).
    Buildkit,
    /// The classic builder (`DOCKER_BUILDKIT=0`).
    Classic,
}

/// A target platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Platform {
    /// `linux`.
    pub os: String,
    /// `amd64`, `arm64`, ...
    pub architecture: String,
    /// `v7`, ... (empty when none).
    pub variant: String,
}

impl Platform {
    /// Parses `os/arch[/variant]`.
    pub fn parse(s: &str) -> Option<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] => Some(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: String::new(),
            }),
            [os, arch, v] => Some(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: v.to_string(),
            }),
            _ => None,
        }
    }
    /// `os/arch[/variant]`.
    pub fn format(&self) -> String {
        if self.variant.is_empty() {
            format!("{}/{}", self.os, self.architecture)
        } else {
            format!("{}/{}/{}", self.os, self.architecture, self.variant)
        }
    }
}

/// What the build is run with.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The builder.
    pub builder: BuilderKind,
    /// `--build-arg K=V`.
    pub build_args: BTreeMap<String, String>,
    /// Target platform.
    pub platform: Platform,
    /// Build platform (defaults to the target platform).
    pub build_platform: Option<Platform>,
    /// `--target` stage name (default: last stage).
    pub target: Option<String>,
}

/// The default PATH both builders put into a scratch image's Env.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// The history comment BuildKit writes.
pub const BUILDKIT_COMMENT: &str = "buildkit.dockerfile.v0";
/// Placeholder in classic ADD/COPY `created_by` for the builder-cache source
/// hash (`file:<hex>`, `dir:<hex>` or `multi:<hex>`).
pub const SOURCE_HASH_PLACEHOLDER: &str = "<SOURCE_HASH>";

/// Result of evaluating a Dockerfile.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    /// The builder modelled.
    pub builder: BuilderKind,
    /// Index of the target stage in `stages`.
    pub target: usize,
    /// Global build args after evaluation (`KEY=value`, sorted).
    pub global_args: Vec<String>,
    /// One entry per stage, in file order.
    pub stages: Vec<StageResult>,
}

/// One stage's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct StageResult {
    /// `AS` name.
    pub name: Option<String>,
    /// Expanded base name.
    pub base: String,
    /// What happened.
    pub outcome: StageOutcome,
}

/// A stage outcome.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StageOutcome {
    /// A scratch stage whose image we model fully.
    Image(Box<ImageModel>),
    /// Needs something we do not model (running code or a real base image).
    OutOfScope(OutOfScope),
    /// BuildKit does not build stages the target does not need.
    NotBuilt,
}

/// Something layerproof does not model, with its location.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutOfScope {
    /// The instruction.
    pub span: Span,
    /// The instruction's source text.
    pub instruction: String,
    /// Why.
    pub reason: String,
}

/// The image config a builder would produce (no layer digests or times).
#[derive(Debug, Clone, Serialize, Default)]
pub struct ImageModel {
    /// `os`.
    pub os: String,
    /// `architecture`.
    pub architecture: String,
    /// `variant`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub variant: String,
    /// `author` (from MAINTAINER).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author: String,
    /// `config`.
    pub config: ContainerConfig,
    /// `history`, oldest first.
    pub history: Vec<HistoryEntry>,
    /// The layer-producing ADD/COPY steps, in order (inherited ones first).
    pub layers: Vec<CopyStep>,
}

/// The `config` object, in Docker's field names. Empty fields are omitted.
#[derive(Debug, Clone, Serialize, Default, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ContainerConfig {
    /// User.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub user: String,
    /// ExposedPorts (`80/tcp`).
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub exposed_ports: BTreeSet<String>,
    /// Env.
    pub env: Vec<String>,
    /// Cmd (None = null).
    pub cmd: Option<Vec<String>>,
    /// Healthcheck (durations in ns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<HealthConfig>,
    /// ArgsEscaped (BuildKit sets it on CMD).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub args_escaped: bool,
    /// Volumes.
    #[serde(skip_serializing_if = "BTreeSet::is_empty")]
    pub volumes: BTreeSet<String>,
    /// WorkingDir.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub working_dir: String,
    /// Entrypoint (None = null).
    pub entrypoint: Option<Vec<String>>,
    /// OnBuild triggers (raw text).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub on_build: Vec<String>,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// StopSignal.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub stop_signal: String,
    /// Shell.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub shell: Vec<String>,
}

/// Docker's HealthConfig (durations in nanoseconds, zero = omitted).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct HealthConfig {
    /// Test.
    pub test: Vec<String>,
    /// Interval (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub interval: i64,
    /// Timeout (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub timeout: i64,
    /// StartPeriod (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub start_period: i64,
    /// StartInterval (ns).
    #[serde(skip_serializing_if = "is_zero")]
    pub start_interval: i64,
    /// Retries.
    #[serde(skip_serializing_if = "is_zero")]
    pub retries: i64,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl HealthConfig {
    /// Go `%+v` of the struct.
    fn go_format(&self) -> String {
        format!(
            "{{Test:{} Interval:{} Timeout:{} StartPeriod:{} StartInterval:{} Retries:{}}}",
            gocompat::plain_slice(&self.test),
            gocompat::format_duration(self.interval),
            gocompat::format_duration(self.timeout),
            gocompat::format_duration(self.start_period),
            gocompat::format_duration(self.start_interval),
            self.retries
        )
    }
}

/// One history entry.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct HistoryEntry {
    /// `created_by`; classic ADD/COPY contain [`SOURCE_HASH_PLACEHOLDER`].
    pub created_by: String,
    /// `comment`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// `empty_layer`.
    pub empty_layer: bool,
}

impl HistoryEntry {
    /// `created_by` with the classic source-hash placeholder filled in.
    pub fn created_by_with_hash(&self, hash: &str) -> String {
        self.created_by.replace(SOURCE_HASH_PLACEHOLDER, hash)
    }
}

/// A layer-producing ADD/COPY (or WORKDIR directory creation).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CopyStep {
    /// Where.
    pub span: Span,
    /// The instruction keyword (`ADD`, `COPY`, `WORKDIR`).
    pub instruction: String,
    /// Expanded sources as written.
    pub sources: Vec<String>,
    /// `--from` stage index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_stage: Option<usize>,
    /// Expanded destination as written.
    pub dest: String,
    /// Absolute destination after WORKDIR resolution (trailing `/` kept).
    pub dest_path: String,
    /// `--chown` (classic ignores it for extracted archives; BuildKit applies it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chown: Option<String>,
    /// `--chmod` (BuildKit only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chmod: Option<String>,
    /// `--link`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub link: bool,
    /// Whether local archives are extracted (ADD, unless `--unpack=false`).
    pub unpack: bool,
    /// `--exclude` patterns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
    /// Sources resolved against the context, when one was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<Vec<ResolvedSource>>,
    /// Index of this step's entry in the stage history.
    pub history_index: usize,
}

const PLATFORM_ARGS: [&str; 4] = ["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"];

/// The platform ARGs BuildKit defines automatically.
fn default_args(opts: &BuildOptions, target_name: &str) -> Vec<(String, String)> {
    let tp = &opts.platform;
    let bp = opts.build_platform.as_ref().unwrap_or(tp);
    let target = if target_name.is_empty() {
        "default"
    } else {
        target_name
    };
    let v = [
        ("BUILDPLATFORM", bp.format()),
        ("BUILDOS", bp.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", bp.architecture.clone()),
        ("BUILDVARIANT", bp.variant.clone()),
        ("TARGETPLATFORM", tp.format()),
        ("TARGETOS", tp.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", tp.architecture.clone()),
        ("TARGETVARIANT", tp.variant.clone()),
        ("TARGETSTAGE", target.to_string()),
    ];
    let _ = PLATFORM_ARGS;
    v.into_iter()
        .map(|(k, val)| {
            let val = opts.build_args.get(k).cloned().unwrap_or(val);
            (k.to_string(), val)
        })
        .collect()
}

/// An ordered env list with in-place replacement (llb.EnvList / addEnv).
#[derive(Debug, Clone, Default)]
struct OrderedEnv(Vec<(String, String)>);

impl OrderedEnv {
    fn set(&mut self, k: &str, v: &str) {
        if let Some(e) = self.0.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v.to_string();
        } else {
            self.0.push((k.to_string(), v.to_string()));
        }
    }
    fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(ek, _)| ek == k)
            .map(|(_, v)| v.as_str())
    }
    fn to_env(&self) -> EnvList {
        let mut e = EnvList::new();
        for (k, v) in &self.0 {
            e.set(k, v);
        }
        e
    }
    fn strings(&self) -> Vec<String> {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect()
    }
}

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

/// Per-stage state.
struct StageState {
    image: ImageModel,
    /// BuildKit: the LLB state env (image Env + ARG values).
    state_env: OrderedEnv,
    /// Classic: declared args (key -> default).
    classic_allowed: Vec<(String, Option<String>)>,
    cmd_set: bool,
}

/// Evaluates `df` for one builder. `context`, when given, is used to resolve
/// ADD/COPY sources of the build context (globs, `.dockerignore`).
///
/// Every `Err` is something the builder itself would refuse.
pub fn evaluate(
    df: &Dockerfile,
    opts: &BuildOptions,
    context: Option<&Context>,
) -> Result<Evaluation, Error> {
    let lex = Lexer::new(df.escape);
    let classic = opts.builder == BuilderKind::Classic;

    // Target stage.
    let target = match &opts.target {
        None => df.stages.len() - 1,
        Some(t) => {
            let t = gocompat::to_lower(t);
            df.stages
                .iter()
                .position(|s| s.name.as_deref() == Some(t.as_str()))
                .ok_or_else(|| Error::Instruction {
                    span: df.stages[0].span,
                    message: format!("target stage {} could not be found", gocompat::quote(&t)),
                })?
        }
    };

    // Global (meta) args.
    let mut global = OrderedEnv::default();
    let mut classic_meta: Vec<(String, Option<String>)> = Vec::new();
    if !classic {
        let tname = df.stages[target].name.clone().unwrap_or_default();
        for (k, v) in default_args(opts, &tname) {
            global.set(&k, &v);
        }
    }
    for ins in &df.meta_args {
        let Kind::Arg { args } = &ins.kind else {
            continue;
        };
        for a in args {
            if classic {
                let env = classic_meta_env(&classic_meta, &opts.build_args, true);
                let key = expand(&lex, &a.key, &env, ins.span)?;
                let default = a
                    .default
                    .as_ref()
                    .map(|d| expand(&lex, d, &env, ins.span))
                    .transpose()?;
                classic_meta.retain(|(k, _)| *k != key);
                classic_meta.push((key, default));
            } else {
                let value = match opts.build_args.get(&a.key) {
                    Some(v) => Some(v.clone()),
                    None => a
                        .default
                        .as_ref()
                        .map(|d| expand(&lex, d, &global.to_env(), ins.span))
                        .transpose()?,
                };
                if let Some(v) = value {
                    global.set(&a.key, &v);
                }
            }
        }
    }
    let global_args: Vec<String> = if classic {
        let m = classic_meta_env_map(&classic_meta, &opts.build_args);
        m.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
    } else {
        let mut g = global.strings();
        g.sort();
        g
    };

    // BuildKit builds only what the target needs.
    let needed = if classic {
        vec![true; df.stages.len()]
    } else {
        reachable(df, target)
    };

    let mut results: Vec<StageResult> = Vec::new();
    for (si, st) in df.stages.iter().enumerate() {
        if si > target && classic {
            break;
        }
        let base_env = if classic {
            EnvList::from_pairs(
                classic_meta_env_map(&classic_meta, &opts.build_args)
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(String::as_str),
            )
        } else {
            global.to_env()
        };
        let base = expand(&lex, &st.base, &base_env, st.span)?;
        if base.is_empty() {
            return Err(Error::Instruction {
                span: st.span,
                message: format!("base name ({}) should not be blank", st.base),
            });
        }
        if classic
            && let Some(n) = &st.name
            && results
                .iter()
                .any(|r| r.name.as_deref() == Some(n.as_str()))
        {
            return Err(Error::Instruction {
                span: st.span,
                message: format!("{n} stage name already used"),
            });
        }
        if !needed[si] {
            results.push(StageResult {
                name: st.name.clone(),
                base,
                outcome: StageOutcome::NotBuilt,
            });
            continue;
        }
        let lbase = gocompat::to_lower(&base);
        let parent = results
            .iter()
            .position(|r| r.name.as_deref() == Some(lbase.as_str()));
        let mut image = match parent {
            Some(p) => match &results[p].outcome {
                StageOutcome::Image(img) => (**img).clone(),
                _ => {
                    results.push(StageResult {
                        name: st.name.clone(),
                        base: base.clone(),
                        outcome: StageOutcome::OutOfScope(OutOfScope {
                            span: st.span,
                            instruction: format!("FROM {base}"),
                            reason: format!("base stage {base} is out of scope"),
                        }),
                    });
                    continue;
                }
            },
            None if base == "scratch" => ImageModel {
                os: opts.platform.os.clone(),
                architecture: opts.platform.architecture.clone(),
                variant: opts.platform.variant.clone(),
                ..Default::default()
            },
            None => {
                results.push(StageResult {
                    name: st.name.clone(),
                    base: base.clone(),
                    outcome: StageOutcome::OutOfScope(OutOfScope {
                        span: st.span,
                        instruction: format!("FROM {base}"),
                        reason: format!("base image {base} is not scratch: its contents cannot be rebuilt from a tarball"),
                    }),
                });
                continue;
            }
        };
        if parent.is_none() {
            if !image.config.env.iter().any(|e| e.starts_with("PATH=")) {
                image.config.env.push(format!("PATH={DEFAULT_PATH}"));
            }
            if !classic {
                image.config.working_dir = "/".to_string();
            }
        }
        let mut state_env = OrderedEnv::default();
        for e in &image.config.env {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            state_env.set(k, v);
        }
        let mut s = StageState {
            image,
            state_env,
            classic_allowed: Vec::new(),
            cmd_set: false,
        };
        let mut out_of_scope = None;
        for ins in &st.instructions {
            if let Kind::Run(_) = ins.kind {
                out_of_scope = Some(OutOfScope {
                    span: ins.span,
                    instruction: ins.original.trim().to_string(),
                    reason: "RUN executes code inside the image; its result cannot be derived from the Dockerfile"
                        .to_string(),
                });
                break;
            }
            dispatch(
                &lex,
                opts,
                &mut s,
                ins,
                &global,
                &classic_meta,
                df,
                &results,
                context,
            )?;
        }
        let outcome = match out_of_scope {
            Some(o) => StageOutcome::OutOfScope(o),
            None => StageOutcome::Image(Box::new(s.image)),
        };
        results.push(StageResult {
            name: st.name.clone(),
            base,
            outcome,
        });
    }
    Ok(Evaluation {
        builder: opts.builder,
        target,
        global_args,
        stages: results,
    })
}

fn reachable(df: &Dockerfile, target: usize) -> Vec<bool> {
    let mut need = vec![false; df.stages.len()];
    let mut stack = vec![target];
    while let Some(i) = stack.pop() {
        if need[i] {
            continue;
        }
        need[i] = true;
        let st = &df.stages[i];
        let mut deps = Vec::new();
        let lb = gocompat::to_lower(&st.base);
        deps.extend(
            df.stages[..i]
                .iter()
                .position(|s| s.name.as_deref() == Some(lb.as_str())),
        );
        for ins in &st.instructions {
            if let Kind::Copy(c) = &ins.kind
                && let Some(f) = &c.from
            {
                deps.extend(stage_ref(df, f, i));
            }
        }
        stack.extend(deps);
    }
    need
}

fn stage_ref(df: &Dockerfile, from: &str, current: usize) -> Option<usize> {
    let l = gocompat::to_lower(from);
    if let Some(p) = df
        .stages
        .iter()
        .position(|s| s.name.as_deref() == Some(l.as_str()))
    {
        return Some(p);
    }
    from.parse::<usize>().ok().filter(|i| *i < current)
}

fn classic_meta_env_map(
    meta: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    // BuildArgs.GetAllMeta: meta args and builtin proxy args, overridden by --build-arg.
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

fn classic_meta_env(
    meta: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
    _allowed: bool,
) -> EnvList {
    let m = classic_meta_env_map(meta, build_args);
    let mut e = EnvList::new();
    for (k, v) in &m {
        e.set(k, v);
    }
    e
}

fn expand(lex: &Lexer, word: &str, env: &EnvList, span: Span) -> Result<String, Error> {
    lex.process_word(word, env)
        .map_err(|e| Error::Expansion { span, message: e.0 })
}

/// The classic builder's expansion env: config Env plus declared build args
/// whose names the Env does not define.
fn classic_env(
    s: &StageState,
    meta: &[(String, Option<String>)],
    build_args: &BTreeMap<String, String>,
) -> (EnvList, Vec<String>) {
    let mut allowed: BTreeMap<String, String> = BTreeMap::new();
    let mut keys: Vec<String> = s.classic_allowed.iter().map(|(k, _)| k.clone()).collect();
    keys.extend(BUILTIN_PROXY_ARGS.iter().map(|s| s.to_string()));
    for k in keys {
        let default = s
            .classic_allowed
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
    let env_keys: BTreeSet<&str> = s
        .image
        .config
        .env
        .iter()
        .map(|e| e.split_once('=').map_or(e.as_str(), |p| p.0))
        .collect();
    let extra: Vec<String> = allowed
        .iter()
        .filter(|(k, _)| !env_keys.contains(k.as_str()))
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    let mut all: Vec<&str> = s.image.config.env.iter().map(String::as_str).collect();
    all.extend(extra.iter().map(String::as_str));
    (EnvList::from_pairs(all), extra)
}

#[allow(clippy::too_many_arguments)]
fn dispatch(
    lex: &Lexer,
    opts: &BuildOptions,
    s: &mut StageState,
    ins: &Instruction,
    global: &OrderedEnv,
    classic_meta: &[(String, Option<String>)],
    df: &Dockerfile,
    done: &[StageResult],
    context: Option<&Context>,
) -> Result<(), Error> {
    let classic = opts.builder == BuilderKind::Classic;
    let span = ins.span;
    let env = if classic {
        classic_env(s, classic_meta, &opts.build_args).0
    } else {
        s.state_env.to_env()
    };
    let x = |w: &str| expand(lex, w, &env, span);
    let ierr = |message: String| Error::Instruction { span, message };
    let shell: Vec<String> = if s.image.config.shell.is_empty() {
        vec!["/bin/sh".to_string(), "-c".to_string()]
    } else {
        s.image.config.shell.clone()
    };
    // History helpers.
    let push_nop = |img: &mut ImageModel, msg: String, shell: &[String]| {
        if classic {
            let created_by = format!("{} #(nop)  {msg}", shell.join(" "));
            img.history.push(HistoryEntry {
                created_by,
                comment: None,
                empty_layer: true,
            });
        } else {
            img.history.push(HistoryEntry {
                created_by: msg,
                comment: Some(BUILDKIT_COMMENT.to_string()),
                empty_layer: true,
            });
        }
    };
    match &ins.kind {
        Kind::Env { env: pairs } => {
            let mut msg = "ENV".to_string();
            let mut expanded = Vec::new();
            for kv in pairs {
                expanded.push((x(&kv.key)?, x(&kv.value)?));
            }
            for (k, v) in expanded {
                msg.push_str(&format!(" {k}={v}"));
                let nv = format!("{k}={v}");
                match s
                    .image
                    .config
                    .env
                    .iter_mut()
                    .find(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
                {
                    Some(e) => *e = nv,
                    None => s.image.config.env.push(nv),
                }
                s.state_env.set(&k, &v);
            }
            let sh = shell.clone();
            push_nop(&mut s.image, msg, &sh);
        }
        Kind::Label { labels } => {
            let mut msg = "LABEL".to_string();
            let mut expanded = Vec::new();
            for kv in labels {
                expanded.push((x(&kv.key)?, x(&kv.value)?));
            }
            for (k, v) in expanded {
                msg.push_str(&format!(" {k}={v}"));
                s.image.config.labels.insert(k, v);
            }
            push_nop(&mut s.image, msg, &shell);
        }
        Kind::Maintainer { maintainer } => {
            s.image.author = maintainer.clone();
            push_nop(&mut s.image, format!("MAINTAINER {maintainer}"), &shell);
        }
        Kind::Arg { args } => {
            let mut parts = Vec::new();
            for a in args {
                if classic {
                    let key = x(&a.key)?;
                    let default = a.default.as_ref().map(|d| x(d)).transpose()?;
                    parts.push(match &default {
                        Some(d) => format!("{key}={d}"),
                        None => key.clone(),
                    });
                    s.classic_allowed.push((key, default));
                } else {
                    let has_value = opts.build_args.contains_key(&a.key);
                    let mut value = None;
                    // The predefined platform args (TARGETARCH, …) take their value from the
                    // global scope, but the history line shows it only for ARGs the Dockerfile
                    // itself declares globally: `ARG TARGETARCH` stays bare (observed, Docker
                    // 26.1 / BuildKit 0.13, examples/multiarch).
                    let mut shown_bare = false;
                    if a.default.is_none() && !has_value {
                        value = global.get(&a.key).map(str::to_string);
                        shown_bare = !df.meta_args.iter().any(|m| {
                            matches!(&m.kind, Kind::Arg { args } if args.iter().any(|g| g.key == a.key))
                        });
                    }
                    if has_value {
                        value = opts.build_args.get(&a.key).cloned();
                    } else if let Some(d) = &a.default {
                        value = Some(x(d)?);
                    }
                    if let Some(v) = &value
                        && a.key != "BUILDKIT_SBOM_SCAN_CONTEXT"
                        && a.key != "BUILDKIT_SBOM_SCAN_STAGE"
                    {
                        s.state_env.set(&a.key, v);
                    }
                    parts.push(match &value {
                        Some(v) if !shown_bare => format!("{}={v}", a.key),
                        _ => a.key.clone(),
                    });
                }
            }
            push_nop(&mut s.image, format!("ARG {}", parts.join(" ")), &shell);
        }
        Kind::Cmd(c) | Kind::Entrypoint(c) => {
            let is_cmd = matches!(ins.kind, Kind::Cmd(_));
            let args = resolve_cmd(c, &shell, classic, is_cmd);
            let q = gocompat::quote_slice(args.as_deref().unwrap_or(&[]));
            if is_cmd {
                s.image.config.cmd = args;
                s.image.config.args_escaped = !classic;
                if classic {
                    if !c.args.is_empty() {
                        s.cmd_set = true;
                    }
                } else {
                    s.cmd_set = true;
                }
                push_nop(&mut s.image, format!("CMD {q}"), &shell);
            } else {
                s.image.config.entrypoint = args;
                if classic {
                    s.image.config.args_escaped = false;
                }
                if !s.cmd_set {
                    s.image.config.cmd = None;
                }
                push_nop(&mut s.image, format!("ENTRYPOINT {q}"), &shell);
            }
        }
        Kind::Shell { shell: new_shell } => {
            s.image.config.shell = new_shell.clone();
            let msg = format!("SHELL {}", gocompat::plain_slice(new_shell));
            push_nop(&mut s.image, msg, new_shell);
        }
        Kind::Workdir { path } => {
            let p = x(path)?;
            if p.is_empty() {
                return Err(ierr("cannot normalize nothing".to_string()));
            }
            let wd = if classic {
                if p.starts_with('/') {
                    gocompat::clean(&p)
                } else {
                    gocompat::join(&["/", &s.image.config.working_dir, &p])
                }
            } else {
                let parent = if s.image.config.working_dir.is_empty() {
                    "/"
                } else {
                    s.image.config.working_dir.as_str()
                };
                if p.starts_with('/') {
                    p.clone()
                } else {
                    gocompat::join(&[parent, &p])
                }
            };
            s.image.config.working_dir = wd.clone();
            let with_layer = classic || wd != "/";
            let created_by = if classic {
                format!("{} #(nop) WORKDIR {wd}", shell.join(" "))
            } else {
                format!("WORKDIR {wd}")
            };
            s.image.history.push(HistoryEntry {
                created_by,
                comment: (!classic).then(|| BUILDKIT_COMMENT.to_string()),
                empty_layer: !with_layer,
            });
            if with_layer {
                let hi = s.image.history.len() - 1;
                s.image.layers.push(CopyStep {
                    span,
                    instruction: "WORKDIR".to_string(),
                    sources: Vec::new(),
                    from_stage: None,
                    dest: p,
                    dest_path: wd,
                    chown: None,
                    chmod: None,
                    link: false,
                    unpack: false,
                    exclude: Vec::new(),
                    resolved: None,
                    history_index: hi,
                });
            }
        }
        Kind::User { user } => {
            let u = x(user)?;
            s.image.config.user = u.clone();
            push_nop(&mut s.image, format!("USER {u}"), &shell);
        }
        Kind::Volume { volumes } => {
            let mut vs = Vec::new();
            for v in volumes {
                let v = x(v)?;
                if v.is_empty() {
                    return Err(ierr(
                        "VOLUME specified can not be an empty string".to_string(),
                    ));
                }
                vs.push(v);
            }
            for v in &vs {
                s.image.config.volumes.insert(v.clone());
            }
            push_nop(
                &mut s.image,
                format!("VOLUME {}", gocompat::plain_slice(&vs)),
                &shell,
            );
        }
        Kind::Stopsignal { signal } => {
            let sig = x(signal)?;
            parse_signal(&sig).map_err(ierr)?;
            s.image.config.stop_signal = sig.clone();
            push_nop(&mut s.image, format!("STOPSIGNAL {sig}"), &shell);
        }
        Kind::Expose { ports } => {
            let mut words = Vec::new();
            for p in ports {
                words.extend(
                    lex.process_words(p, &env)
                        .map_err(|e| Error::Expansion { span, message: e.0 })?,
                );
            }
            let mut specs = Vec::new();
            for w in &words {
                specs.extend(parse_port(w).map_err(ierr)?);
            }
            for p in &specs {
                s.image.config.exposed_ports.insert(p.clone());
            }
            let msg = if classic {
                format!("EXPOSE {}", words.join(" "))
            } else {
                format!("EXPOSE {}", gocompat::plain_slice(&specs))
            };
            push_nop(&mut s.image, msg, &shell);
        }
        Kind::Healthcheck(h) => {
            let hc = HealthConfig {
                test: h.test.clone(),
                interval: h.interval,
                timeout: h.timeout,
                start_period: h.start_period,
                start_interval: h.start_interval,
                retries: h.retries,
            };
            let msg = if classic {
                format!("HEALTHCHECK &{}", hc.go_format())
            } else {
                format!("HEALTHCHECK {}", hc.go_format())
            };
            s.image.config.healthcheck = Some(hc);
            push_nop(&mut s.image, msg, &shell);
        }
        Kind::Onbuild { expression } => {
            s.image.config.on_build.push(expression.clone());
            if classic {
                push_nop(&mut s.image, format!("ONBUILD {expression}"), &shell);
            }
        }
        Kind::Add(c) | Kind::Copy(c) => {
            let is_add = matches!(ins.kind, Kind::Add(_));
            let name = if is_add { "ADD" } else { "COPY" };
            if classic && c.chmod.is_some() {
                return Err(ierr(
                    "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled".to_string(),
                ));
            }
            let chown = c
                .chown
                .as_ref()
                .map(|v| x(v))
                .transpose()?
                .filter(|v| !v.is_empty());
            let chmod = c
                .chmod
                .as_ref()
                .map(|v| x(v))
                .transpose()?
                .filter(|v| !v.is_empty());
            let checksum = c
                .checksum
                .as_ref()
                .map(|v| x(v))
                .transpose()?
                .filter(|v| !v.is_empty());
            let mut sources = Vec::new();
            for src in &c.sources {
                sources.push(x(src)?);
            }
            let dest = x(&c.dest)?;
            if let Some(m) = &chmod {
                check_chmod(m).map_err(ierr)?;
            }
            if checksum.is_some() {
                if !is_add {
                    return Err(ierr("checksum can't be specified for COPY".to_string()));
                }
                if sources.len() != 1 {
                    return Err(ierr(
                        "checksum can't be specified for multiple sources".to_string(),
                    ));
                }
                return Err(ierr("checksum requires HTTP(S) or Git sources".to_string()));
            }
            for src in &sources {
                if src.starts_with("http://")
                    || src.starts_with("https://")
                    || src.starts_with("git@")
                {
                    return Err(Error::Unsupported {
                        span,
                        message: format!(
                            "remote source {src} is not supported; layerproof only reads the build context"
                        ),
                    });
                }
            }
            let from_stage = match &c.from {
                None => None,
                Some(f) => {
                    if !classic
                        && lex.process_word(f, &EnvList::new()).ok().as_deref() != Some(f.as_str())
                    {
                        return Err(ierr("variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround".to_string()));
                    }
                    let cur = done.len();
                    match stage_ref(df, f, cur) {
                        Some(i) if i < cur => match &done[i].outcome {
                            StageOutcome::Image(_) => Some(i),
                            _ => {
                                return Err(Error::Unsupported {
                                    span,
                                    message: format!("COPY --from={f}: that stage is out of scope"),
                                });
                            }
                        },
                        Some(_) => {
                            return Err(ierr(format!(
                                "cannot copy from stage {}, it needs to be defined before current stage",
                                gocompat::quote(f)
                            )));
                        }
                        None => {
                            return Err(Error::Unsupported {
                                span,
                                message: format!(
                                    "COPY --from={f} names an image, not a stage; images are out of scope"
                                ),
                            });
                        }
                    }
                }
            };
            let wd = &s.image.config.working_dir;
            let dest_path = if classic {
                let ends = dest.ends_with('/');
                if dest.starts_with('/') {
                    dest.clone()
                } else {
                    let mut d = gocompat::join(&["/", wd, &dest]);
                    if ends {
                        d.push('/');
                    }
                    d
                }
            } else {
                normalize_keep_slash(if wd.is_empty() { "/" } else { wd }, &dest)
            };
            let resolved = match (context, from_stage) {
                (Some(ctx), None) => {
                    let mut all = Vec::new();
                    for src in &sources {
                        let r = ctx.resolve(src, opts.builder).map_err(|e| Error::Source {
                            span,
                            instruction: name.to_string(),
                            message: e,
                        })?;
                        all.extend(r);
                    }
                    if classic && all.is_empty() {
                        return Err(Error::Source {
                            span,
                            instruction: name.to_string(),
                            message: format!("{name} failed: no source files were specified"),
                        });
                    }
                    if classic && all.len() > 1 && !dest.ends_with('/') {
                        return Err(ierr(format!(
                            "When using {name} with more than one source file, the destination must be a directory and end with a /"
                        )));
                    }
                    Some(all)
                }
                _ => None,
            };
            let created_by = if classic {
                let ch = chown
                    .as_ref()
                    .map(|c| format!("--chown={c} "))
                    .unwrap_or_default();
                format!(
                    "{} #(nop) {name} {ch}{SOURCE_HASH_PLACEHOLDER} in {dest} ",
                    shell.join(" ")
                )
            } else {
                let mut m = name.to_string();
                if c.parents {
                    m.push_str(" --parents");
                }
                if let Some(ch) = &chown {
                    m.push_str(&format!(" --chown={ch}"));
                }
                if let Some(cm) = &chmod {
                    m.push_str(&format!(" --chmod={cm}"));
                }
                for src in &sources {
                    m.push(' ');
                    m.push_str(src);
                }
                m.push(' ');
                m.push_str(&dest);
                m.push_str(" # buildkit");
                m
            };
            s.image.history.push(HistoryEntry {
                created_by,
                comment: (!classic).then(|| BUILDKIT_COMMENT.to_string()),
                empty_layer: false,
            });
            let hi = s.image.history.len() - 1;
            s.image.layers.push(CopyStep {
                span,
                instruction: name.to_string(),
                sources,
                from_stage,
                dest,
                dest_path,
                chown,
                chmod,
                link: c.link,
                unpack: is_add && c.unpack.unwrap_or(true),
                exclude: c.exclude.clone(),
                resolved,
                history_index: hi,
            });
        }
        Kind::Run(_) => {}
    }
    Ok(())
}

/// BuildKit `system.NormalizePath(parent, p, keepSlash=true)` on Linux.
fn normalize_keep_slash(parent: &str, p: &str) -> String {
    let orig = p;
    let mut np = if p.is_empty() || p == "." {
        "./".to_string()
    } else {
        p.to_string()
    };
    if !np.starts_with('/') {
        np = gocompat::join(&[parent, &np]);
    }
    let orig2 = if orig.is_empty() || orig == "." {
        "./"
    } else {
        orig
    };
    if orig2.ends_with('/') && !np.ends_with('/') {
        np.push('/');
    } else if orig2.ends_with("/.") {
        if np != "/" {
            np.push('/');
        }
        np.push('.');
    }
    np
}

fn resolve_cmd(
    c: &CommandLine,
    shell: &[String],
    classic: bool,
    is_cmd: bool,
) -> Option<Vec<String>> {
    if !c.prepend_shell {
        if c.args.is_empty() && !is_cmd {
            return None;
        }
        return Some(c.args.clone());
    }
    let mut v = shell.to_vec();
    if classic {
        if c.args.is_empty() && !is_cmd {
            return None;
        }
        v.extend(c.args.iter().cloned());
    } else {
        v.push(c.args.join(" "));
    }
    Some(v)
}

fn check_chmod(m: &str) -> Result<(), String> {
    let non_octal = format!(
        "invalid chmod parameter: '{m}'. it should be octal string and between 0 and 07777"
    );
    if m.bytes().all(|b| (b'0'..=b'7').contains(&b)) && !m.is_empty() {
        match u32::from_str_radix(m, 8) {
            Ok(v) if v <= 0o7777 => Ok(()),
            _ => Err(non_octal),
        }
    } else if m.bytes().all(|b| b.is_ascii_digit()) {
        Err(non_octal)
    } else {
        // Symbolic modes (u+x, ...) need BuildKit's mode parser; accept the
        // syntax `[ugoa]*[+-=][rwxXst]*(,...)*`.
        let ok = m.split(',').all(|part| {
            let who = part.trim_start_matches(['u', 'g', 'o', 'a']);
            let mut it = who.chars();
            matches!(it.next(), Some('+' | '-' | '='))
                && it.all(|c| matches!(c, 'r' | 'w' | 'x' | 'X' | 's' | 't' | '+' | '-' | '='))
        });
        if ok {
            Ok(())
        } else {
            Err(format!("invalid chmod parameter: '{m}'"))
        }
    }
}

const SIGNALS: &[(&str, u32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("RTMIN", 34),
    ("RTMAX", 64),
];

/// moby/sys `signal.ParseSignal` with the Linux signal table.
fn parse_signal(raw: &str) -> Result<u32, String> {
    if let Ok(n) = raw.parse::<i64>() {
        if n <= 0 || n > 64 {
            return Err(format!("Invalid signal: {raw}"));
        }
        return Ok(n as u32);
    }
    let up = gocompat::to_upper(raw);
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    for (base, n0, sign) in [("RTMIN+", 34i64, 1i64), ("RTMAX-", 64, -1)] {
        if let Some(k) = name.strip_prefix(base).and_then(|k| k.parse::<i64>().ok())
            && (1..=30).contains(&k)
        {
            return Ok((n0 + sign * k) as u32);
        }
    }
    Err(format!("Invalid signal: {raw}"))
}

/// BuildKit `parsePort` (the classic builder's `parsePortSpec` agrees on
/// valid input): returns `N/proto` entries, ranges expanded.
fn parse_port(raw: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (host_port, container) = match parts.len() {
        1 => ("", parts[0]),
        n => (parts[n - 2], parts[n - 1]),
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        return Err(format!(
            "invalid port: {}: no port specified",
            gocompat::quote(raw)
        ));
    }
    let proto = match gocompat::to_lower(proto).as_str() {
        "" => "tcp".to_string(),
        p @ ("tcp" | "udp" | "sctp") => p.to_string(),
        _ => {
            return Err(format!(
                "invalid port: {}: invalid proto: {proto}",
                gocompat::quote(raw)
            ));
        }
    };
    let range = |s: &str| -> Result<(u32, u32), String> {
        if s.is_empty() {
            return Err("empty string specified for ports".to_string());
        }
        let (a, b) = s.split_once('-').map_or((s, None), |(a, b)| (a, Some(b)));
        let num = |v: &str| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n <= 65535)
                .ok_or_else(|| format!("invalid port '{v}'"))
        };
        let start = num(a)?;
        match b {
            None => Ok((start, start)),
            Some(b) if b == a => Ok((start, start)),
            Some(b) => {
                let end = num(b)?;
                if end < start {
                    return Err(format!("invalid port range: {s}"));
                }
                Ok((start, end))
            }
        }
    };
    let (start, end) = range(port).map_err(|_| format!("invalid containerPort: {port}"))?;
    if !host_port.is_empty() {
        let (hs, he) = range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(parse_port("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(
            parse_port("8000-8002").unwrap(),
            vec!["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(parse_port("80/xyz").is_err());
        assert!(parse_port("99999").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("kill"), Ok(9));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("SIGFOO").is_err());
    }

    #[test]
    fn keep_slash() {
        assert_eq!(normalize_keep_slash("/", "/"), "/");
        assert_eq!(normalize_keep_slash("/app", "x/"), "/app/x/");
        assert_eq!(normalize_keep_slash("/app", "."), "/app/");
        assert_eq!(normalize_keep_slash("/app", "/abs"), "/abs");
    }
}
