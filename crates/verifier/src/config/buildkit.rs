//! The config BuildKit writes inside dockerd (graphdriver image store).

use std::collections::BTreeMap;

use layerproof_dockerfile::BuilderKind;

use super::engine::BuildkitLayout;
use super::gojson::GoJson;
use super::{ConfigInputs, Error, RunValues, created_by_lines};

/// The config BuildKit (inside dockerd) writes: see the module docs of [`super`].
pub(super) fn image(inputs: &ConfigInputs<'_>, run: &RunValues) -> Result<GoJson, Error> {
    let m = inputs.model;
    let layout = inputs.engine.buildkit_layout();
    let c = &m.config;
    let mut cfg: Vec<(&'static str, GoJson)> = Vec::new();
    let nonempty = |v: &Option<Vec<String>>| {
        v.as_ref()
            .filter(|v| !v.is_empty())
            .map(|v| GoJson::strs(v))
    };
    if !c.user.is_empty() {
        cfg.push(("User", GoJson::str(&c.user)));
    }
    if !c.exposed_ports.is_empty() {
        cfg.push(("ExposedPorts", GoJson::set(&c.exposed_ports)));
    }
    if !c.env.is_empty() {
        cfg.push(("Env", GoJson::strs(&c.env)));
    }
    if let Some(e) = nonempty(&c.entrypoint) {
        cfg.push(("Entrypoint", e));
    }
    if let Some(e) = nonempty(&c.cmd) {
        cfg.push(("Cmd", e));
    }
    if !c.volumes.is_empty() {
        cfg.push(("Volumes", GoJson::set(&c.volumes)));
    }
    if !c.working_dir.is_empty() {
        cfg.push(("WorkingDir", GoJson::str(&c.working_dir)));
    }
    if !c.labels.is_empty() {
        cfg.push(("Labels", GoJson::labels(&c.labels)));
    }
    if !c.stop_signal.is_empty() {
        cfg.push(("StopSignal", GoJson::str(&c.stop_signal)));
    }
    let args_escaped = c
        .args_escaped
        .then_some(("ArgsEscaped", GoJson::Bool(true)));
    let health = c
        .healthcheck
        .as_ref()
        .map(|h| ("Healthcheck", GoJson::healthcheck(h)));
    match layout {
        BuildkitLayout::Legacy => cfg.extend(health.into_iter().chain(args_escaped)),
        BuildkitLayout::Oci11 | BuildkitLayout::DockerSpec => {
            cfg.extend(args_escaped.into_iter().chain(health))
        }
    }
    match (layout, c.on_build.is_empty()) {
        (BuildkitLayout::DockerSpec, true) => {}
        (_, true) => cfg.push(("OnBuild", GoJson::Null)),
        (_, false) => cfg.push(("OnBuild", GoJson::strs(&c.on_build))),
    }
    if !c.shell.is_empty() {
        cfg.push(("Shell", GoJson::strs(&c.shell)));
    }

    let lines = created_by_lines(m, BuilderKind::Buildkit, Some(inputs.engine), &[]);
    let mut history = Vec::new();
    for (i, h) in m.history.iter().enumerate() {
        let mut e = vec![("created", GoJson::time(&run.history_created[i])?)];
        if !lines[i].is_empty() {
            e.push(("created_by", GoJson::str(&lines[i])));
        }
        if let Some(cm) = h.comment.as_deref().filter(|c| !c.is_empty()) {
            e.push(("comment", GoJson::str(cm)));
        }
        if h.empty_layer {
            e.push(("empty_layer", GoJson::Bool(true)));
        }
        history.push(GoJson::Struct(e));
    }
    let diff_ids = if inputs.diff_ids.is_empty() {
        GoJson::Null
    } else {
        GoJson::strs(inputs.diff_ids)
    };
    let mut top: BTreeMap<&'static str, GoJson> = BTreeMap::new();
    top.insert("architecture", GoJson::str(&m.architecture));
    top.insert("os", GoJson::str(&m.os));
    if !m.variant.is_empty() {
        top.insert("variant", GoJson::str(&m.variant));
    }
    if !m.author.is_empty() {
        top.insert("author", GoJson::str(&m.author));
    }
    top.insert("config", GoJson::Struct(cfg));
    if !history.is_empty() {
        top.insert("history", GoJson::Array(history));
    }
    let created = run.created.or_else(|| run.history_created.last().copied());
    top.insert(
        "created",
        match created {
            Some(t) => GoJson::time(&t)?,
            None => GoJson::Null,
        },
    );
    top.insert(
        "rootfs",
        GoJson::Struct(vec![
            ("type", GoJson::str("layers")),
            ("diff_ids", diff_ids),
        ]),
    );
    Ok(GoJson::Struct(top.into_iter().collect()))
}
