//! The config the classic builder writes (moby's `image.Image`, graphdriver image store).

use std::collections::BTreeMap;

use layerproof_dockerfile::{BuilderKind, ContainerConfig, ImageModel};

use super::gojson::GoJson;
use super::{
    ConfigInputs, EMPTY_LAYER_DIFF_ID, Error, GoTime, RunValues, created_by_lines, image_id,
};

/// The classic builder's default shell (Linux).
const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// moby's `container.Config` as the classic builder writes it.
fn moby_config(
    c: &ContainerConfig,
    hostname: &str,
    cmd: Option<&[String]>,
    image: &str,
    labels_map: bool,
) -> GoJson {
    let opt = |v: Option<&[String]>| {
        v.map_or(GoJson::Null, |v| {
            GoJson::Array(v.iter().map(|s| GoJson::str(s)).collect())
        })
    };
    let mut f: Vec<(&'static str, GoJson)> = vec![
        ("Hostname", GoJson::str(hostname)),
        ("Domainname", GoJson::str("")),
        ("User", GoJson::str(&c.user)),
        ("AttachStdin", GoJson::Bool(false)),
        ("AttachStdout", GoJson::Bool(false)),
        ("AttachStderr", GoJson::Bool(false)),
    ];
    if !c.exposed_ports.is_empty() {
        f.push(("ExposedPorts", GoJson::set(&c.exposed_ports)));
    }
    f.extend([
        ("Tty", GoJson::Bool(false)),
        ("OpenStdin", GoJson::Bool(false)),
        ("StdinOnce", GoJson::Bool(false)),
        (
            "Env",
            if c.env.is_empty() {
                GoJson::Null
            } else {
                GoJson::strs(&c.env)
            },
        ),
        ("Cmd", opt(cmd)),
    ]);
    if let Some(h) = &c.healthcheck {
        f.push(("Healthcheck", GoJson::healthcheck(h)));
    }
    if c.args_escaped {
        f.push(("ArgsEscaped", GoJson::Bool(true)));
    }
    f.extend([
        ("Image", GoJson::str(image)),
        (
            "Volumes",
            if c.volumes.is_empty() {
                GoJson::Null
            } else {
                GoJson::set(&c.volumes)
            },
        ),
        ("WorkingDir", GoJson::str(&c.working_dir)),
        ("Entrypoint", opt(c.entrypoint.as_deref())),
        (
            "OnBuild",
            if c.on_build.is_empty() {
                GoJson::Null
            } else {
                GoJson::strs(&c.on_build)
            },
        ),
        (
            "Labels",
            if c.labels.is_empty() && !labels_map {
                GoJson::Null
            } else {
                GoJson::labels(&c.labels)
            },
        ),
    ]);
    if !c.stop_signal.is_empty() {
        f.push(("StopSignal", GoJson::str(&c.stop_signal)));
    }
    if !c.shell.is_empty() {
        f.push(("Shell", GoJson::strs(&c.shell)));
    }
    GoJson::Struct(f)
}

/// How the classic builder ran a history step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// ADD/COPY: exported without a container (`exportImage`), command is one argument.
    Export,
    /// WORKDIR: committed from a container, command is one argument.
    CommitOneArg,
    /// Every metadata instruction: committed from a container, `"#(nop) "` + the comment.
    CommitNop,
}

fn step_of(m: &ImageModel, index: usize) -> Step {
    match m.layers.iter().find(|l| l.history_index == index) {
        Some(l) if l.instruction == "WORKDIR" => Step::CommitOneArg,
        Some(_) => Step::Export,
        None => Step::CommitNop,
    }
}

/// The container command of a step, recovered from its `created_by` line (which is that
/// command joined with spaces).
fn container_cmd(line: &str, shell: &[String], step: Step) -> Result<Vec<String>, Error> {
    let prefix = shell.join(" ");
    let (marker, split) = match step {
        Step::CommitNop => (" #(nop)  ", true),
        Step::Export | Step::CommitOneArg => (" #(nop) ", false),
    };
    let rest = line
        .strip_prefix(prefix.as_str())
        .and_then(|r| r.strip_prefix(marker))
        .ok_or_else(|| {
            Error::Model(format!(
                "classic history line {line:?} does not start with {:?}",
                format!("{prefix}{marker}")
            ))
        })?;
    let mut cmd = shell.to_vec();
    if split {
        cmd.push("#(nop) ".to_string());
        cmd.push(rest.to_string());
    } else {
        cmd.push(format!("#(nop) {rest}"));
    }
    Ok(cmd)
}

fn history(
    lines: &[String],
    empty: &[bool],
    created: &[GoTime],
    upto: usize,
    oci_order: bool,
) -> Result<GoJson, Error> {
    let mut out = Vec::new();
    // NewHistory(state.maintainer, …): every entry from a MAINTAINER step on carries the
    // maintainer at that time as `author`.
    let mut author: Option<&str> = None;
    for i in 0..=upto {
        if let Some((_, m)) = lines[i].split_once(" #(nop)  MAINTAINER ") {
            author = Some(m);
        }
        let mut e = vec![("created", GoJson::time(&created[i])?)];
        let author = author
            .filter(|a| !a.is_empty())
            .map(|a| ("author", GoJson::str(a)));
        let by = (!lines[i].is_empty()).then(|| ("created_by", GoJson::str(&lines[i])));
        if oci_order {
            e.extend(by.into_iter().chain(author));
        } else {
            e.extend(author.into_iter().chain(by));
        }
        if empty[i] {
            e.push(("empty_layer", GoJson::Bool(true)));
        }
        out.push(GoJson::Struct(e));
    }
    Ok(GoJson::Array(out))
}

/// One classic image: the model's final state, or (for `upto` < last) the image an earlier
/// ADD/COPY step exported.
struct StepImage<'a> {
    config: &'a ContainerConfig,
    upto: usize,
    image: String,
    container: Option<&'a str>,
}

/// The config the classic builder writes: see the module docs of [`super`].
pub(super) fn image(inputs: &ConfigInputs<'_>, run: &RunValues) -> Result<GoJson, Error> {
    let m = inputs.model;
    if m.history.is_empty() {
        return Err(Error::Model(
            "a classic build with no step after FROM is the base image itself".into(),
        ));
    }
    for (i, step) in m.layers.iter().enumerate() {
        if step.instruction != "WORKDIR" && !matches!(inputs.source_hashes.get(i), Some(Some(_))) {
            return Err(Error::MissingRunValue(format!(
                "source hash of {} at {} (classic builder)",
                step.instruction, step.span
            )));
        }
    }
    let lines = created_by_lines(
        m,
        BuilderKind::Classic,
        Some(inputs.engine),
        inputs.source_hashes,
    );
    // A layer whose diff is empty is an empty-layer entry (image.NewChildImage).
    let mut empty: Vec<bool> = m.history.iter().map(|h| h.empty_layer).collect();
    let mut diff_of: BTreeMap<usize, &str> = BTreeMap::new();
    for (step, d) in m.layers.iter().zip(inputs.diff_ids) {
        if d == EMPTY_LAYER_DIFF_ID {
            empty[step.history_index] = true;
        } else {
            diff_of.insert(step.history_index, d);
        }
    }
    let last = m.history.len() - 1;
    let parent = match (&run.parent_image, last) {
        (_, 0) => String::new(),
        (Some(p), _) => p.clone(),
        (None, _) => parent_chain(inputs, run, &lines, &empty, &diff_of, last)?,
    };
    let container = match step_of(m, last) {
        Step::Export => None,
        _ => Some(run.container.as_deref().ok_or_else(|| {
            Error::MissingRunValue(
                "the container ID the last step was committed from (`container`)".into(),
            )
        })?),
    };
    image_at(
        inputs,
        run,
        &lines,
        &empty,
        &diff_of,
        &StepImage {
            config: &m.config,
            upto: last,
            image: parent,
            container,
        },
    )
}

/// `config.Image` of the last step: the ID of the image the step before produced, computed
/// when every earlier step was exported without a container.
fn parent_chain(
    inputs: &ConfigInputs<'_>,
    run: &RunValues,
    lines: &[String],
    empty: &[bool],
    diff_of: &BTreeMap<usize, &str>,
    last: usize,
) -> Result<String, Error> {
    let m = inputs.model;
    if let Some(i) = (0..last).find(|&i| step_of(m, i) != Step::Export) {
        return Err(Error::MissingRunValue(format!(
            "config.Image: history step {i} ({:?}) ran in a container whose ID only the build \
             knows; take config.Image from the published image",
            m.history[i].created_by
        )));
    }
    // Before any step, the run config of a scratch stage is Env=[PATH] and nothing else.
    let initial = ContainerConfig {
        env: m
            .config
            .env
            .iter()
            .filter(|e| e.starts_with("PATH="))
            .take(1)
            .cloned()
            .collect(),
        ..ContainerConfig::default()
    };
    let mut id = String::new();
    for i in 0..last {
        let j = image_at(
            inputs,
            run,
            lines,
            empty,
            diff_of,
            &StepImage {
                config: &initial,
                upto: i,
                image: id.clone(),
                container: None,
            },
        )?;
        id = image_id(inputs.engine.encoder().encode(&j).as_bytes());
    }
    Ok(id)
}

fn image_at(
    inputs: &ConfigInputs<'_>,
    run: &RunValues,
    lines: &[String],
    empty: &[bool],
    diff_of: &BTreeMap<usize, &str>,
    img: &StepImage<'_>,
) -> Result<GoJson, Error> {
    let m = inputs.model;
    let step = step_of(m, img.upto);
    let shell: Vec<String> = if img.config.shell.is_empty() {
        DEFAULT_SHELL.iter().map(|s| s.to_string()).collect()
    } else {
        img.config.shell.clone()
    };
    let cmd = container_cmd(&lines[img.upto], &shell, step)?;
    let committed = step != Step::Export;
    let hostname: String = match img.container {
        Some(c) if committed => c.chars().take(12).collect(),
        _ => String::new(),
    };
    let config = moby_config(img.config, "", img.config.cmd.as_deref(), &img.image, false);
    let container_config = moby_config(img.config, &hostname, Some(&cmd), &img.image, committed);
    let diff_ids: Vec<GoJson> = (0..=img.upto)
        .filter_map(|i| diff_of.get(&i).map(|d| GoJson::str(d)))
        .collect();
    let mut rootfs = vec![("type", GoJson::str("layers"))];
    if !diff_ids.is_empty() {
        rootfs.push(("diff_ids", GoJson::Array(diff_ids)));
    }
    let created = if img.upto == m.history.len() - 1 {
        run.created.unwrap_or(run.history_created[img.upto])
    } else {
        run.history_created[img.upto]
    };
    let mut top: BTreeMap<&'static str, GoJson> = BTreeMap::new();
    top.insert("architecture", GoJson::str(&m.architecture));
    top.insert("os", GoJson::str(&m.os));
    if !m.variant.is_empty() {
        top.insert("variant", GoJson::str(&m.variant));
    }
    if !m.author.is_empty() && img.upto == m.history.len() - 1 {
        top.insert("author", GoJson::str(&m.author));
    }
    top.insert("config", config);
    if let (true, Some(c)) = (committed, img.container) {
        top.insert("container", GoJson::str(c));
    }
    top.insert("container_config", container_config);
    top.insert("created", GoJson::time(&created)?);
    if !run.docker_version.is_empty() {
        top.insert("docker_version", GoJson::str(&run.docker_version));
    }
    top.insert(
        "history",
        history(
            lines,
            empty,
            &run.history_created,
            img.upto,
            inputs.engine.classic_oci_history(),
        )?,
    );
    top.insert("rootfs", GoJson::Struct(rootfs));
    Ok(GoJson::Struct(top.into_iter().collect()))
}
