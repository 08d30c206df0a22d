//! Evaluation of a parsed Dockerfile for one builder: the target stage, the global ARGs, which
//! stages are built and what each starts from. Each instruction's effect on a stage is in
//! `dispatch`; the values it returns are in `model`. Layer contents, digests
//! and times are left to the caller; ADD/COPY steps are returned as [`CopyStep`](crate::CopyStep)s.

use crate::classic::{self, Declared};
use crate::context::Context;
use crate::dispatch::StageBuilder;
use crate::instructions::{ArgDef, Dockerfile, Kind, Stage};
use crate::lex::{EnvList, Lexer};
use crate::model::{
    BuildOptions, BuilderKind, DEFAULT_PATH, Evaluation, ImageModel, OutOfScope, StageOutcome,
    StageResult,
};
use crate::{Error, Platform, Span, gocompat};

/// Evaluates `df` for one builder. `context`, when given, is used to resolve
/// ADD/COPY sources of the build context (globs, `.dockerignore`).
///
/// Every `Err` is something the builder itself would refuse.
pub fn evaluate(
    df: &Dockerfile,
    opts: &BuildOptions,
    context: Option<&Context>,
) -> Result<Evaluation, Error> {
    let classic = opts.builder == BuilderKind::Classic;
    let target = target_stage(df, opts)?;
    let lex = Lexer::new(df.escape);
    let meta = MetaArgs::evaluate(df, opts, target, &lex)?;
    let global_args = meta.global_args(opts);
    // FROM sees the global ARGs only.
    let base_env = if classic {
        EnvList::from_pairs(global_args.iter().map(String::as_str))
    } else {
        meta.buildkit.to_env()
    };
    let scope = Scope {
        lex,
        opts,
        df,
        context,
        meta,
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
        let base = expand(&scope.lex, &st.base, &base_env, st.span)?;
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
        let outcome = if needed[si] {
            evaluate_stage(&scope, st, &base, &results)?
        } else {
            StageOutcome::NotBuilt
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

/// What every stage of one evaluation reads.
pub(crate) struct Scope<'a> {
    /// The Dockerfile's lexer (its escape token).
    pub(crate) lex: Lexer,
    /// What the build is run with.
    pub(crate) opts: &'a BuildOptions,
    /// The Dockerfile.
    pub(crate) df: &'a Dockerfile,
    /// The build context, when sources are to be resolved.
    pub(crate) context: Option<&'a Context>,
    /// The global ARGs.
    pub(crate) meta: MetaArgs,
}

impl Scope<'_> {
    /// Whether the classic builder is modelled.
    pub(crate) fn classic(&self) -> bool {
        self.opts.builder == BuilderKind::Classic
    }
}

/// The index of the `--target` stage (matched lower-cased), or of the last stage.
fn target_stage(df: &Dockerfile, opts: &BuildOptions) -> Result<usize, Error> {
    let Some(t) = &opts.target else {
        return Ok(df.stages.len() - 1);
    };
    let t = gocompat::to_lower(t);
    df.stages
        .iter()
        .position(|s| s.name.as_deref() == Some(t.as_str()))
        .ok_or_else(|| Error::Instruction {
            span: df.stages[0].span,
            message: format!("target stage {} could not be found", gocompat::quote(&t)),
        })
}

/// One built stage: from its base image through its instructions, up to a `RUN`.
fn evaluate_stage(
    scope: &Scope<'_>,
    st: &Stage,
    base: &str,
    done: &[StageResult],
) -> Result<StageOutcome, Error> {
    let image = match base_image(scope, st, base, done) {
        Ok(image) => image,
        Err(out_of_scope) => return Ok(StageOutcome::OutOfScope(out_of_scope)),
    };
    let mut builder = StageBuilder::new(scope, done, image);
    for ins in &st.instructions {
        if let Kind::Run(_) = ins.kind {
            return Ok(StageOutcome::OutOfScope(OutOfScope {
                span: ins.span,
                instruction: ins.original.trim().to_string(),
                reason: "RUN executes code inside the image; its result cannot be derived from the Dockerfile"
                    .to_string(),
            }));
        }
        builder.apply(ins)?;
    }
    Ok(StageOutcome::Image(Box::new(builder.into_image())))
}

/// The image a stage starts from: an earlier stage's (matched lower-cased), or, for `scratch`,
/// an empty one with the default PATH (and BuildKit's `WorkingDir` `/`).
fn base_image(
    scope: &Scope<'_>,
    st: &Stage,
    base: &str,
    done: &[StageResult],
) -> Result<ImageModel, OutOfScope> {
    let out_of_scope = |reason: String| OutOfScope {
        span: st.span,
        instruction: format!("FROM {base}"),
        reason,
    };
    let lbase = gocompat::to_lower(base);
    match done
        .iter()
        .position(|r| r.name.as_deref() == Some(lbase.as_str()))
    {
        Some(p) => match &done[p].outcome {
            StageOutcome::Image(img) => Ok((**img).clone()),
            _ => Err(out_of_scope(format!("base stage {base} is out of scope"))),
        },
        None if base == "scratch" => {
            let platform = &scope.opts.platform;
            let mut image = ImageModel {
                os: platform.os.clone(),
                architecture: platform.architecture.clone(),
                variant: variant(platform),
                ..Default::default()
            };
            if !image.config.env.iter().any(|e| e.starts_with("PATH=")) {
                image.config.env.push(format!("PATH={DEFAULT_PATH}"));
            }
            if !scope.classic() {
                image.config.working_dir = "/".to_string();
            }
            Ok(image)
        }
        None => Err(out_of_scope(format!(
            "base image {base} is not scratch: its contents cannot be rebuilt from a tarball"
        ))),
    }
}

/// The stages the target needs: its base stages and `COPY --from` stages, transitively.
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

/// The stage `--from` names: by name (lower-cased), else by an index below `current`.
pub(crate) fn stage_ref(df: &Dockerfile, from: &str, current: usize) -> Option<usize> {
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

/// Expands `word` in `env`, a failure located at `span`.
pub(crate) fn expand(lex: &Lexer, word: &str, env: &EnvList, span: Span) -> Result<String, Error> {
    lex.process_word(word, env)
        .map_err(|e| Error::Expansion { span, message: e.0 })
}

/// The global ARGs (those before the first FROM), as each builder keeps them.
#[derive(Debug, Default)]
pub(crate) struct MetaArgs {
    /// BuildKit: the global scope's values, the predefined platform args first.
    pub(crate) buildkit: OrderedEnv,
    /// Classic: the declarations, a redeclared name moved last.
    pub(crate) classic: Declared,
}

impl MetaArgs {
    fn evaluate(
        df: &Dockerfile,
        opts: &BuildOptions,
        target: usize,
        lex: &Lexer,
    ) -> Result<MetaArgs, Error> {
        let classic = opts.builder == BuilderKind::Classic;
        let mut meta = MetaArgs::default();
        if !classic {
            let tname = df.stages[target].name.clone().unwrap_or_default();
            for (k, v) in predefined_args(opts, &tname) {
                meta.buildkit.set(&k, &v);
            }
        }
        for ins in &df.meta_args {
            let Kind::Arg { args } = &ins.kind else {
                continue;
            };
            for a in args {
                if classic {
                    meta.declare_classic(a, opts, lex, ins.span)?;
                } else {
                    meta.declare_buildkit(a, opts, lex, ins.span)?;
                }
            }
        }
        Ok(meta)
    }

    /// A global `ARG` for the classic builder: name and default expanded in the global ARGs.
    fn declare_classic(
        &mut self,
        a: &ArgDef,
        opts: &BuildOptions,
        lex: &Lexer,
        span: Span,
    ) -> Result<(), Error> {
        let env = classic::meta_env(&self.classic, &opts.build_args);
        let key = expand(lex, &a.key, &env, span)?;
        let default = a
            .default
            .as_ref()
            .map(|d| expand(lex, d, &env, span))
            .transpose()?;
        self.classic.retain(|(k, _)| *k != key);
        self.classic.push((key, default));
        Ok(())
    }

    /// A global `ARG` for BuildKit: its `--build-arg`, else its default expanded in the global
    /// scope; without either it stays unset.
    fn declare_buildkit(
        &mut self,
        a: &ArgDef,
        opts: &BuildOptions,
        lex: &Lexer,
        span: Span,
    ) -> Result<(), Error> {
        let value = match opts.build_args.get(&a.key) {
            Some(v) => Some(v.clone()),
            None => a
                .default
                .as_ref()
                .map(|d| expand(lex, d, &self.buildkit.to_env(), span))
                .transpose()?,
        };
        if let Some(v) = value {
            self.buildkit.set(&a.key, &v);
        }
        Ok(())
    }

    /// [`Evaluation::global_args`]: `KEY=value`, sorted.
    fn global_args(&self, opts: &BuildOptions) -> Vec<String> {
        if opts.builder == BuilderKind::Classic {
            classic::meta_values(&self.classic, &opts.build_args)
                .into_iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect()
        } else {
            let mut g = self.buildkit.strings();
            g.sort();
            g
        }
    }
}

/// The platform ARGs BuildKit defines automatically, each overridden by a `--build-arg`.
fn predefined_args(opts: &BuildOptions, target_name: &str) -> Vec<(String, String)> {
    let tp = &opts.platform;
    let bp = opts.build_platform.as_ref().unwrap_or(tp);
    let target = if target_name.is_empty() {
        "default"
    } else {
        target_name
    };
    let v = [
        ("BUILDPLATFORM", os_arch_variant(bp)),
        ("BUILDOS", bp.os.clone()),
        ("BUILDOSVERSION", String::new()),
        ("BUILDARCH", bp.architecture.clone()),
        ("BUILDVARIANT", variant(bp)),
        ("TARGETPLATFORM", os_arch_variant(tp)),
        ("TARGETOS", tp.os.clone()),
        ("TARGETOSVERSION", String::new()),
        ("TARGETARCH", tp.architecture.clone()),
        ("TARGETVARIANT", variant(tp)),
        ("TARGETSTAGE", target.to_string()),
    ];
    v.into_iter()
        .map(|(k, val)| {
            let val = opts.build_args.get(k).cloned().unwrap_or(val);
            (k.to_string(), val)
        })
        .collect()
}

/// The platform's variant, empty when it has none (as in an image config without one).
fn variant(p: &Platform) -> String {
    p.variant.clone().unwrap_or_default()
}

/// `os/arch`, and `/variant` when the variant is not empty (an image config may hold
/// `"variant": ""`, which names no variant).
fn os_arch_variant(p: &Platform) -> String {
    match variant(p) {
        v if v.is_empty() => format!("{}/{}", p.os, p.architecture),
        v => format!("{}/{}/{v}", p.os, p.architecture),
    }
}

/// An ordered env list with in-place replacement (llb.EnvList / addEnv).
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderedEnv(Vec<(String, String)>);

impl OrderedEnv {
    pub(crate) fn set(&mut self, k: &str, v: &str) {
        if let Some(e) = self.0.iter_mut().find(|(ek, _)| ek == k) {
            e.1 = v.to_string();
        } else {
            self.0.push((k.to_string(), v.to_string()));
        }
    }
    pub(crate) fn get(&self, k: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(ek, _)| ek == k)
            .map(|(_, v)| v.as_str())
    }
    pub(crate) fn to_env(&self) -> EnvList {
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
