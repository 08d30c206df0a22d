//! [`Registry`]: one repository on one registry as an [`ImageSource`](crate::ImageSource).
//!
//! Every request goes through one GET loop: authentication (a bearer token per scope, or basic
//! credentials), redirects (Authorization sent only to the registry's own origin), and bounded
//! retries with backoff that honours `Retry-After`. Manifests are size-capped; a blob is
//! downloaded whole, checked against its descriptor's size and digest, and only then read.

use std::collections::HashMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use ureq::http;

use super::auth::{Credentials, Secret, default_docker_config, load_credentials, parse_challenge};
use super::host::{Reach, host_only, is_loopback, may_point, reach, spellings};
use crate::cache::BlobCache;
use crate::digest::{Digest, Hasher, VerifiedReader};
use crate::error::Error;
use crate::limits::Limits;
use crate::manifest::{Descriptor, Manifest, media};
use crate::reference::RegistryRef;
use crate::source::{BlobReader, ImageSource, Root, Transport};

/// How to talk to a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) that may be reached over plain HTTP. Loopback hosts always may.
    pub insecure_registries: Vec<String>,
    /// Docker client config to read `auths` from; `None` = `$DOCKER_CONFIG` or `~/.docker`.
    pub docker_config: Option<PathBuf>,
    /// Credentials to use instead of the config file.
    pub credentials: Option<Credentials>,
    /// Verified-blob cache; `None` spools each blob to an anonymous temporary file.
    pub cache: Option<BlobCache>,
    /// Largest manifest or index accepted (the distribution spec suggests 4 MiB).
    pub max_manifest_bytes: u64,
    /// Attempts per request for 429, 5xx and broken connections.
    pub max_attempts: u32,
    /// First back-off delay; doubled on each retry.
    pub retry_base: Duration,
    /// Longest `Retry-After` honoured (longer ones are clamped).
    pub max_retry_after: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure_registries: Vec::new(),
            docker_config: None,
            credentials: None,
            cache: BlobCache::user_default(),
            max_manifest_bytes: crate::DEFAULT_MAX_MANIFEST,
            max_attempts: 4,
            retry_base: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(60),
        }
    }
}

/// One repository on one registry.
pub struct Registry {
    reference: RegistryRef,
    agent: ureq::Agent,
    base: String,
    opts: RegistryOptions,
    creds: Option<Credentials>,
    /// Authorization header values per scope (bearer) or for the registry (basic).
    auth: Mutex<HashMap<String, Secret>>,
    limits: Limits,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("reference", &self.reference.to_string())
            .field("base", &self.base)
            .field("credentials", &self.creds.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

struct Url<'a> {
    scheme: &'a str,
    host: &'a str,
}

fn split_url(u: &str) -> Option<Url<'_>> {
    let (scheme, rest) = u.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    if host.is_empty() || host.contains('@') {
        return None;
    }
    Some(Url { scheme, host })
}

fn retry_after(resp: &http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    v.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The registry's error message from a response body, passed through `redact` before it is
/// shortened: a secret cut in half by the shortening would no longer match, and half a base64
/// `user:password` decodes to most of the password.
fn error_detail(resp: http::Response<ureq::Body>, redact: impl Fn(String) -> String) -> String {
    let mut body = Vec::new();
    let _ = resp
        .into_body()
        .into_reader()
        .take(4096)
        .read_to_end(&mut body);
    // distribution's {"errors":[{"code","message"}]}
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body)
        && let Some(errs) = v.get("errors").and_then(|e| e.as_array())
    {
        let parts: Vec<String> = errs
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.get("code").and_then(|c| c.as_str()).unwrap_or("?"),
                    e.get("message").and_then(|c| c.as_str()).unwrap_or("")
                )
            })
            .collect();
        return redact(parts.join("; "));
    }
    redact(String::from_utf8_lossy(&body).into_owned())
        .chars()
        .take(200)
        .collect::<String>()
        .trim()
        .to_string()
}

impl Registry {
    /// Prepares a client for `reference`. No request is made yet.
    pub fn new(reference: RegistryRef, opts: RegistryOptions) -> Result<Registry, Error> {
        let host = reference.api_host().to_string();
        let plain = is_loopback(&host)
            || opts.insecure_registries.iter().any(|h| {
                h == &host
                    || h == host_only(&host)
                    || (h == "docker.io" && reference.registry == "docker.io")
            });
        let base = format!("{}://{host}", if plain { "http" } else { "https" });
        let creds = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => match opts.docker_config.clone().or_else(default_docker_config) {
                Some(p) => {
                    load_credentials(&p, &reference.registry).map_err(|reason| Error::Auth {
                        registry: reference.registry.clone(),
                        reason,
                    })?
                }
                None => None,
            },
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("layerproof/", env!("CARGO_PKG_VERSION")))
            .accept_encoding("identity")
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(Duration::from_secs(120)))
            .build();
        Ok(Registry {
            reference,
            agent: ureq::Agent::new_with_config(config),
            base,
            opts,
            creds,
            auth: Mutex::new(HashMap::new()),
            limits: Limits::default(),
        })
    }

    /// The same client under other limits.
    pub fn with_limits(self, limits: Limits) -> Registry {
        Registry { limits, ..self }
    }

    /// The reference this client reads.
    pub fn reference(&self) -> &RegistryRef {
        &self.reference
    }

    fn scope(&self) -> String {
        format!("repository:{}:pull", self.reference.repository)
    }

    fn allowed(&self, url: &str) -> Result<(), Error> {
        let u = split_url(url).ok_or_else(|| Error::Transport {
            url: url.to_string(),
            message: "not an absolute http(s) URL".into(),
        })?;
        let from = split_url(&self.base).map_or(Reach::Public, |b| reach(b.host));
        let to = reach(u.host);
        if !may_point(from, to) {
            return Err(Error::Transport {
                url: url.to_string(),
                message: format!(
                    "refusing to follow the registry to a {} host: only a registry on such a host \
                     may point there",
                    match to {
                        Reach::Loopback => "loopback",
                        Reach::LinkLocal => "link-local (cloud metadata)",
                        _ => "private-network",
                    }
                ),
            });
        }
        match u.scheme {
            "https" => Ok(()),
            "http"
                if is_loopback(u.host)
                    || self
                        .opts
                        .insecure_registries
                        .iter()
                        .any(|h| h == u.host || h == host_only(u.host)) =>
            {
                Ok(())
            }
            _ => Err(Error::InsecureRefused {
                host: u.host.to_string(),
            }),
        }
    }

    /// `text` (a server's error body, quoted in our errors) with every secret this client
    /// holds replaced by `<redacted>`: the password, the basic header and its base64, an
    /// identity token, and the bearer tokens. A hostile or careless server that echoes the
    /// request's `Authorization` header back must not make us print it.
    fn redact(&self, text: String) -> String {
        let mut secrets: Vec<String> = Vec::new();
        match &self.creds {
            Some(c @ Credentials::Basic { password, .. }) => {
                secrets.push(password.expose().to_string());
                if let Some(h) = c.basic_header() {
                    secrets.push(h.expose().trim_start_matches("Basic ").to_string());
                }
            }
            Some(Credentials::IdentityToken(t)) => secrets.push(t.expose().to_string()),
            None => {}
        }
        if let Ok(map) = self.auth.lock() {
            for v in map.values() {
                let v = v.expose();
                secrets.push(v.split_once(' ').map_or(v, |(_, t)| t).to_string());
            }
        }
        let mut all: Vec<String> = secrets
            .iter()
            .filter(|s| s.len() >= 4)
            .flat_map(|s| spellings(s))
            .collect();
        // longest first: the base64 of a password can sit inside that of `user:password`,
        // which must go whole
        all.sort_by_key(|s| std::cmp::Reverse(s.len()));
        let mut out = text;
        for s in &all {
            out = out.replace(s.as_str(), "<redacted>");
        }
        out
    }

    fn auth_value(&self) -> Option<Secret> {
        let map = self.auth.lock().ok()?;
        map.get(&self.scope()).or_else(|| map.get("basic")).cloned()
    }

    fn authenticate(&self, header: Option<&str>, url: &str) -> Result<(), Error> {
        let registry = self.reference.registry.clone();
        let fail = |reason: String| Error::Auth {
            registry: registry.clone(),
            reason,
        };
        let ch = header.and_then(parse_challenge).ok_or_else(|| {
            fail(format!(
                "{url} answered 401 without a usable WWW-Authenticate challenge"
            ))
        })?;
        match ch.scheme.as_str() {
            "basic" => {
                let h = self
                    .creds
                    .as_ref()
                    .and_then(Credentials::basic_header)
                    .ok_or_else(|| {
                        fail(
                            "the registry asks for a user name and password; none are configured"
                                .into(),
                        )
                    })?;
                if let Ok(mut m) = self.auth.lock() {
                    m.insert("basic".into(), h);
                }
                Ok(())
            }
            "bearer" => {
                let realm = ch
                    .params
                    .get("realm")
                    .ok_or_else(|| fail("bearer challenge without realm".into()))?;
                self.allowed(realm)?;
                let scope = ch
                    .params
                    .get("scope")
                    .cloned()
                    .unwrap_or_else(|| self.scope());
                let service = ch.params.get("service").cloned();
                let resp = match &self.creds {
                    Some(Credentials::IdentityToken(t)) => {
                        let mut form = vec![
                            ("grant_type", "refresh_token".to_string()),
                            ("refresh_token", t.expose().to_string()),
                            ("client_id", "layerproof".to_string()),
                            ("scope", scope.clone()),
                        ];
                        if let Some(s) = &service {
                            form.push(("service", s.clone()));
                        }
                        self.agent.post(realm.as_str()).send_form(form)
                    }
                    other => {
                        let mut req = self.agent.get(realm.as_str()).query("scope", &scope);
                        if let Some(s) = &service {
                            req = req.query("service", s);
                        }
                        if let Some(h) = other.as_ref().and_then(|c| c.basic_header()) {
                            req = req.header("Authorization", h.expose());
                        }
                        req.call()
                    }
                };
                let resp =
                    resp.map_err(|e| fail(format!("token request to {realm} failed: {e}")))?;
                let status = resp.status().as_u16();
                // the body is not quoted: a token endpoint may echo the form it was sent,
                // credentials and all, in encodings no redaction can foresee
                if status != 200 {
                    return Err(fail(format!(
                        "token endpoint {realm} answered HTTP {status}"
                    )));
                }
                let body = resp
                    .into_body()
                    .into_with_config()
                    .limit(1 << 20)
                    .read_to_vec()
                    .map_err(|e| fail(format!("token response from {realm}: {e}")))?;
                let v: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|_| fail(format!("token response from {realm} is not JSON")))?;
                let tok = v
                    .get("token")
                    .or_else(|| v.get("access_token"))
                    .and_then(|t| t.as_str())
                    .filter(|t| !t.is_empty())
                    .ok_or_else(|| fail(format!("token response from {realm} has no token")))?;
                if let Ok(mut m) = self.auth.lock() {
                    m.insert(self.scope(), Secret::new(format!("Bearer {tok}")));
                }
                Ok(())
            }
            other => Err(fail(format!("unsupported auth scheme {other:?}"))),
        }
    }

    fn backoff(&self, attempt: u32, hinted: Option<Duration>) {
        let d = match hinted {
            Some(d) => d.min(self.opts.max_retry_after),
            None => self.opts.retry_base.saturating_mul(1 << attempt.min(6)),
        };
        std::thread::sleep(d);
    }

    /// GET with auth, redirects (Authorization only to the registry's own origin), and retries.
    fn get(&self, url: &str, accept: &str) -> Result<http::Response<ureq::Body>, Error> {
        let mut cur = url.to_string();
        let mut attempt = 0u32;
        let mut auth_tried = false;
        let mut redirects = 0;
        loop {
            self.allowed(&cur)?;
            let same_origin = cur == self.base || cur.starts_with(&format!("{}/", self.base));
            let mut req = self.agent.get(cur.as_str()).header("Accept", accept);
            if same_origin && let Some(a) = self.auth_value() {
                req = req.header("Authorization", a.expose());
            }
            let resp = match req.call() {
                Ok(r) => r,
                Err(e) => {
                    attempt += 1;
                    if attempt < self.opts.max_attempts {
                        self.backoff(attempt - 1, None);
                        continue;
                    }
                    return Err(Error::Transport {
                        url: cur,
                        message: format!("{e} (after {attempt} attempts)"),
                    });
                }
            };
            let status = resp.status().as_u16();
            match status {
                200..=299 => return Ok(resp),
                401 if same_origin && !auth_tried => {
                    auth_tried = true;
                    let h = resp
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    self.authenticate(h.as_deref(), &cur)?;
                }
                301 | 302 | 303 | 307 | 308 => {
                    redirects += 1;
                    let loc = resp
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_string();
                    if redirects > 5 || loc.is_empty() {
                        return Err(Error::Transport {
                            url: cur,
                            message: "too many redirects or a redirect without Location".into(),
                        });
                    }
                    cur = if loc.starts_with('/') {
                        let origin = split_url(&cur)
                            .map(|u| format!("{}://{}", u.scheme, u.host))
                            .unwrap_or_default();
                        format!("{origin}{loc}")
                    } else {
                        loc
                    };
                }
                429 | 500..=599 => {
                    attempt += 1;
                    if attempt >= self.opts.max_attempts {
                        return Err(Error::Http {
                            url: cur,
                            status,
                            detail: format!(
                                "{} (after {attempt} attempts)",
                                error_detail(resp, |t| self.redact(t))
                            ),
                        });
                    }
                    let hint = retry_after(&resp);
                    self.backoff(attempt - 1, hint);
                }
                404 => {
                    return Err(Error::NotFound {
                        what: format!("{cur} ({})", error_detail(resp, |t| self.redact(t))),
                    });
                }
                _ => {
                    return Err(Error::Http {
                        url: cur,
                        status,
                        detail: error_detail(resp, |t| self.redact(t)),
                    });
                }
            }
        }
    }

    fn manifest_url(&self, reference: &str) -> String {
        format!(
            "{}/v2/{}/manifests/{reference}",
            self.base, self.reference.repository
        )
    }

    /// Fetches a manifest by tag or digest: raw bytes, media type, digest of the bytes.
    /// With `expected`, the bytes must match its digest (and size).
    pub fn fetch_manifest(
        &self,
        reference: &str,
        expected: Option<&Digest>,
    ) -> Result<(Vec<u8>, String, Digest), Error> {
        let url = self.manifest_url(reference);
        let limit = self.opts.max_manifest_bytes;
        let mut attempt = 0;
        loop {
            let resp = self.get(&url, media::MANIFEST_ACCEPT)?;
            let header = |n: &str| {
                resp.headers()
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            let ctype = header("content-type");
            let dcd = header("docker-content-digest");
            if let Some(len) = header("content-length").and_then(|l| l.parse::<u64>().ok())
                && len > limit
            {
                return Err(Error::TooLarge {
                    what: format!("manifest {url}"),
                    limit,
                });
            }
            let bytes = match resp
                .into_body()
                .into_with_config()
                .limit(limit)
                .read_to_vec()
            {
                Ok(b) => b,
                Err(ureq::Error::BodyExceedsLimit(_)) => {
                    return Err(Error::TooLarge {
                        what: format!("manifest {url}"),
                        limit,
                    });
                }
                Err(e) => {
                    attempt += 1;
                    if attempt < self.opts.max_attempts {
                        self.backoff(attempt - 1, None);
                        continue;
                    }
                    return Err(Error::Transport {
                        url,
                        message: format!("reading the manifest body: {e}"),
                    });
                }
            };
            let actual = Digest::of(&bytes);
            if let Some(exp) = expected
                && &actual != exp
            {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {url}"),
                    expected: exp.clone(),
                    actual,
                });
            }
            if let Some(h) = dcd
                && let Ok(claimed) = Digest::parse(h.trim())
                && claimed != actual
            {
                return Err(Error::DigestMismatch {
                    what: format!("manifest {url} (Docker-Content-Digest header)"),
                    expected: claimed,
                    actual,
                });
            }
            let mt = match Manifest::parse(&bytes, ctype.as_deref(), &url)? {
                Manifest::Index { media_type, .. } | Manifest::Image { media_type, .. } => {
                    media_type
                }
            };
            return Ok((bytes, mt, actual));
        }
    }

    /// Downloads a blob into `sink` while hashing; fails on any digest or size mismatch.
    fn download(&self, desc: &Descriptor, sink: &mut std::fs::File) -> Result<(), Error> {
        let url = format!(
            "{}/v2/{}/blobs/{}",
            self.base, self.reference.repository, desc.digest
        );
        let mut attempt = 0;
        loop {
            sink.set_len(0)
                .and_then(|_| sink.seek(SeekFrom::Start(0)).map(|_| ()))
                .map_err(|e| Error::io("spool file", e))?;
            let resp = self.get(&url, "*/*")?;
            let mut body = resp.into_body().into_reader();
            let mut h = Hasher::new();
            let mut buf = vec![0u8; 256 * 1024];
            let res: Result<(), std::io::Error> = loop {
                match body.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => {
                        if h.len() + n as u64 > desc.size {
                            return Err(Error::SizeMismatch {
                                what: format!("blob {url}"),
                                expected: desc.size,
                                actual: h.len() + n as u64,
                                truncated: false,
                            });
                        }
                        h.update(&buf[..n]);
                        if let Err(e) = sink.write_all(&buf[..n]) {
                            return Err(Error::io("spool file", e));
                        }
                    }
                    Err(e) => break Err(e),
                }
            };
            let got = h.len();
            if let Err(e) = res {
                attempt += 1;
                if attempt < self.opts.max_attempts {
                    self.backoff(attempt - 1, None);
                    continue;
                }
                return Err(Error::SizeMismatch {
                    what: format!("blob {url} ({e}; after {attempt} attempts)"),
                    expected: desc.size,
                    actual: got,
                    truncated: true,
                });
            }
            if got != desc.size {
                return Err(Error::SizeMismatch {
                    what: format!("blob {url}"),
                    expected: desc.size,
                    actual: got,
                    truncated: got < desc.size,
                });
            }
            let actual = h.finish();
            if actual != desc.digest {
                return Err(Error::DigestMismatch {
                    what: format!("blob {url}"),
                    expected: desc.digest.clone(),
                    actual,
                });
            }
            return Ok(());
        }
    }
}

impl ImageSource for Registry {
    fn name(&self) -> String {
        self.reference.to_string()
    }

    fn transport(&self) -> Transport {
        Transport::Registry
    }

    fn tags(&self) -> Vec<String> {
        self.reference.tag.iter().cloned().collect()
    }

    fn root(&self) -> Result<Root, Error> {
        let r = self.reference.manifest_reference();
        let (bytes, media_type, digest) =
            self.fetch_manifest(&r, self.reference.digest.as_ref())?;
        Ok(Root::Addressed {
            descriptor: Descriptor {
                media_type,
                digest,
                size: bytes.len() as u64,
                platform: None,
                annotations: Default::default(),
            },
            bytes,
        })
    }

    fn limits(&self) -> Limits {
        self.limits
    }

    fn manifest(&self, desc: &Descriptor, limit: u64) -> Result<Vec<u8>, Error> {
        if desc.size > limit.min(self.opts.max_manifest_bytes) {
            return Err(Error::TooLarge {
                what: format!("manifest {}", desc.digest),
                limit: limit.min(self.opts.max_manifest_bytes),
            });
        }
        let (bytes, _, _) = self.fetch_manifest(&desc.digest.to_string(), Some(&desc.digest))?;
        if bytes.len() as u64 != desc.size {
            return Err(Error::SizeMismatch {
                what: format!("manifest {}", desc.digest),
                expected: desc.size,
                actual: bytes.len() as u64,
                truncated: false,
            });
        }
        Ok(bytes)
    }

    /// Fetches the whole blob and verifies it before returning a reader over the verified copy
    /// (from the cache when present: re-verified while it is read).
    fn blob(&self, desc: &Descriptor) -> Result<BlobReader, Error> {
        // the download stops at the declared size, so capping it caps what is spooled
        let what = || format!("blob {} of {}", desc.digest, self.reference);
        self.limits.blob(what, desc.size)?;
        if let Some(cache) = &self.opts.cache {
            if let Some(r) = cache.get(desc)? {
                return Ok(r);
            }
            let mut tmp = cache.spool()?;
            self.download(desc, tmp.as_file_mut())?;
            let path = cache.commit(tmp, &desc.digest)?;
            let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            return Ok(VerifiedReader::new(
                Box::new(f),
                desc.digest.clone(),
                Some(desc.size),
                format!("blob {} of {}", desc.digest, self.reference),
            ));
        }
        let mut f = tempfile::tempfile().map_err(|e| Error::io(std::env::temp_dir(), e))?;
        self.download(desc, &mut f)?;
        f.seek(SeekFrom::Start(0))
            .map_err(|e| Error::io("spool file", e))?;
        Ok(VerifiedReader::new(
            Box::new(f),
            desc.digest.clone(),
            Some(desc.size),
            format!("blob {} of {}", desc.digest, self.reference),
        ))
    }
}
