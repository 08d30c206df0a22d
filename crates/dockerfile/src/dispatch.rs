//! One function per instruction: what each does to a stage's image config, history and layers,
//! for the builder modelled (BuildKit `dispatch.go`, the classic builder's `dispatchers.go`).

use crate::classic::{self, Declared};
use crate::eval::{OrderedEnv, Scope, expand, stage_ref};
use crate::instructions::{
    ArgDef, CommandLine, CopyArgs, Healthcheck, Instruction, KeyValue, Kind,
};
use crate::lex::EnvList;
use crate::model::{
    BUILDKIT_COMMENT, CopyStep, HealthConfig, HistoryEntry, ImageModel, SOURCE_HASH_PLACEHOLDER,
    StageOutcome, StageResult,
};
use crate::values::{check_chmod, normalize_keep_slash, parse_port, parse_signal, resolve_cmd};
use crate::{Error, Span, gocompat};

/// Builds one stage's image, an instruction at a time.
pub(crate) struct StageBuilder<'a> {
    /// What every stage reads.
    scope: &'a Scope<'a>,
    /// The stages before this one, for `COPY --from`.
    done: &'a [StageResult],
    /// The image so far.
    image: ImageModel,
    /// BuildKit: the LLB state env (image Env + ARG values).
    state_env: OrderedEnv,
    /// Classic: the ARGs this stage declared.
    classic_allowed: Declared,
    /// Whether a CMD was set in this stage (an ENTRYPOINT then keeps it).
    cmd_set: bool,
}

/// What one instruction is evaluated with.
struct Step {
    /// The instruction's lines.
    span: Span,
    /// The variables `$VAR` sees.
    env: EnvList,
    /// The current SHELL (default `/bin/sh -c`).
    shell: Vec<String>,
}

impl Step {
    /// An [`Error::Instruction`] at this instruction.
    fn refuse(&self, message: impl Into<String>) -> Error {
        Error::Instruction {
            span: self.span,
            message: message.into(),
        }
    }
}

impl<'a> StageBuilder<'a> {
    /// A stage that starts from `image`, after the stages `done`.
    pub(crate) fn new(scope: &'a Scope<'a>, done: &'a [StageResult], image: ImageModel) -> Self {
        let mut state_env = OrderedEnv::default();
        for e in &image.config.env {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            state_env.set(k, v);
        }
        StageBuilder {
            scope,
            done,
            image,
            state_env,
            classic_allowed: Vec::new(),
            cmd_set: false,
        }
    }

    /// The image the instructions so far produced.
    pub(crate) fn into_image(self) -> ImageModel {
        self.image
    }

    /// Applies one instruction. `RUN` is the caller's to handle (it ends what can be modelled).
    pub(crate) fn apply(&mut self, ins: &Instruction) -> Result<(), Error> {
        let env = if self.classic() {
            classic::stage_env(
                &self.classic_allowed,
                &self.image.config.env,
                &self.scope.meta.classic,
                &self.scope.opts.build_args,
            )
        } else {
            self.state_env.to_env()
        };
        let shell = if self.image.config.shell.is_empty() {
            vec!["/bin/sh".to_string(), "-c".to_string()]
        } else {
            self.image.config.shell.clone()
        };
        let step = Step {
            span: ins.span,
            env,
            shell,
        };
        match &ins.kind {
            Kind::Env { env } => self.env(&step, env)?,
            Kind::Label { labels } => self.label(&step, labels)?,
            Kind::Maintainer { maintainer } => self.maintainer(&step, maintainer),
            Kind::Arg { args } => self.arg(&step, args)?,
            Kind::Cmd(c) => self.cmd(&step, c),
            Kind::Entrypoint(c) => self.entrypoint(&step, c),
            Kind::Shell { shell } => self.shell(shell),
            Kind::Workdir { path } => self.workdir(&step, path)?,
            Kind::User { user } => self.user(&step, user)?,
            Kind::Volume { volumes } => self.volume(&step, volumes)?,
            Kind::Stopsignal { signal } => self.stopsignal(&step, signal)?,
            Kind::Expose { ports } => self.expose(&step, ports)?,
            Kind::Healthcheck(h) => self.healthcheck(&step, h),
            Kind::Onbuild { expression } => self.onbuild(&step, expression),
            Kind::Add(c) => self.copy(&step, "ADD", c)?,
            Kind::Copy(c) => self.copy(&step, "COPY", c)?,
            Kind::Run(_) => {}
        }
        Ok(())
    }

    fn classic(&self) -> bool {
        self.scope.classic()
    }

    /// Expands `word` in the instruction's env.
    fn expand(&self, step: &Step, word: &str) -> Result<String, Error> {
        expand(&self.scope.lex, word, &step.env, step.span)
    }

    /// Like [`Self::expand`], for an optional flag: `None` when absent or empty.
    fn expand_flag(&self, step: &Step, flag: &Option<String>) -> Result<Option<String>, Error> {
        Ok(flag
            .as_ref()
            .map(|v| self.expand(step, v))
            .transpose()?
            .filter(|v| !v.is_empty()))
    }

    /// The history entry of an instruction that adds no layer: classic
    /// `<shell> #(nop)  <msg>` (two spaces), BuildKit `<msg>` with its comment.
    fn push_nop(&mut self, msg: String, shell: &[String]) {
        let entry = if self.classic() {
            HistoryEntry {
                created_by: format!("{} #(nop)  {msg}", shell.join(" ")),
                comment: None,
                empty_layer: true,
            }
        } else {
            HistoryEntry {
                created_by: msg,
                comment: Some(BUILDKIT_COMMENT.to_string()),
                empty_layer: true,
            }
        };
        self.image.history.push(entry);
    }

    /// `ENV`: each pair replaces the variable in place or is appended.
    fn env(&mut self, step: &Step, pairs: &[KeyValue]) -> Result<(), Error> {
        let mut expanded = Vec::new();
        for kv in pairs {
            expanded.push((self.expand(step, &kv.key)?, self.expand(step, &kv.value)?));
        }
        let mut msg = "ENV".to_string();
        for (k, v) in expanded {
            msg.push_str(&format!(" {k}={v}"));
            let nv = format!("{k}={v}");
            match self
                .image
                .config
                .env
                .iter_mut()
                .find(|e| e.split_once('=').map_or(e.as_str(), |p| p.0) == k)
            {
                Some(e) => *e = nv,
                None => self.image.config.env.push(nv),
            }
            self.state_env.set(&k, &v);
        }
        self.push_nop(msg, &step.shell);
        Ok(())
    }

    /// `LABEL`.
    fn label(&mut self, step: &Step, labels: &[KeyValue]) -> Result<(), Error> {
        let mut expanded = Vec::new();
        for kv in labels {
            expanded.push((self.expand(step, &kv.key)?, self.expand(step, &kv.value)?));
        }
        let mut msg = "LABEL".to_string();
        for (k, v) in expanded {
            msg.push_str(&format!(" {k}={v}"));
            self.image.config.labels.insert(k, v);
        }
        self.push_nop(msg, &step.shell);
        Ok(())
    }

    /// `MAINTAINER` sets `author` (not expanded).
    fn maintainer(&mut self, step: &Step, maintainer: &str) {
        self.image.author = maintainer.to_string();
        self.push_nop(format!("MAINTAINER {maintainer}"), &step.shell);
    }

    /// `ARG` in a stage. The classic builder records the declaration (name and default
    /// expanded) and shows it as written; BuildKit sets the value in the state env and shows it.
    fn arg(&mut self, step: &Step, args: &[ArgDef]) -> Result<(), Error> {
        let mut parts = Vec::new();
        for a in args {
            if self.classic() {
                let key = self.expand(step, &a.key)?;
                let default = a
                    .default
                    .as_ref()
                    .map(|d| self.expand(step, d))
                    .transpose()?;
                parts.push(match &default {
                    Some(d) => format!("{key}={d}"),
                    None => key.clone(),
                });
                self.classic_allowed.push((key, default));
            } else {
                parts.push(self.buildkit_arg(step, a)?);
            }
        }
        self.push_nop(format!("ARG {}", parts.join(" ")), &step.shell);
        Ok(())
    }

    /// One BuildKit `ARG` in a stage; returns its history text.
    fn buildkit_arg(&mut self, step: &Step, a: &ArgDef) -> Result<String, Error> {
        let opts = self.scope.opts;
        let has_value = opts.build_args.contains_key(&a.key);
        let mut value = None;
        // The predefined platform args (TARGETARCH, …) take their value from the
        // global scope, but the history line shows it only for ARGs the Dockerfile
        // itself declares globally: `ARG TARGETARCH` stays bare (observed, Docker
        // 26.1 / BuildKit 0.13, examples/multiarch).
        let mut shown_bare = false;
        if a.default.is_none() && !has_value {
            value = self.scope.meta.buildkit.get(&a.key).map(str::to_string);
            shown_bare = !self.scope.df.meta_args.iter().any(
                |m| matches!(&m.kind, Kind::Arg { args } if args.iter().any(|g| g.key == a.key)),
            );
        }
        if has_value {
            value = opts.build_args.get(&a.key).cloned();
        } else if let Some(d) = &a.default {
            value = Some(self.expand(step, d)?);
        }
        if let Some(v) = &value
            && a.key != "BUILDKIT_SBOM_SCAN_CONTEXT"
            && a.key != "BUILDKIT_SBOM_SCAN_STAGE"
        {
            self.state_env.set(&a.key, v);
        }
        Ok(match &value {
            Some(v) if !shown_bare => format!("{}={v}", a.key),
            _ => a.key.clone(),
        })
    }

    /// `CMD`. BuildKit sets `ArgsEscaped`; the classic builder counts an empty CMD as unset.
    fn cmd(&mut self, step: &Step, c: &CommandLine) {
        let classic = self.classic();
        let args = resolve_cmd(c, &step.shell, classic, true);
        let q = gocompat::quote_slice(args.as_deref().unwrap_or(&[]));
        self.image.config.cmd = args;
        self.image.config.args_escaped = !classic;
        if !classic || !c.args.is_empty() {
            self.cmd_set = true;
        }
        self.push_nop(format!("CMD {q}"), &step.shell);
    }

    /// `ENTRYPOINT` resets a CMD this stage did not set.
    fn entrypoint(&mut self, step: &Step, c: &CommandLine) {
        let classic = self.classic();
        let args = resolve_cmd(c, &step.shell, classic, false);
        let q = gocompat::quote_slice(args.as_deref().unwrap_or(&[]));
        self.image.config.entrypoint = args;
        if classic {
            self.image.config.args_escaped = false;
        }
        if !self.cmd_set {
            self.image.config.cmd = None;
        }
        self.push_nop(format!("ENTRYPOINT {q}"), &step.shell);
    }

    /// `SHELL`; its own history line already uses the new shell.
    fn shell(&mut self, new_shell: &[String]) {
        self.image.config.shell = new_shell.to_vec();
        let msg = format!("SHELL {}", gocompat::plain_slice(new_shell));
        self.push_nop(msg, new_shell);
    }

    /// `WORKDIR`: relative to the previous one; the classic builder cleans absolute paths,
    /// BuildKit keeps them. It makes a layer (the directory), for BuildKit unless it is `/`.
    fn workdir(&mut self, step: &Step, path: &str) -> Result<(), Error> {
        let p = self.expand(step, path)?;
        if p.is_empty() {
            return Err(step.refuse("cannot normalize nothing"));
        }
        let classic = self.classic();
        let wd = if classic {
            if p.starts_with('/') {
                gocompat::clean(&p)
            } else {
                gocompat::join(&["/", &self.image.config.working_dir, &p])
            }
        } else {
            let parent = if self.image.config.working_dir.is_empty() {
                "/"
            } else {
                self.image.config.working_dir.as_str()
            };
            if p.starts_with('/') {
                p.clone()
            } else {
                gocompat::join(&[parent, &p])
            }
        };
        self.image.config.working_dir = wd.clone();
        let with_layer = classic || wd != "/";
        let created_by = if classic {
            format!("{} #(nop) WORKDIR {wd}", step.shell.join(" "))
        } else {
            format!("WORKDIR {wd}")
        };
        self.image.history.push(HistoryEntry {
            created_by,
            comment: (!classic).then(|| BUILDKIT_COMMENT.to_string()),
            empty_layer: !with_layer,
        });
        if with_layer {
            let hi = self.image.history.len() - 1;
            self.image.layers.push(CopyStep {
                span: step.span,
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
        Ok(())
    }

    /// `USER`.
    fn user(&mut self, step: &Step, user: &str) -> Result<(), Error> {
        let u = self.expand(step, user)?;
        self.image.config.user = u.clone();
        self.push_nop(format!("USER {u}"), &step.shell);
        Ok(())
    }

    /// `VOLUME`; an empty one is refused.
    fn volume(&mut self, step: &Step, volumes: &[String]) -> Result<(), Error> {
        let mut vs = Vec::new();
        for v in volumes {
            let v = self.expand(step, v)?;
            if v.is_empty() {
                return Err(step.refuse("VOLUME specified can not be an empty string"));
            }
            vs.push(v);
        }
        for v in &vs {
            self.image.config.volumes.insert(v.clone());
        }
        self.push_nop(
            format!("VOLUME {}", gocompat::plain_slice(&vs)),
            &step.shell,
        );
        Ok(())
    }

    /// `STOPSIGNAL`, kept as written once it parses as a signal.
    fn stopsignal(&mut self, step: &Step, signal: &str) -> Result<(), Error> {
        let sig = self.expand(step, signal)?;
        parse_signal(&sig).map_err(|m| step.refuse(m))?;
        self.image.config.stop_signal = sig.clone();
        self.push_nop(format!("STOPSIGNAL {sig}"), &step.shell);
        Ok(())
    }

    /// `EXPOSE`: each argument expanded into words, each word into `N/proto` (ranges expanded).
    /// The classic history shows the words, BuildKit's the ports.
    fn expose(&mut self, step: &Step, ports: &[String]) -> Result<(), Error> {
        let mut words = Vec::new();
        for p in ports {
            words.extend(self.scope.lex.process_words(p, &step.env).map_err(|e| {
                Error::Expansion {
                    span: step.span,
                    message: e.0,
                }
            })?);
        }
        let mut specs = Vec::new();
        for w in &words {
            specs.extend(parse_port(w).map_err(|m| step.refuse(m))?);
        }
        for p in &specs {
            self.image.config.exposed_ports.insert(p.clone());
        }
        let msg = if self.classic() {
            format!("EXPOSE {}", words.join(" "))
        } else {
            format!("EXPOSE {}", gocompat::plain_slice(&specs))
        };
        self.push_nop(msg, &step.shell);
        Ok(())
    }

    /// `HEALTHCHECK`; the history shows Go's `%+v` of the config (classic: of a pointer).
    fn healthcheck(&mut self, step: &Step, h: &Healthcheck) {
        let hc = HealthConfig {
            test: h.test.clone(),
            interval: h.interval,
            timeout: h.timeout,
            start_period: h.start_period,
            start_interval: h.start_interval,
            retries: h.retries,
        };
        let msg = if self.classic() {
            format!("HEALTHCHECK &{}", hc.go_format())
        } else {
            format!("HEALTHCHECK {}", hc.go_format())
        };
        self.image.config.healthcheck = Some(hc);
        self.push_nop(msg, &step.shell);
    }

    /// `ONBUILD`: recorded; only the classic builder writes a history entry for it.
    fn onbuild(&mut self, step: &Step, expression: &str) {
        self.image.config.on_build.push(expression.to_string());
        if self.classic() {
            self.push_nop(format!("ONBUILD {expression}"), &step.shell);
        }
    }

    /// `ADD` / `COPY` (`name`): a layer-producing step with its history entry.
    fn copy(&mut self, step: &Step, name: &str, c: &CopyArgs) -> Result<(), Error> {
        let is_add = name == "ADD";
        let classic = self.classic();
        if classic && c.chmod.is_some() {
            return Err(step.refuse(
                "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/ to learn how to build images with BuildKit enabled",
            ));
        }
        let chown = self.expand_flag(step, &c.chown)?;
        let chmod = self.expand_flag(step, &c.chmod)?;
        let checksum = self.expand_flag(step, &c.checksum)?;
        let mut sources = Vec::new();
        for src in &c.sources {
            sources.push(self.expand(step, src)?);
        }
        let dest = self.expand(step, &c.dest)?;
        if let Some(m) = &chmod {
            check_chmod(m).map_err(|m| step.refuse(m))?;
        }
        if checksum.is_some() {
            if !is_add {
                return Err(step.refuse("checksum can't be specified for COPY"));
            }
            if sources.len() != 1 {
                return Err(step.refuse("checksum can't be specified for multiple sources"));
            }
            return Err(step.refuse("checksum requires HTTP(S) or Git sources"));
        }
        if let Some(src) = sources.iter().find(|src| {
            src.starts_with("http://") || src.starts_with("https://") || src.starts_with("git@")
        }) {
            return Err(Error::Unsupported {
                span: step.span,
                message: format!(
                    "remote source {src} is not supported; layerproof only reads the build context"
                ),
            });
        }
        let from_stage = match &c.from {
            None => None,
            Some(f) => Some(self.source_stage(step, f)?),
        };
        let dest_path = self.dest_path(&dest);
        let resolved = match (self.scope.context, from_stage) {
            (Some(_), None) => Some(self.resolve_sources(step, name, &sources, &dest)?),
            _ => None,
        };
        let created_by = if classic {
            let ch = chown
                .as_ref()
                .map(|c| format!("--chown={c} "))
                .unwrap_or_default();
            format!(
                "{} #(nop) {name} {ch}{SOURCE_HASH_PLACEHOLDER} in {dest} ",
                step.shell.join(" ")
            )
        } else {
            buildkit_copy_created_by(name, c.parents, &chown, &chmod, &sources, &dest)
        };
        self.image.history.push(HistoryEntry {
            created_by,
            comment: (!classic).then(|| BUILDKIT_COMMENT.to_string()),
            empty_layer: false,
        });
        let hi = self.image.history.len() - 1;
        self.image.layers.push(CopyStep {
            span: step.span,
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
        Ok(())
    }

    /// The stage `COPY --from=<f>` names; images and out-of-scope stages are
    /// [`Error::Unsupported`]. BuildKit refuses a `--from` with variables.
    fn source_stage(&self, step: &Step, f: &str) -> Result<usize, Error> {
        if !self.classic()
            && self
                .scope
                .lex
                .process_word(f, &EnvList::new())
                .ok()
                .as_deref()
                != Some(f)
        {
            return Err(step.refuse(
                "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
            ));
        }
        let cur = self.done.len();
        match stage_ref(self.scope.df, f, cur) {
            Some(i) if i < cur => match &self.done[i].outcome {
                StageOutcome::Image(_) => Ok(i),
                _ => Err(Error::Unsupported {
                    span: step.span,
                    message: format!("COPY --from={f}: that stage is out of scope"),
                }),
            },
            Some(_) => Err(step.refuse(format!(
                "cannot copy from stage {}, it needs to be defined before current stage",
                gocompat::quote(f)
            ))),
            None => Err(Error::Unsupported {
                span: step.span,
                message: format!(
                    "COPY --from={f} names an image, not a stage; images are out of scope"
                ),
            }),
        }
    }

    /// The absolute destination of an ADD/COPY (trailing `/` kept).
    fn dest_path(&self, dest: &str) -> String {
        let wd = &self.image.config.working_dir;
        if self.classic() {
            if dest.starts_with('/') {
                dest.to_string()
            } else {
                let mut d = gocompat::join(&["/", wd, dest]);
                if dest.ends_with('/') {
                    d.push('/');
                }
                d
            }
        } else {
            normalize_keep_slash(if wd.is_empty() { "/" } else { wd }, dest)
        }
    }

    /// The sources in the build context (globs and `.dockerignore` applied). The classic
    /// builder refuses no match, and several files into a destination without a trailing `/`.
    fn resolve_sources(
        &self,
        step: &Step,
        name: &str,
        sources: &[String],
        dest: &str,
    ) -> Result<Vec<crate::context::ResolvedSource>, Error> {
        let source_error = |message: String| Error::Source {
            span: step.span,
            instruction: name.to_string(),
            message,
        };
        let mut all = Vec::new();
        if let Some(ctx) = self.scope.context {
            for src in sources {
                let r = ctx
                    .resolve(src, self.scope.opts.builder)
                    .map_err(source_error)?;
                all.extend(r);
            }
        }
        if self.classic() && all.is_empty() {
            return Err(source_error(format!(
                "{name} failed: no source files were specified"
            )));
        }
        if self.classic() && all.len() > 1 && !dest.ends_with('/') {
            return Err(step.refuse(format!(
                "When using {name} with more than one source file, the destination must be a directory and end with a /"
            )));
        }
        Ok(all)
    }
}

/// BuildKit's ADD/COPY history text: the instruction with its flags, sources and destination
/// as expanded, and ` # buildkit`.
fn buildkit_copy_created_by(
    name: &str,
    parents: bool,
    chown: &Option<String>,
    chmod: &Option<String>,
    sources: &[String],
    dest: &str,
) -> String {
    let mut m = name.to_string();
    if parents {
        m.push_str(" --parents");
    }
    if let Some(ch) = chown {
        m.push_str(&format!(" --chown={ch}"));
    }
    if let Some(cm) = chmod {
        m.push_str(&format!(" --chmod={cm}"));
    }
    for src in sources {
        m.push(' ');
        m.push_str(src);
    }
    m.push(' ');
    m.push_str(dest);
    m.push_str(" # buildkit");
    m
}
