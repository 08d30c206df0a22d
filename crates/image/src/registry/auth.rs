//! Registry authentication: `WWW-Authenticate` challenges, credentials from Docker's
//! `config.json`, and a secret type that never prints.
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// A credential or token. `Debug` and `Display` print `<redacted>`; only
/// [`Secret::expose`] gives the value, for building a header.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The value (only to put into a request header or form).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Credentials for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// Username and password (basic auth, and for the token endpoint).
    Basic {
        /// The user name (not secret).
        username: String,
        /// The password or personal access token.
        password: Secret,
    },
    /// An OAuth2 refresh token (`identitytoken` in `config.json`).
    IdentityToken(Secret),
}

impl Credentials {
    pub(crate) fn basic_header(&self) -> Option<Secret> {
        match self {
            Credentials::Basic { username, password } => Some(Secret(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD
                    .encode(format!("{username}:{}", password.expose()))
            ))),
            Credentials::IdentityToken(_) => None,
        }
    }
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// `bearer` or `basic` (lowercased).
    pub scheme: String,
    /// Parameters (`realm`, `service`, `scope`, `error`), keys lowercased.
    pub params: BTreeMap<String, String>,
}

/// Parses the first challenge of a `WWW-Authenticate` header value. Returns `None` on garbage.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let s = header.trim();
    let (scheme, mut rest) = match s.find(|c: char| c.is_ascii_whitespace()) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    };
    if scheme.is_empty()
        || !scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    {
        return None;
    }
    let mut params = BTreeMap::new();
    while !rest.is_empty() {
        let eq = rest.find('=')?;
        let key = rest[..eq].trim().to_ascii_lowercase();
        if key.is_empty() || key.contains(|c: char| c.is_ascii_whitespace() || c == ',') {
            // the start of a second challenge: stop here
            break;
        }
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(q) = rest.strip_prefix('"') {
            let mut out = String::new();
            let mut chars = q.char_indices();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            out.push(n);
                        }
                    }
                    '"' => {
                        end = Some(i);
                        break;
                    }
                    c => out.push(c),
                }
            }
            let end = end?;
            value = out;
            rest = q[end + 1..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        params.insert(key, value);
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix(',') {
            rest = r.trim_start();
        } else if !rest.is_empty() {
            return None;
        }
    }
    Some(Challenge {
        scheme: scheme.to_ascii_lowercase(),
        params,
    })
}

/// Where Docker keeps its client config: `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`.
pub fn default_docker_config() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    dirs::home_dir().map(|h| h.join(".docker").join("config.json"))
}

fn normalise_key(key: &str) -> String {
    let k = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let host = k.split('/').next().unwrap_or(k);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

/// Looks up credentials for `registry` (as in a reference: `docker.io`, `host:port`) in the
/// `auths` map of a Docker `config.json`. Credential helpers (`credsStore`, `credHelpers`) are
/// not run. A missing file means no credentials; a malformed file is an error message.
pub fn load_credentials(config: &Path, registry: &str) -> Result<Option<Credentials>, String> {
    let bytes = match std::fs::read(config) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read {}: {e}", config.display())),
    };
    let v: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("cannot parse {}: {e}", config.display()))?;
    let want = normalise_key(registry);
    let Some(auths) = v.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (key, entry) in auths {
        if normalise_key(key) != want {
            continue;
        }
        if let Some(t) = entry
            .get("identitytoken")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
        {
            return Ok(Some(Credentials::IdentityToken(Secret::new(t))));
        }
        if let Some(a) = entry
            .get("auth")
            .and_then(|a| a.as_str())
            .filter(|a| !a.is_empty())
        {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(a.trim())
                .map_err(|_| {
                    format!("{}: auths entry for {key} is not base64", config.display())
                })?;
            let text = String::from_utf8(raw)
                .map_err(|_| format!("{}: auths entry for {key} is not UTF-8", config.display()))?;
            let Some((u, p)) = text.split_once(':') else {
                return Err(format!(
                    "{}: auths entry for {key} lacks ':'",
                    config.display()
                ));
            };
            return Ok(Some(Credentials::Basic {
                username: u.to_string(),
                password: Secret::new(p),
            }));
        }
        if let (Some(u), Some(p)) = (
            entry.get("username").and_then(|u| u.as_str()),
            entry.get("password").and_then(|p| p.as_str()),
        ) {
            return Ok(Some(Credentials::Basic {
                username: u.to_string(),
                password: Secret::new(p),
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull""#,
        )
        .unwrap();
        assert_eq!(c.scheme, "bearer");
        assert_eq!(c.params["realm"], "https://auth.docker.io/token");
        assert_eq!(c.params["scope"], "repository:library/ubuntu:pull");
        let c = parse_challenge(r#"Basic realm="Registry Realm""#).unwrap();
        assert_eq!(c.scheme, "basic");
        let c = parse_challenge(r#"Bearer realm="a\"b", error=insufficient_scope"#).unwrap();
        assert_eq!(c.params["realm"], "a\"b");
        assert_eq!(c.params["error"], "insufficient_scope");
        for bad in ["", "Bearer realm=\"unterminated", "B@d x=y", "Bearer =x"] {
            assert!(
                parse_challenge(bad).is_none_or(|c| !c.params.contains_key("realm")),
                "{bad}"
            );
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let c = Credentials::Basic {
            username: "u".into(),
            password: Secret::new("hunter2"),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", c.basic_header()).contains("aHVudGVyMg"));
    }

    #[test]
    fn config_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config.json");
        std::fs::write(
            &p,
            r#"{"auths":{"https://index.docker.io/v1/":{"auth":"dTpwOnc="},"127.0.0.1:5000":{"identitytoken":"tok"}}}"#,
        )
        .unwrap();
        assert_eq!(
            load_credentials(&p, "docker.io").unwrap(),
            Some(Credentials::Basic {
                username: "u".into(),
                password: Secret::new("p:w")
            })
        );
        assert!(matches!(
            load_credentials(&p, "127.0.0.1:5000").unwrap(),
            Some(Credentials::IdentityToken(_))
        ));
        assert_eq!(load_credentials(&p, "quay.io").unwrap(), None);
        assert_eq!(
            load_credentials(&dir.path().join("nope"), "x").unwrap(),
            None
        );
    }
}
