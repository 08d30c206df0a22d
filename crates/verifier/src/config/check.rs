//! A published config compared with the model, field by field.

use layerproof_dockerfile::SOURCE_HASH_PLACEHOLDER;
use layerproof_dockerfile::{BuilderKind, ContainerConfig, ImageModel};
use serde::Serialize;
use serde_json::Value;

use super::builder::{BuilderMark, builder_of};
use super::gojson::GoJson;
use super::{Engine, created_by_lines};

/// The outcome of one field's check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum CheckStatus {
    /// Same value (null, absent and empty count as the same).
    Match,
    /// Different values.
    Differ,
    /// Not compared; the published value is only reported.
    NotChecked {
        /// Why (run-dependent, or not known on our side).
        reason: String,
    },
}

/// One field of a published config compared with the model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConfigCheck {
    /// JSON path of the field (`config.Env`, `history[1].created_by`, `rootfs.diff_ids`).
    pub field: String,
    /// What the model says (absent when nothing is expected, e.g. a run-dependent field).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected: Option<Value>,
    /// What the published config says (absent when the field is absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub published: Option<Value>,
    /// The verdict for this field.
    #[serde(flatten)]
    pub status: CheckStatus,
}

/// What [`check_config`] knows besides the model.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions<'a> {
    /// The builder the model was evaluated for; `None`: the one [`builder_of`] finds in the
    /// published config (BuildKit when it finds none, as [`BuilderMark::assumed`]).
    pub builder: Option<BuilderKind>,
    /// Classic: source hash of each `model.layers` entry, where computed (see
    /// [`crate::classic_hash`]). Without it the rest of the ADD/COPY line is still checked.
    pub source_hashes: &'a [Option<String>],
    /// The rebuilt diff_ids, one per `model.layers` entry, to compare value by value.
    pub diff_ids: Option<&'a [String]>,
}

/// Null, absent, `""`, `false`, `[]` and `{}` all mean "unset".
fn unset(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.is_empty(),
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(Value::Number(_)) => false,
    }
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    (unset(a) && unset(b)) || a == b
}

/// The model's `config` fields as JSON values, keyed by Docker's field names, each encoded as
/// the writers encode it.
fn expected_config_fields(c: &ContainerConfig) -> Vec<(&'static str, Value)> {
    let opt = |v: &Option<Vec<String>>| v.as_deref().map_or(GoJson::Null, GoJson::strs);
    [
        ("User", GoJson::str(&c.user)),
        ("ExposedPorts", GoJson::set(&c.exposed_ports)),
        ("Env", GoJson::strs(&c.env)),
        ("Cmd", opt(&c.cmd)),
        ("Entrypoint", opt(&c.entrypoint)),
        ("WorkingDir", GoJson::str(&c.working_dir)),
        ("Labels", GoJson::labels(&c.labels)),
        ("Volumes", GoJson::set(&c.volumes)),
        ("StopSignal", GoJson::str(&c.stop_signal)),
        (
            "Healthcheck",
            c.healthcheck
                .as_ref()
                .map_or(GoJson::Null, GoJson::healthcheck),
        ),
        ("OnBuild", GoJson::strs(&c.on_build)),
        ("Shell", GoJson::strs(&c.shell)),
        ("ArgsEscaped", GoJson::Bool(c.args_escaped)),
    ]
    .into_iter()
    .map(|(k, v)| (k, v.to_value()))
    .collect()
}

/// The checks of one config, in the order they are made.
struct Checks(Vec<ConfigCheck>);

impl Checks {
    /// `expected` against `published`: match when equal or both unset.
    fn compare(&mut self, field: String, expected: Value, published: Option<&Value>) {
        let status = if same(Some(&expected), published) {
            CheckStatus::Match
        } else {
            CheckStatus::Differ
        };
        self.0.push(ConfigCheck {
            field,
            expected: Some(expected),
            published: published.cloned(),
            status,
        });
    }

    /// A published value reported, not compared.
    fn report(&mut self, field: String, published: Option<&Value>, reason: &str) {
        self.0.push(ConfigCheck {
            field,
            expected: None,
            published: published.cloned(),
            status: CheckStatus::NotChecked {
                reason: reason.to_string(),
            },
        });
    }
}

/// Compares a published config with the model, field by field. Never fails: a config that is
/// not JSON gives one `config` check that differs.
///
/// Compared: `os`, `architecture`, `variant`, `author`, the `config` fields (`User`,
/// `ExposedPorts`, `Env`, `Cmd`, `Entrypoint`, `WorkingDir`, `Labels`, `Volumes`,
/// `StopSignal`, `Healthcheck`, `OnBuild`, `Shell`, `ArgsEscaped`), the number of history
/// entries and each entry's `created_by` (classic: with the source hash when known, else the
/// rest of the line), `empty_layer` and `comment`, and the number of `rootfs.diff_ids` (and
/// their values when [`CheckOptions::diff_ids`] is given). Reported only: the run-dependent
/// fields of the module docs.
pub fn check_config(
    published: &[u8],
    expected: &ImageModel,
    opts: &CheckOptions<'_>,
) -> Vec<ConfigCheck> {
    let v: Value = match serde_json::from_slice(published) {
        Ok(v @ Value::Object(_)) => v,
        Ok(_) | Err(_) => {
            return vec![ConfigCheck {
                field: "config".into(),
                expected: Some(Value::String("a JSON object (image config)".into())),
                published: Some(Value::String(
                    String::from_utf8_lossy(&published[..published.len().min(80)]).into_owned(),
                )),
                status: CheckStatus::Differ,
            }];
        }
    };
    let mut out = Checks(Vec::new());
    for (k, e) in [
        ("os", &expected.os),
        ("architecture", &expected.architecture),
        ("variant", &expected.variant),
        ("author", &expected.author),
    ] {
        out.compare(k.to_string(), Value::String(e.clone()), v.get(k));
    }
    let pc = v.get("config");
    for (k, e) in expected_config_fields(&expected.config) {
        out.compare(format!("config.{k}"), e, pc.and_then(|c| c.get(k)));
    }
    check_history(&mut out, &v, expected, opts);
    check_diff_ids(&mut out, &v, expected, opts.diff_ids);
    report_run_dependent(&mut out, &v);
    out.0
}

/// The number of history entries, and each entry's `created_by`, `empty_layer` and `comment`.
fn check_history(out: &mut Checks, v: &Value, expected: &ImageModel, opts: &CheckOptions<'_>) {
    let builder = opts
        .builder
        .unwrap_or_else(|| builder_of(v).unwrap_or_else(BuilderMark::assumed).kind);
    let engine = v["docker_version"]
        .as_str()
        .and_then(Engine::from_docker_version);
    let ph: &[Value] = v["history"].as_array().map_or(&[], Vec::as_slice);
    out.compare(
        "history.length".into(),
        Value::from(expected.history.len()),
        Some(&Value::from(ph.len())),
    );
    let lines = created_by_lines(expected, builder, engine, opts.source_hashes);
    for (i, (h, line)) in expected.history.iter().zip(&lines).enumerate() {
        let p = ph.get(i);
        let pcb = p.and_then(|p| p.get("created_by"));
        let field = format!("history[{i}].created_by");
        match line.split_once(SOURCE_HASH_PLACEHOLDER) {
            Some((pre, post)) => {
                let ok = pcb.and_then(Value::as_str).is_some_and(|s| {
                    s.len() >= pre.len() + post.len() && s.starts_with(pre) && s.ends_with(post)
                });
                out.0.push(ConfigCheck {
                    field,
                    expected: Some(Value::String(line.clone())),
                    published: pcb.cloned(),
                    status: if ok {
                        CheckStatus::NotChecked {
                            reason: "the source hash was not computed; the rest of the line \
                                     matches"
                                .into(),
                        }
                    } else {
                        CheckStatus::Differ
                    },
                });
            }
            None => out.compare(field, Value::String(line.clone()), pcb),
        }
        out.compare(
            format!("history[{i}].empty_layer"),
            Value::Bool(h.empty_layer),
            p.and_then(|p| p.get("empty_layer")),
        );
        out.compare(
            format!("history[{i}].comment"),
            h.comment.clone().map_or(Value::Null, Value::String),
            p.and_then(|p| p.get("comment")),
        );
        out.report(
            format!("history[{i}].created"),
            p.and_then(|p| p.get("created")),
            "run-dependent: the wall clock of the build step",
        );
    }
}

/// The number of `rootfs.diff_ids`, and their values when the rebuilt ones are given.
fn check_diff_ids(out: &mut Checks, v: &Value, expected: &ImageModel, ours: Option<&[String]>) {
    let pd: &[Value] = v["rootfs"]["diff_ids"]
        .as_array()
        .map_or(&[], Vec::as_slice);
    let layers = expected.history.iter().filter(|h| !h.empty_layer).count();
    out.compare(
        "rootfs.diff_ids.length".into(),
        Value::from(layers),
        Some(&Value::from(pd.len())),
    );
    for (i, d) in ours.into_iter().flatten().enumerate() {
        out.compare(
            format!("rootfs.diff_ids[{i}]"),
            Value::String(d.clone()),
            pd.get(i),
        );
    }
}

/// The run-dependent fields that are present, reported with what decides them.
fn report_run_dependent(out: &mut Checks, v: &Value) {
    for (field, reason) in [
        (
            "created",
            "run-dependent: the wall clock of the last build step",
        ),
        (
            "docker_version",
            "run-dependent: the version string of the daemon that built it",
        ),
        (
            "container",
            "run-dependent: ID of the container the last step was committed from",
        ),
        (
            "container_config",
            "run-dependent: the run config with the last step's command; Hostname is the build \
             container's ID",
        ),
    ] {
        if let Some(p) = v.get(field) {
            out.report(field.to_string(), Some(p), reason);
        }
    }
    if let Some(p) = v.get("config").and_then(|c| c.get("Image")) {
        out.report(
            "config.Image".into(),
            Some(p),
            "run-dependent: ID of the previous build step's image",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GoTime, RunValues};

    proptest::proptest! {
        #[test]
        fn parsing_and_checking_never_panic(s in "(?s).{0,64}", bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = GoTime::parse(&s);
            let _ = RunValues::from_published(&bytes);
            let _ = check_config(&bytes, &ImageModel::default(), &CheckOptions::default());
            let _ = crate::config::detect_builder(&bytes);
            let _ = Engine::from_docker_version(&s);
        }

        #[test]
        fn checking_config_shaped_json_never_panics(
            hist in proptest::collection::vec("[ -~]{0,20}", 0..4),
            env in proptest::collection::vec("[ -~]{0,12}", 0..3),
        ) {
            let v = serde_json::json!({
                "config": {"Env": env, "Cmd": 3, "Labels": "x"},
                "history": hist.iter().map(|h| serde_json::json!({"created_by": h, "created": h})).collect::<Vec<_>>(),
                "rootfs": {"diff_ids": {"a": 1}},
                "docker_version": "20.10.1",
            });
            let bytes = serde_json::to_vec(&v).unwrap();
            let mut m = ImageModel::default();
            m.history.push(layerproof_dockerfile::HistoryEntry {
                created_by: format!("/bin/sh -c #(nop) ADD {SOURCE_HASH_PLACEHOLDER} in / "),
                comment: None,
                empty_layer: false,
            });
            let _ = check_config(&bytes, &m, &CheckOptions::default());
            let _ = RunValues::from_published(&bytes);
        }
    }

    #[test]
    fn unset_values_compare_equal() {
        assert!(same(None, Some(&Value::Null)));
        assert!(same(Some(&serde_json::json!([])), None));
        assert!(same(Some(&serde_json::json!({})), Some(&Value::Null)));
        assert!(!same(Some(&serde_json::json!(["a"])), None));
    }
}
