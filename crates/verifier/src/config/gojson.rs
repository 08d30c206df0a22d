//! JSON exactly as Go's `encoding/json` writes it: objects in the order given (struct order, or
//! the sorted keys of a map), Go's string escapes, and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use layerproof_dockerfile::HealthConfig;
use serde_json::Value;

use super::{Error, GoTime};

/// A JSON value to be written the way Go writes it; objects keep the order given.
#[derive(Debug, Clone)]
pub(super) enum GoJson {
    Null,
    Bool(bool),
    Int(i64),
    String(String),
    Array(Vec<GoJson>),
    /// A Go struct: fields in declaration order.
    Struct(Vec<(&'static str, GoJson)>),
    /// A Go map: keys sorted (by the caller's `BTreeMap`/`BTreeSet`).
    Map(Vec<(String, GoJson)>),
}

impl GoJson {
    pub(super) fn str(s: &str) -> GoJson {
        GoJson::String(s.to_string())
    }

    pub(super) fn strs(v: &[String]) -> GoJson {
        GoJson::Array(v.iter().map(|s| GoJson::str(s)).collect())
    }

    /// A Go `map[string]struct{}` (`ExposedPorts`, `Volumes`).
    pub(super) fn set(v: &BTreeSet<String>) -> GoJson {
        GoJson::Map(
            v.iter()
                .map(|k| (k.clone(), GoJson::Struct(Vec::new())))
                .collect(),
        )
    }

    /// A Go `map[string]string` (`Labels`).
    pub(super) fn labels(v: &BTreeMap<String, String>) -> GoJson {
        GoJson::Map(v.iter().map(|(k, x)| (k.clone(), GoJson::str(x))).collect())
    }

    /// A `time.Time`.
    pub(super) fn time(t: &GoTime) -> Result<GoJson, Error> {
        Ok(GoJson::String(t.format()?))
    }

    /// moby's `HealthConfig`: every field `omitempty`. The writer and the checker both read
    /// this one list of fields.
    pub(super) fn healthcheck(h: &HealthConfig) -> GoJson {
        let mut f = Vec::new();
        if !h.test.is_empty() {
            f.push(("Test", GoJson::strs(&h.test)));
        }
        for (k, v) in [
            ("Interval", h.interval),
            ("Timeout", h.timeout),
            ("StartPeriod", h.start_period),
            ("StartInterval", h.start_interval),
            ("Retries", h.retries),
        ] {
            if v != 0 {
                f.push((k, GoJson::Int(v)));
            }
        }
        GoJson::Struct(f)
    }

    /// The same value as a `serde_json` value (objects keep their order), for the checker.
    pub(super) fn to_value(&self) -> Value {
        match self {
            GoJson::Null => Value::Null,
            GoJson::Bool(b) => Value::Bool(*b),
            GoJson::Int(i) => Value::from(*i),
            GoJson::String(s) => Value::String(s.clone()),
            GoJson::Array(items) => Value::Array(items.iter().map(GoJson::to_value).collect()),
            GoJson::Struct(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect(),
            ),
            GoJson::Map(fields) => Value::Object(
                fields
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_value()))
                    .collect(),
            ),
        }
    }
}

/// Go's `encoding/json` encoder of one Go version.
#[derive(Debug, Clone, Copy)]
pub(super) struct Encoder {
    /// Go ≥ 1.22 writes `\b` and `\f` short.
    pub(super) short_bf: bool,
}

impl Encoder {
    /// The bytes of `v`.
    pub(super) fn encode(&self, v: &GoJson) -> String {
        let mut out = String::new();
        self.write(v, &mut out);
        out
    }

    fn write(&self, v: &GoJson, out: &mut String) {
        match v {
            GoJson::Null => out.push_str("null"),
            GoJson::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            GoJson::Int(i) => {
                let _ = write!(out, "{i}");
            }
            GoJson::String(s) => self.string(s, out),
            GoJson::Array(items) => {
                out.push('[');
                for (i, it) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write(it, out);
                }
                out.push(']');
            }
            GoJson::Struct(fields) => self.object(fields.iter().map(|(k, v)| (*k, v)), out),
            GoJson::Map(fields) => self.object(fields.iter().map(|(k, v)| (k.as_str(), v)), out),
        }
    }

    /// `{"k":v,…}` in the order given.
    fn object<'a>(&self, fields: impl Iterator<Item = (&'a str, &'a GoJson)>, out: &mut String) {
        out.push('{');
        for (i, (k, it)) in fields.enumerate() {
            if i > 0 {
                out.push(',');
            }
            self.string(k, out);
            out.push(':');
            self.write(it, out);
        }
        out.push('}');
    }

    fn string(&self, s: &str, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        out.push('"');
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\u{8}' if self.short_bf => out.push_str("\\b"),
                '\u{c}' if self.short_bf => out.push_str("\\f"),
                '<' | '>' | '&' | '\u{0}'..='\u{1f}' => {
                    let b = c as u8;
                    out.push_str("\\u00");
                    out.push(HEX[usize::from(b >> 4)] as char);
                    out.push(HEX[usize::from(b & 15)] as char);
                }
                '\u{2028}' => out.push_str("\\u2028"),
                '\u{2029}' => out.push_str("\\u2029"),
                c => out.push(c),
            }
        }
        out.push('"');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_json_escapes() {
        let s = "a\"b\\c\n\t\r<>&\u{8}\u{c}\u{1}\u{7f}\u{2028}é";
        let old = Encoder { short_bf: false }.encode(&GoJson::str(s));
        assert_eq!(
            old,
            r#""a\"b\\c\n\t\r\u003c\u003e\u0026\u0008\u000c\u0001"#.to_string()
                + "\u{7f}\\u2028é\""
        );
        let new = Encoder { short_bf: true }.encode(&GoJson::str(s));
        assert!(new.contains(r"\b\f\u0001"));
    }
}
