//! Typed instructions, modelled on BuildKit's
//! `frontend/dockerfile/instructions/parse.go` and `bflag.go`.

use serde::Serialize;

use super::parser::{RawFile, RawInstruction};
use super::{Error, Span, Warning, gocompat};

/// A parsed Dockerfile: global `ARG`s and stages. Nothing is expanded yet.
#[derive(Debug, Clone, Serialize)]
pub struct Dockerfile {
    /// The escape token (`\` or `` ` ``).
    pub escape: char,
    /// `# syntax=` directive, if any (recorded, not acted on).
    pub syntax: Option<String>,
    /// Parser warnings.
    pub warnings: Vec<Warning>,
    /// `ARG`s before the first `FROM`.
    pub meta_args: Vec<Instruction>,
    /// The stages in order.
    pub stages: Vec<Stage>,
}

/// A `FROM` and the instructions after it.
#[derive(Debug, Clone, Serialize)]
pub struct Stage {
    /// The base name as written (before expansion).
    pub base: String,
    /// `AS name`, lower-cased.
    pub name: Option<String>,
    /// `--platform=` as written.
    pub platform: Option<String>,
    /// The `FROM` line.
    pub span: Span,
    /// The instructions of this stage.
    pub instructions: Vec<Instruction>,
}

/// One typed instruction.
#[derive(Debug, Clone, Serialize)]
pub struct Instruction {
    /// Where it is.
    pub span: Span,
    /// The logical source line.
    pub original: String,
    /// What it is.
    pub kind: Kind,
}

/// `KEY=value` of ENV/LABEL.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KeyValue {
    /// Key (unexpanded).
    pub key: String,
    /// Value (unexpanded).
    pub value: String,
    /// Written in the legacy `KEY value` form.
    pub legacy: bool,
}

/// One `ARG` definition.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ArgDef {
    /// Name.
    pub key: String,
    /// Default value, unexpanded.
    pub default: Option<String>,
}

/// Arguments of a shell-dependent instruction (RUN/CMD/ENTRYPOINT).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CommandLine {
    /// Exec form: the array; shell form: one joined string.
    pub args: Vec<String>,
    /// Shell form: to be wrapped with the current SHELL.
    pub prepend_shell: bool,
}

/// ADD/COPY flags and operands.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct CopyArgs {
    /// Sources, unexpanded.
    pub sources: Vec<String>,
    /// Destination, unexpanded.
    pub dest: String,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`.
    pub chmod: Option<String>,
    /// `--from` (COPY only).
    pub from: Option<String>,
    /// `--link`.
    pub link: bool,
    /// `--keep-git-dir` (ADD only).
    pub keep_git_dir: Option<bool>,
    /// `--checksum` (ADD only).
    pub checksum: Option<String>,
    /// `--unpack` (ADD only).
    pub unpack: Option<bool>,
    /// `--exclude` patterns.
    pub exclude: Vec<String>,
    /// `--parents` (COPY only).
    pub parents: bool,
}

/// HEALTHCHECK.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Healthcheck {
    /// `["NONE"]`, `["CMD", ...]` or `["CMD-SHELL", cmd]`.
    pub test: Vec<String>,
    /// ns.
    pub interval: i64,
    /// ns.
    pub timeout: i64,
    /// ns.
    pub start_period: i64,
    /// ns.
    pub start_interval: i64,
    /// Retries.
    pub retries: i64,
}

/// Instruction kinds.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "instruction", rename_all = "UPPERCASE")]
pub enum Kind {
    /// ADD.
    Add(CopyArgs),
    /// COPY.
    Copy(CopyArgs),
    /// ARG.
    Arg {
        /// Definitions.
        args: Vec<ArgDef>,
    },
    /// ENV.
    Env {
        /// Pairs.
        env: Vec<KeyValue>,
    },
    /// LABEL.
    Label {
        /// Pairs.
        labels: Vec<KeyValue>,
    },
    /// CMD.
    Cmd(CommandLine),
    /// ENTRYPOINT.
    Entrypoint(CommandLine),
    /// RUN (always out of scope).
    Run(CommandLine),
    /// SHELL.
    Shell {
        /// Exec-form shell.
        shell: Vec<String>,
    },
    /// WORKDIR.
    Workdir {
        /// Path, unexpanded.
        path: String,
    },
    /// USER.
    User {
        /// User, unexpanded.
        user: String,
    },
    /// EXPOSE.
    Expose {
        /// Ports (sorted as BuildKit's parser does), unexpanded.
        ports: Vec<String>,
    },
    /// VOLUME.
    Volume {
        /// Paths, unexpanded.
        volumes: Vec<String>,
    },
    /// STOPSIGNAL.
    Stopsignal {
        /// Signal, unexpanded.
        signal: String,
    },
    /// HEALTHCHECK.
    Healthcheck(Healthcheck),
    /// ONBUILD: the raw trigger text.
    Onbuild {
        /// Trigger expression.
        expression: String,
    },
    /// MAINTAINER (deprecated; sets `author`).
    Maintainer {
        /// Maintainer.
        maintainer: String,
    },
}

#[derive(Clone, Copy, PartialEq)]
enum FlagType {
    Bool,
    Str,
    Strs,
}

struct Flags<'a> {
    args: &'a [String],
    defs: Vec<(&'static str, FlagType)>,
    used: Vec<(String, Option<String>)>,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [String]) -> Self {
        Flags {
            args,
            defs: Vec::new(),
            used: Vec::new(),
        }
    }
    fn def(&mut self, name: &'static str, t: FlagType) {
        self.defs.push((name, t));
    }
    /// Go `BFlags.Parse`.
    fn parse(&mut self) -> Result<(), String> {
        for a in self.args {
            if a == "--" {
                return Ok(());
            }
            let Some(stripped) = a.strip_prefix("--") else {
                return Err(format!("arg should start with -- : {a}"));
            };
            let (name, value) = match stripped.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (stripped, None),
            };
            let flag_name = format!("--{name}");
            let Some(&(_, t)) = self.defs.iter().find(|(n, _)| *n == name) else {
                return Err(format!("unknown flag: {flag_name}"));
            };
            if t != FlagType::Strs && self.used.iter().any(|(n, _)| n == name) {
                return Err(format!("duplicate flag specified: {flag_name}"));
            }
            let v = match t {
                FlagType::Bool => {
                    if value.as_deref() == Some("") {
                        return Err(format!("missing a value on flag: {flag_name}"));
                    }
                    match value.as_deref().map(gocompat::to_lower).as_deref() {
                        None | Some("true") => "true".to_string(),
                        Some("false") => "false".to_string(),
                        Some(_) => {
                            return Err(format!(
                                "expecting boolean value for flag {flag_name}, not: {}",
                                value.unwrap_or_default()
                            ));
                        }
                    }
                }
                FlagType::Str | FlagType::Strs => match value {
                    None => return Err(format!("missing a value on flag: {flag_name}")),
                    Some(v) => v,
                },
            };
            self.used.push((name.to_string(), Some(v)));
        }
        Ok(())
    }
    fn string(&self, name: &str) -> Option<String> {
        self.used
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    }
    fn strings(&self, name: &str) -> Vec<String> {
        self.used
            .iter()
            .filter(|(n, _)| n == name)
            .filter_map(|(_, v)| v.clone())
            .collect()
    }
    fn boolean(&self, name: &str) -> Option<bool> {
        self.string(name).map(|v| v == "true")
    }
}

/// Types the raw instructions and groups them into stages.
pub fn type_file(raw: RawFile) -> Result<Dockerfile, Error> {
    let mut meta_args = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for r in raw.instructions {
        let span = r.span;
        let kw = gocompat::to_lower(&r.keyword);
        if kw == "from" {
            stages.push(parse_from(&r)?);
            continue;
        }
        let ins = parse_instruction(&r)?;
        match stages.last_mut() {
            None => match ins.kind {
                Kind::Arg { .. } => meta_args.push(ins),
                _ => {
                    return Err(Error::Instruction {
                        span,
                        message: "no build stage in current context".to_string(),
                    });
                }
            },
            Some(st) => st.instructions.push(ins),
        }
    }
    if stages.is_empty() {
        return Err(Error::Instruction {
            span: Span {
                start_line: 1,
                end_line: 1,
            },
            message: "dockerfile contains no stages to build".to_string(),
        });
    }
    Ok(Dockerfile {
        escape: raw.escape,
        syntax: raw.syntax,
        warnings: raw.warnings,
        meta_args,
        stages,
    })
}

fn parse_from(r: &RawInstruction) -> Result<Stage, Error> {
    let e = |message: String| Error::Instruction {
        span: r.span,
        message,
    };
    let args = &r.args;
    let name = if args.len() == 3 && args[1].eq_ignore_ascii_case("as") {
        let n = gocompat::to_lower(&args[2]);
        let valid = n.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && n.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
            });
        if !valid {
            return Err(e(format!(
                "invalid name for build stage: {}, name can't start with a number or contain symbols",
                gocompat::quote(&args[2])
            )));
        }
        Some(n)
    } else if args.len() != 1 {
        return Err(e("FROM requires either one or three arguments".to_string()));
    } else {
        None
    };
    let mut flags = Flags::new(&r.flags);
    flags.def("platform", FlagType::Str);
    flags.parse().map_err(e)?;
    Ok(Stage {
        base: args[0].clone(),
        name,
        platform: flags.string("platform"),
        span: r.span,
        instructions: Vec::new(),
    })
}

fn kvs(args: &[String], cmd: &str) -> Result<Vec<KeyValue>, String> {
    if args.is_empty() {
        return Err(format!("{cmd} requires at least one argument"));
    }
    if !args.len().is_multiple_of(3) {
        return Err(format!("Bad input to {cmd}, too many arguments"));
    }
    let mut out = Vec::new();
    for c in args.chunks(3) {
        if c[0].is_empty() {
            return Err(format!("{cmd} names can not be blank"));
        }
        out.push(KeyValue {
            key: c[0].clone(),
            value: c[1].clone(),
            legacy: c[2].is_empty(),
        });
    }
    Ok(out)
}

fn cmdline(r: &RawInstruction) -> CommandLine {
    let args = if r.args.is_empty() {
        Vec::new()
    } else if r.json {
        r.args.clone()
    } else {
        vec![r.args.join(" ")]
    };
    CommandLine {
        args,
        prepend_shell: !r.json,
    }
}

/// An [`Error::Instruction`] at `r`.
fn refuse(r: &RawInstruction, message: impl Into<String>) -> Error {
    Error::Instruction {
        span: r.span,
        message: message.into(),
    }
}

/// The one argument of `r`, or Docker's error naming `name`.
fn exactly_one(r: &RawInstruction, name: &str) -> Result<String, Error> {
    match r.args.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(refuse(r, format!("{name} requires exactly one argument"))),
    }
}

/// `r`'s arguments, or Docker's error naming `name` when there are none.
fn at_least_one<'r>(r: &'r RawInstruction, name: &str) -> Result<&'r [String], Error> {
    if r.args.is_empty() {
        return Err(refuse(r, format!("{name} requires at least one argument")));
    }
    Ok(&r.args)
}

/// Types one instruction after FROM. Each check comes in the order the builders make it, so
/// the first error is the one Docker reports.
fn parse_instruction(r: &RawInstruction) -> Result<Instruction, Error> {
    let e = |message: String| refuse(r, message);
    let kw = gocompat::to_lower(&r.keyword);
    let args = &r.args;
    let mut flags = Flags::new(&r.flags);
    let kind = match kw.as_str() {
        "env" => {
            flags.parse().map_err(e)?;
            Kind::Env {
                env: kvs(args, "ENV").map_err(e)?,
            }
        }
        "label" => {
            flags.parse().map_err(e)?;
            Kind::Label {
                labels: kvs(args, "LABEL").map_err(e)?,
            }
        }
        "maintainer" => {
            let m = exactly_one(r, "MAINTAINER")?;
            flags.parse().map_err(e)?;
            Kind::Maintainer { maintainer: m }
        }
        "add" => Kind::Add(copy_args(r, "ADD", &mut flags)?),
        "copy" => Kind::Copy(copy_args(r, "COPY", &mut flags)?),
        "onbuild" => onbuild(r, &mut flags)?,
        "workdir" => {
            let p = exactly_one(r, "WORKDIR")?;
            flags.parse().map_err(e)?;
            Kind::Workdir { path: p }
        }
        "run" => {
            // RUN's own flags (--mount, --network, ...) are not modelled: RUN is out of scope.
            Kind::Run(cmdline(r))
        }
        "cmd" => {
            flags.parse().map_err(e)?;
            Kind::Cmd(cmdline(r))
        }
        "entrypoint" => {
            flags.parse().map_err(e)?;
            Kind::Entrypoint(cmdline(r))
        }
        "healthcheck" => Kind::Healthcheck(healthcheck(r, &mut flags)?),
        "expose" => {
            let mut ports = at_least_one(r, "EXPOSE")?.to_vec();
            flags.parse().map_err(e)?;
            ports.sort();
            Kind::Expose { ports }
        }
        "user" => {
            let u = exactly_one(r, "USER")?;
            flags.parse().map_err(e)?;
            Kind::User { user: u }
        }
        "volume" => {
            let args = at_least_one(r, "VOLUME")?;
            flags.parse().map_err(e)?;
            let mut volumes = Vec::new();
            for v in args {
                let v = v.trim();
                if v.is_empty() {
                    return Err(e("VOLUME specified can not be an empty string".to_string()));
                }
                volumes.push(v.to_string());
            }
            Kind::Volume { volumes }
        }
        "stopsignal" => Kind::Stopsignal {
            signal: exactly_one(r, "STOPSIGNAL")?,
        },
        "arg" => Kind::Arg { args: arg_defs(r)? },
        "shell" => {
            flags.parse().map_err(e)?;
            let args = at_least_one(r, "SHELL")?;
            if !r.json {
                return Err(e(
                    "SHELL requires the arguments to be in JSON form".to_string()
                ));
            }
            Kind::Shell {
                shell: args.to_vec(),
            }
        }
        _ => {
            return Err(e(format!("unknown instruction: {}", r.keyword)));
        }
    };
    Ok(Instruction {
        span: r.span,
        original: r.original.clone(),
        kind,
    })
}

/// ADD or COPY (`up`): sources, destination and the flags each accepts.
fn copy_args(r: &RawInstruction, up: &str, flags: &mut Flags<'_>) -> Result<CopyArgs, Error> {
    let args = &r.args;
    if args.len() < 2 {
        return Err(refuse(
            r,
            format!(
                "{up} requires at least two arguments, but only one was provided. Destination could not be determined"
            ),
        ));
    }
    flags.def("chown", FlagType::Str);
    flags.def("chmod", FlagType::Str);
    flags.def("link", FlagType::Bool);
    flags.def("exclude", FlagType::Strs);
    if up == "ADD" {
        flags.def("keep-git-dir", FlagType::Bool);
        flags.def("checksum", FlagType::Str);
        flags.def("unpack", FlagType::Bool);
    } else {
        flags.def("from", FlagType::Str);
        flags.def("parents", FlagType::Bool);
    }
    flags.parse().map_err(|m| refuse(r, m))?;
    let dest = args[args.len() - 1].clone();
    if super::parser::heredoc_name(&dest).is_some() {
        return Err(refuse(
            r,
            format!("{up} cannot accept a heredoc as a destination"),
        ));
    }
    Ok(CopyArgs {
        sources: args[..args.len() - 1].to_vec(),
        dest,
        chown: flags.string("chown").filter(|s| !s.is_empty()),
        chmod: flags.string("chmod").filter(|s| !s.is_empty()),
        from: flags.string("from").filter(|s| !s.is_empty()),
        link: flags.boolean("link").unwrap_or(false),
        keep_git_dir: flags.boolean("keep-git-dir"),
        checksum: flags.string("checksum").filter(|s| !s.is_empty()),
        unpack: flags.boolean("unpack"),
        exclude: flags.strings("exclude"),
        parents: flags.boolean("parents").unwrap_or(false),
    })
}

/// ONBUILD: the trigger is kept as written (after the keyword); ONBUILD, MAINTAINER and FROM
/// are refused as triggers.
fn onbuild(r: &RawInstruction, flags: &mut Flags<'_>) -> Result<Kind, Error> {
    let args = at_least_one(r, "ONBUILD")?;
    flags.parse().map_err(|m| refuse(r, m))?;
    let trig = gocompat::to_upper(args[0].trim());
    match trig.as_str() {
        "ONBUILD" => {
            return Err(refuse(
                r,
                "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
            ));
        }
        "MAINTAINER" | "FROM" => {
            return Err(refuse(
                r,
                format!("{trig} isn't allowed as an ONBUILD trigger"),
            ));
        }
        _ => {}
    }
    // (?i)^\s*ONBUILD\s*
    let o = r
        .original
        .trim_start_matches(['\t', '\n', '\u{c}', '\r', ' ']);
    let expr = if o.len() >= 7 && o.is_char_boundary(7) && o[..7].eq_ignore_ascii_case("onbuild") {
        o[7..].trim_start_matches(['\t', '\n', '\u{c}', '\r', ' '])
    } else {
        o
    };
    Ok(Kind::Onbuild {
        expression: expr.to_string(),
    })
}

/// HEALTHCHECK NONE, or CMD with its durations (ns; zero or at least 1ms) and retries.
fn healthcheck(r: &RawInstruction, flags: &mut Flags<'_>) -> Result<Healthcheck, Error> {
    let e = |message: String| refuse(r, message);
    let args = at_least_one(r, "HEALTHCHECK")?;
    let typ = gocompat::to_upper(&args[0]);
    let rest = &args[1..];
    if typ == "NONE" {
        if !rest.is_empty() {
            return Err(e("HEALTHCHECK NONE takes no arguments".to_string()));
        }
        return Ok(Healthcheck {
            test: vec![typ],
            interval: 0,
            timeout: 0,
            start_period: 0,
            start_interval: 0,
            retries: 0,
        });
    }
    for f in [
        "interval",
        "timeout",
        "start-period",
        "start-interval",
        "retries",
    ] {
        flags.def(f, FlagType::Str);
    }
    flags.parse().map_err(e)?;
    if typ != "CMD" {
        return Err(e(format!(
            "Unknown type \"{typ}\" in HEALTHCHECK (try CMD)"
        )));
    }
    let cmd: Vec<String> = if rest.is_empty() {
        Vec::new()
    } else if r.json {
        rest.to_vec()
    } else {
        vec![rest.join(" ")]
    };
    if cmd.is_empty() {
        return Err(e("Missing command after HEALTHCHECK CMD".to_string()));
    }
    let mut test = vec![if r.json {
        "CMD".to_string()
    } else {
        "CMD-SHELL".to_string()
    }];
    test.extend(cmd);
    let dur = |name: &str| -> Result<i64, Error> {
        let Some(v) = flags.string(name).filter(|v| !v.is_empty()) else {
            return Ok(0);
        };
        let d = gocompat::parse_duration(&v).map_err(e)?;
        if d == 0 {
            return Ok(0);
        }
        if d < 1_000_000 {
            return Err(e(format!("Interval \"{name}\" cannot be less than 1ms")));
        }
        Ok(d)
    };
    let retries = match flags.string("retries").filter(|v| !v.is_empty()) {
        None => 0,
        Some(v) => {
            let n: i64 = v
                .parse::<i32>()
                .map_err(|_| {
                    e(format!(
                        "strconv.ParseInt: parsing {}: invalid syntax",
                        gocompat::quote(&v)
                    ))
                })?
                .into();
            if n < 0 {
                return Err(e(format!("--retries cannot be negative ({n})")));
            }
            n
        }
    };
    Ok(Healthcheck {
        test,
        interval: dur("interval")?,
        timeout: dur("timeout")?,
        start_period: dur("start-period")?,
        start_interval: dur("start-interval")?,
        retries,
    })
}

/// ARG's `NAME[=default]` words; a blank name is refused.
fn arg_defs(r: &RawInstruction) -> Result<Vec<ArgDef>, Error> {
    let mut defs = Vec::new();
    for a in at_least_one(r, "ARG")? {
        match a.split_once('=') {
            Some((k, v)) => {
                if k.is_empty() {
                    return Err(refuse(r, "ARG names can not be blank"));
                }
                defs.push(ArgDef {
                    key: k.to_string(),
                    default: Some(v.to_string()),
                });
            }
            None => defs.push(ArgDef {
                key: a.clone(),
                default: None,
            }),
        }
    }
    Ok(defs)
}
