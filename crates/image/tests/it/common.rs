//! Test harness: a real `docker-registry` (distribution 2.8) on loopback, a token issuer with a
//! self-made key and certificate, a fault-injecting proxy, and uploads of the committed fixtures
//! through the distribution API. Missing tools fail the tests loudly.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use sha2::Digest as _;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/image")
}

pub fn sha256(b: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(b)))
}

fn free_port(ip: &str) -> u16 {
    TcpListener::bind((ip, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn require(tool: &str) -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join(tool);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "`{tool}` is required for this test and is not installed (CI installs it: apt-get install -y docker-registry openssl)"
    );
}

/// A running `docker-registry serve`, stopped on drop.
pub struct RegistryProc {
    child: Child,
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for RegistryProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl RegistryProc {
    pub fn start(token: Option<&TokenIssuer>) -> RegistryProc {
        let bin = require("docker-registry");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port("127.0.0.1");
        let addr = format!("127.0.0.1:{port}");
        let mut cfg = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if let Some(t) = token {
            cfg.push_str(&format!(
                "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.realm(),
                SERVICE,
                ISSUER,
                t.cert_pem.display()
            ));
        }
        let cfg_path = dir.path().join("config.yml");
        std::fs::write(&cfg_path, cfg).unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(bin)
            .arg("serve")
            .arg(&cfg_path)
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("start docker-registry");
        let r = RegistryProc {
            child,
            addr,
            _dir: dir,
        };
        let start = Instant::now();
        loop {
            if let Ok(resp) = ureq_agent().get(format!("http://{}/v2/", r.addr)).call() {
                let s = resp.status().as_u16();
                if s == 200 || s == 401 {
                    break;
                }
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "docker-registry did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        r
    }
}

pub fn ureq_agent() -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .build(),
    )
}

pub const SERVICE: &str = "layerproof-test";
pub const ISSUER: &str = "layerproof-test-issuer";

/// A token server: signs RS256 JWTs with a key and certificate made by `openssl` for this run.
/// `private/*` repositories need basic auth `alice:secret`; everything else is anonymous pull.
pub struct TokenIssuer {
    pub port: u16,
    dir: tempfile::TempDir,
    pub cert_pem: PathBuf,
    key_pem: PathBuf,
    x5c: String,
    pub requests: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Drop for TokenIssuer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl TokenIssuer {
    pub fn start() -> Arc<TokenIssuer> {
        let openssl = require("openssl");
        let dir = tempfile::tempdir().unwrap();
        let key_pem = dir.path().join("key.pem");
        let cert_pem = dir.path().join("cert.pem");
        let st = Command::new(&openssl)
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=layerproof-test-issuer",
                "-keyout",
            ])
            .arg(&key_pem)
            .arg("-out")
            .arg(&cert_pem)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "openssl req failed");
        let der = Command::new(&openssl)
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert_pem)
            .output()
            .unwrap();
        assert!(der.status.success());
        let x5c = base64::engine::general_purpose::STANDARD.encode(&der.stdout);
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = Arc::new(TokenIssuer {
            port,
            dir,
            cert_pem,
            key_pem,
            x5c,
            requests: Arc::new(Mutex::new(Vec::new())),
            stop: Arc::new(AtomicBool::new(false)),
        });
        let me = issuer.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if me.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    me.serve(c);
                }
            }
        });
        issuer
    }

    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// A JWT granting `actions` on `repo` (the harness uses it to push fixtures).
    pub fn mint(&self, repo: &str, actions: &[&str]) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]});
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": "", "aud": SERVICE, "exp": now + 3600, "nbf": now - 60, "iat": now - 60,
            "jti": format!("{now}-{repo}"),
            "access": [{"type": "repository", "name": repo, "actions": actions}],
        });
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let mut child = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign"])
            .arg(&self.key_pem)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        format!("{input}.{}", b64url(&out.stdout))
    }

    fn serve(&self, mut c: TcpStream) {
        let Some((line, headers)) = read_head(&mut c) else {
            return;
        };
        let target = line.split(' ').nth(1).unwrap_or("").to_string();
        self.requests.lock().unwrap().push(format!(
            "{line} auth={}",
            headers.get("authorization").map_or("none", |_| "present")
        ));
        let query: HashMap<String, String> = target
            .split_once('?')
            .map(|(_, q)| {
                q.split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_string(), pct_decode(v)))
                    .collect()
            })
            .unwrap_or_default();
        let scope = query.get("scope").cloned().unwrap_or_default();
        let repo = scope.split(':').nth(1).unwrap_or("").to_string();
        let alice = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("alice:secret")
        );
        if repo.starts_with("private/") && headers.get("authorization") != Some(&alice) {
            let _ = c.write_all(
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            return;
        }
        let body = serde_json::json!({"token": self.mint(&repo, &["pull"])}).to_string();
        let _ = write!(
            c,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
    }
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Reads an HTTP request head: the request line and lowercased headers.
fn read_head(c: &mut TcpStream) -> Option<(String, HashMap<String, String>)> {
    c.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut r = BufReader::new(c.try_clone().ok()?);
    let mut line = String::new();
    r.read_line(&mut line).ok()?;
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    Some((line.trim_end().to_string(), headers))
}

/// Uploads a blob (monolithic POST + PUT) and returns its digest.
pub fn put_blob(base: &str, repo: &str, token: Option<&str>, bytes: &[u8]) -> String {
    let digest = sha256(bytes);
    let a = ureq_agent();
    let mut req = a.post(format!("{base}/v2/{repo}/blobs/uploads/"));
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send_empty().unwrap();
    assert_eq!(resp.status().as_u16(), 202, "start upload of {digest}");
    let loc = resp
        .headers()
        .get("location")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    let loc = if loc.starts_with('/') {
        format!("{base}{loc}")
    } else {
        loc
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let mut req = a
        .put(format!("{loc}{sep}digest={digest}"))
        .header("Content-Type", "application/octet-stream");
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send(bytes).unwrap();
    assert_eq!(resp.status().as_u16(), 201, "finish upload of {digest}");
    digest
}

/// Uploads a manifest under `reference` (tag or digest).
pub fn put_manifest(
    base: &str,
    repo: &str,
    token: Option<&str>,
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) {
    let mut req = ureq_agent()
        .put(format!("{base}/v2/{repo}/manifests/{reference}"))
        .header("Content-Type", media_type);
    if let Some(t) = token {
        req = req.header("Authorization", format!("Bearer {t}"));
    }
    let resp = req.send(bytes).unwrap();
    assert_eq!(
        resp.status().as_u16(),
        201,
        "put manifest {repo}:{reference}"
    );
}

/// Pushes everything reachable from a layout's `index.json` entry (manifests, configs, layers)
/// from the committed OCI layout fixture, then tags the entry. Returns the entry's digest.
pub fn push_layout(
    base: &str,
    repo: &str,
    token: Option<&str>,
    layout: &Path,
    tag: &str,
) -> String {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let top = &index["manifests"][0];
    let digest = top["digest"].as_str().unwrap().to_string();
    push_node(
        base,
        repo,
        token,
        layout,
        top["mediaType"].as_str().unwrap(),
        &digest,
        Some(tag),
    );
    digest
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

fn push_node(
    base: &str,
    repo: &str,
    token: Option<&str>,
    layout: &Path,
    mt: &str,
    digest: &str,
    tag: Option<&str>,
) {
    let bytes = blob(layout, digest);
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    if let Some(ms) = v["manifests"].as_array() {
        for m in ms {
            push_node(
                base,
                repo,
                token,
                layout,
                m["mediaType"].as_str().unwrap(),
                m["digest"].as_str().unwrap(),
                None,
            );
        }
    } else {
        put_blob(
            base,
            repo,
            token,
            &blob(layout, v["config"]["digest"].as_str().unwrap()),
        );
        for l in v["layers"].as_array().unwrap() {
            put_blob(
                base,
                repo,
                token,
                &blob(layout, l["digest"].as_str().unwrap()),
            );
        }
    }
    put_manifest(base, repo, token, tag.unwrap_or(digest), mt, &bytes);
    if tag.is_some() {
        put_manifest(base, repo, token, digest, mt, &bytes);
    }
}

/// Faults the proxy injects into responses whose request path contains `path`.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Flip the last byte of the body.
    Tamper,
    /// Send half the body under the full Content-Length, then close.
    Truncate,
    /// Answer `status` (with an optional Retry-After) this many times, then pass through.
    FailTimes {
        status: u16,
        times: usize,
        retry_after: Option<u64>,
    },
    /// Answer 307 to `http://<to>` + the same path.
    Redirect { to: String },
}

#[derive(Default)]
pub struct ProxyLog {
    /// "METHOD PATH auth=present|none" per request.
    pub requests: Vec<String>,
}

/// A fault-injecting HTTP proxy in front of `upstream`.
pub struct FaultProxy {
    pub addr: String,
    pub rules: Arc<Mutex<Vec<(String, Fault)>>>,
    pub log: Arc<Mutex<ProxyLog>>,
    stop: Arc<AtomicBool>,
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

impl FaultProxy {
    pub fn start(ip: &str, upstream: &str) -> FaultProxy {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let rules: Arc<Mutex<Vec<(String, Fault)>>> = Arc::default();
        let log: Arc<Mutex<ProxyLog>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r2, l2, s2, up) = (
            rules.clone(),
            log.clone(),
            stop.clone(),
            upstream.to_string(),
        );
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s2.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(c) = conn {
                    let (r3, l3, up3) = (r2.clone(), l2.clone(), up.clone());
                    std::thread::spawn(move || proxy_one(c, &up3, &r3, &l3));
                }
            }
        });
        FaultProxy {
            addr,
            rules,
            log,
            stop,
        }
    }

    pub fn add(&self, path: &str, f: Fault) {
        self.rules.lock().unwrap().push((path.to_string(), f));
    }
}

fn proxy_one(
    mut c: TcpStream,
    upstream: &str,
    rules: &Mutex<Vec<(String, Fault)>>,
    log: &Mutex<ProxyLog>,
) {
    let Some((line, headers)) = read_head(&mut c) else {
        return;
    };
    let mut parts = line.split(' ');
    let method = parts.next().unwrap_or("GET").to_string();
    let path = parts.next().unwrap_or("/").to_string();
    log.lock().unwrap().requests.push(format!(
        "{method} {path} auth={}",
        if headers.contains_key("authorization") {
            "present"
        } else {
            "none"
        }
    ));
    let fault = {
        let mut rs = rules.lock().unwrap();
        let mut found = None;
        for (p, f) in rs.iter_mut() {
            if path.contains(p.as_str()) {
                if let Fault::FailTimes {
                    times,
                    status,
                    retry_after,
                } = f
                {
                    if *times == 0 {
                        continue;
                    }
                    *times -= 1;
                    found = Some(Fault::FailTimes {
                        times: *times,
                        status: *status,
                        retry_after: *retry_after,
                    });
                } else {
                    found = Some(f.clone());
                }
                break;
            }
        }
        found
    };
    match &fault {
        Some(Fault::FailTimes {
            status,
            retry_after,
            ..
        }) => {
            let ra = retry_after
                .map(|s| format!("Retry-After: {s}\r\n"))
                .unwrap_or_default();
            let _ = write!(
                c,
                "HTTP/1.1 {status} Injected\r\n{ra}Content-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        Some(Fault::Redirect { to }) => {
            let _ = write!(
                c,
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://{to}{path}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            return;
        }
        _ => {}
    }
    let Ok(mut up) = TcpStream::connect(upstream) else {
        return;
    };
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: {upstream}\r\n");
    for (k, v) in &headers {
        if k != "host" && k != "connection" {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    req.push_str("Connection: close\r\n\r\n");
    if up.write_all(req.as_bytes()).is_err() {
        return;
    }
    let mut resp = Vec::new();
    let _ = up.read_to_end(&mut resp);
    let Some(split) = resp.windows(4).position(|w| w == b"\r\n\r\n") else {
        return;
    };
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let mut body = resp[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines
        .next()
        .unwrap_or("HTTP/1.0 502 Bad")
        .replacen("HTTP/1.0", "HTTP/1.1", 1);
    let mut out = format!("{status_line}\r\n");
    for l in lines {
        let lk = l.to_ascii_lowercase();
        if lk.starts_with("content-length:") || lk.starts_with("connection:") {
            continue;
        }
        out.push_str(l);
        out.push_str("\r\n");
    }
    let full_len = body.len();
    match fault {
        Some(Fault::Tamper) if !body.is_empty() => {
            let last = body.len() - 1;
            body[last] ^= 0x01;
        }
        Some(Fault::Truncate) => body.truncate(full_len / 2),
        _ => {}
    }
    out.push_str(&format!(
        "Content-Length: {full_len}\r\nConnection: close\r\n\r\n"
    ));
    let _ = c.write_all(out.as_bytes());
    let _ = c.write_all(&body);
    let _ = c.flush();
}

/// A server standing in for blob storage (S3, a CDN): serves `/v2/.../blobs/<digest>` from the
/// fixture layout and records whether an Authorization header arrived.
pub struct Storage {
    pub addr: String,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl Storage {
    pub fn start(ip: &str, layout: PathBuf) -> Storage {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let log: Arc<Mutex<Vec<String>>> = Arc::default();
        let l2 = log.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut c) = conn else { continue };
                let Some((line, headers)) = read_head(&mut c) else {
                    continue;
                };
                l2.lock().unwrap().push(format!(
                    "{line} auth={}",
                    if headers.contains_key("authorization") {
                        "present"
                    } else {
                        "none"
                    }
                ));
                let path = line.split(' ').nth(1).unwrap_or("");
                let hexd = path
                    .rsplit("sha256:")
                    .next()
                    .unwrap_or("")
                    .split('?')
                    .next()
                    .unwrap_or("");
                match std::fs::read(layout.join("blobs/sha256").join(hexd)) {
                    Ok(b) if hexd.len() == 64 => {
                        let _ = write!(
                            c,
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            b.len()
                        );
                        let _ = c.write_all(&b);
                    }
                    _ => {
                        let _ = c.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    }
                }
            }
        });
        Storage { addr, log }
    }
}
