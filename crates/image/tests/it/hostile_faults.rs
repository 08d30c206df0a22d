//! Hostile registries and layouts (issue 8), beyond what `registry.rs` and `local.rs` cover:
//! a server on 127.0.0.1 that lies (oversized and endless bodies, lying Content-Length,
//! redirect loops, secrets echoed back in error bodies), digest algorithm confusion in OCI
//! layouts, and docker-archives whose files are links out of the archive. Issue 22 adds layouts
//! and archives made here that attack the reader: FIFOs, members that run past the file,
//! oversized extension headers, layer lists and index DAGs that multiply work, declared sizes
//! that are too large or wrong.
//!
//! The server is a few lines of `std::net` here rather than the real `docker-registry`, because
//! no real registry misbehaves on purpose; it only listens on loopback and stops with the test.
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use layerproof_image::chain;
use layerproof_image::registry::auth::{Credentials, Secret};
use layerproof_image::{
    Digest, Error, ImageRef, ImageSource, OpenOptions, PlatformSelector, Registry, RegistryOptions,
};

const PASSWORD: &str = "hunter2-correct-horse";
const TOKEN: &str = "tok.eyJzZWNyZXQiOiJ0b2tlbiJ9.sig";

/// One request as the server saw it.
#[derive(Debug, Clone)]
struct Request {
    path: String,
    headers: HashMap<String, String>,
}

/// What to answer: status, headers, body (`None` body length means "endless").
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Repeat `body` this many times (a stream of that many bytes without buffering it).
    repeat: usize,
}

fn resp(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Response {
    Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
        repeat: 1,
    }
}

type Handler = dyn Fn(&Request, &str) -> Response + Send + Sync;

/// A loopback HTTP/1.1 server: one thread per connection, `Connection: close`.
struct Server {
    addr: String,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    fn start(handler: Box<Handler>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
        let handler: Arc<Handler> = Arc::from(handler);
        let (seen2, addr2) = (seen.clone(), addr.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (h, s, a) = (handler.clone(), seen2.clone(), addr2.clone());
                std::thread::spawn(move || serve(conn, &*h, &s, &a));
            }
        });
        Server { addr, seen }
    }
}

fn serve(conn: TcpStream, handler: &Handler, seen: &Mutex<Vec<Request>>, addr: &str) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let req = Request { path, headers };
    seen.lock().unwrap().push(req.clone());
    let res = handler(&req, addr);
    let mut w = conn;
    let mut head = format!("HTTP/1.1 {} X\r\nConnection: close\r\n", res.status);
    for (k, v) in &res.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if !res.headers.iter().any(|(k, _)| k == "Content-Length") {
        head.push_str(&format!(
            "Content-Length: {}\r\n",
            res.body.len() * res.repeat
        ));
    }
    head.push_str("\r\n");
    if w.write_all(head.as_bytes()).is_err() {
        return;
    }
    for _ in 0..res.repeat {
        if w.write_all(&res.body).is_err() {
            return; // the client hung up, as it should on an oversized body
        }
    }
}

fn client(addr: &str, opts: RegistryOptions) -> Registry {
    match format!("{addr}/hostile/img:v1")
        .parse::<ImageRef>()
        .unwrap()
    {
        ImageRef::Registry(rr) => Registry::new(rr, opts).unwrap(),
        other => panic!("{other:?}"),
    }
}

fn opts() -> RegistryOptions {
    RegistryOptions {
        docker_config: Some("/nonexistent/config.json".into()),
        cache: None,
        retry_base: Duration::from_millis(5),
        max_retry_after: Duration::from_secs(1),
        ..RegistryOptions::default()
    }
}

fn with_password() -> RegistryOptions {
    RegistryOptions {
        credentials: Some(Credentials::Basic {
            username: "alice".into(),
            password: Secret::new(PASSWORD),
        }),
        ..opts()
    }
}

/// Every way a secret could be spelled in an error: the password, the basic header's base64,
/// and the bearer token.
fn assert_no_secret(text: &str) {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    for s in [PASSWORD, basic.as_str(), TOKEN, "hunter2"] {
        assert!(!text.contains(s), "secret {s:?} leaked in: {text}");
    }
}

fn resolve(r: &Registry) -> Result<chain::Chain, Error> {
    chain::resolve(r, &PlatformSelector::All, 1 << 20)
}

#[test]
fn secrets_echoed_by_a_hostile_registry_never_reach_an_error() {
    // Basic auth, then an error body that repeats the Authorization header back.
    let s = Server::start(Box::new(|req, _| match req.headers.get("authorization") {
        None => resp(401, &[("WWW-Authenticate", r#"Basic realm="x""#)], b""),
        Some(a) => resp(
            400,
            &[("Content-Type", "application/json")],
            format!(r#"{{"errors":[{{"code":"DENIED","message":"you sent {a}"}}]}}"#).as_bytes(),
        ),
    }));
    let e = resolve(&client(&s.addr, with_password())).unwrap_err();
    assert_no_secret(&format!("{e} {e:?}"));
    assert!(e.to_string().contains("DENIED"), "{e}");

    // The same echo as plain text on a 404, and on 500s until retries run out.
    for status in [404u16, 503] {
        let s = Server::start(Box::new(move |req, _| {
            match req.headers.get("authorization") {
                None => resp(401, &[("WWW-Authenticate", r#"Basic realm="x""#)], b""),
                Some(a) => resp(status, &[], format!("echo: {a}").as_bytes()),
            }
        }));
        let e = resolve(&client(&s.addr, with_password())).unwrap_err();
        assert_no_secret(&format!("{e} {e:?}"));
    }

    // Bearer: the token endpoint echoes the basic credentials; then a registry that echoes the
    // bearer token it was given.
    let s = Server::start(Box::new(|req, addr| {
        if req.path.starts_with("/token") {
            let a = req
                .headers
                .get("authorization")
                .cloned()
                .unwrap_or_default();
            return resp(403, &[], format!("bad credentials {a}").as_bytes());
        }
        resp(
            401,
            &[(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="http://{addr}/token",service="s""#),
            )],
            b"",
        )
    }));
    let e = resolve(&client(&s.addr, with_password())).unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e}");
    assert_no_secret(&format!("{e} {e:?}"));

    let s = Server::start(Box::new(|req, addr| {
        if req.path.starts_with("/token") {
            return resp(200, &[], format!(r#"{{"token":"{TOKEN}"}}"#).as_bytes());
        }
        match req.headers.get("authorization") {
            Some(a) if a.starts_with("Bearer") => {
                resp(418, &[], format!("I saw your {a} and {TOKEN}").as_bytes())
            }
            _ => resp(
                401,
                &[(
                    "WWW-Authenticate",
                    &format!(
                        r#"Bearer realm="http://{addr}/token",scope="repository:hostile/img:pull""#
                    ),
                )],
                b"",
            ),
        }
    }));
    let e = resolve(&client(&s.addr, with_password())).unwrap_err();
    assert!(e.to_string().contains("418"), "{e}");
    assert_no_secret(&format!("{e} {e:?}"));
}

#[test]
fn oversized_and_endless_manifests_stop_at_the_limit() {
    // A Content-Length far over the limit: refused before the body is read.
    let s = Server::start(Box::new(|_, _| Response {
        status: 200,
        headers: vec![(
            "Content-Type".into(),
            "application/vnd.oci.image.manifest.v1+json".into(),
        )],
        body: vec![b' '; 1 << 20],
        repeat: 64,
    }));
    let start = Instant::now();
    let e = resolve(&client(&s.addr, opts())).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == layerproof_image::DEFAULT_MAX_MANIFEST),
        "{e}"
    );
    assert!(e.to_string().contains("4194304"), "{e}");
    // It names the cap without pointing at an option that does not exist.
    assert!(!e.to_string().contains("max-manifest-bytes option"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(20));

    // A Content-Length that lies low: the body is cut at the limit all the same.
    let s = Server::start(Box::new(|_, _| Response {
        status: 200,
        headers: vec![
            ("Content-Length".into(), "100".into()),
            (
                "Content-Type".into(),
                "application/vnd.oci.image.manifest.v1+json".into(),
            ),
        ],
        body: vec![b'{'; 1 << 20],
        repeat: 16,
    }));
    let e = resolve(&client(&s.addr, opts())).unwrap_err();
    // ureq reads exactly Content-Length bytes: 100 bytes of '{' are not a manifest.
    assert!(matches!(e, Error::Parse { .. }), "{e}");

    // A manifest limit lowered by the caller applies the same way.
    let small = RegistryOptions {
        max_manifest_bytes: 1000,
        ..opts()
    };
    let s = Server::start(Box::new(|_, _| {
        resp(
            200,
            &[("Content-Type", "application/vnd.oci.image.index.v1+json")],
            format!(
                r#"{{"schemaVersion":2,"manifests":[],"pad":"{}"}}"#,
                "x".repeat(5000)
            )
            .as_bytes(),
        )
    }));
    let e = resolve(&client(&s.addr, small)).unwrap_err();
    assert!(matches!(e, Error::TooLarge { limit: 1000, .. }), "{e}");
}

#[test]
fn redirect_loops_end() {
    let s = Server::start(Box::new(|req, addr| {
        resp(
            307,
            &[("Location", &format!("http://{addr}{}x", req.path))],
            b"",
        )
    }));
    let start = Instant::now();
    let e = resolve(&client(&s.addr, opts())).unwrap_err();
    assert!(e.to_string().contains("redirect"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(s.seen.lock().unwrap().len() <= 10);
}

#[test]
fn digest_algorithm_confusion_is_an_error() {
    for (input, unsupported) in [
        (format!("sha512:{}", "a".repeat(128)), true),
        (format!("md5:{}", "a".repeat(32)), true),
        (format!("sha256:{}", "A".repeat(64)), false),
        (format!("sha256:{}", "a".repeat(63)), false),
        (format!("sha256:{}", "a".repeat(65)), false),
        ("sha256:".to_string(), false),
        (":abc".to_string(), false),
        ("sha256".to_string(), false),
        (format!("SHA256:{}", "a".repeat(64)), false),
        (format!("sha256:{}/../../x", "a".repeat(64)), false),
        (format!("sha256:../../../../etc/{}", "a".repeat(48)), false),
    ] {
        match Digest::parse(&input) {
            Err(Error::UnsupportedDigest { .. }) if unsupported => {}
            Err(Error::MalformedDigest { .. }) if !unsupported => {}
            other => panic!("{input}: {other:?}"),
        }
    }

    // An OCI layout whose index names a sha512 or a malformed digest: refused while resolving,
    // never turned into a path.
    for digest in [
        format!("sha512:{}", "b".repeat(128)),
        "sha256:../../../etc/passwd".to_string(),
        format!("sha256:{}", "C".repeat(64)),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        layout(tmp.path(), &digest);
        let r = format!("oci:{}", tmp.path().display());
        let e = layerproof_image::open(&r.parse().unwrap(), &OpenOptions::default())
            .and_then(|src| chain::resolve(src.as_ref(), &PlatformSelector::All, 1 << 20))
            .err()
            .unwrap_or_else(|| panic!("{digest} accepted"));
        assert!(
            matches!(
                e,
                Error::UnsupportedDigest { .. }
                    | Error::MalformedDigest { .. }
                    | Error::Parse { .. }
            ),
            "{digest}: {e:?}"
        );
    }
}

/// A minimal OCI layout whose index has one manifest descriptor with `digest`.
fn layout(dir: &Path, digest: &str) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(
        dir.join("index.json"),
        format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{digest}","size":2}}]}}"#
        ),
    )
    .unwrap();
}

#[test]
fn docker_archive_links_out_of_the_archive_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = b"{}";
    let cfg_name = "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a.json";
    for (what, link_type, target) in [
        (
            "symlink-relative",
            tar::EntryType::Symlink,
            "../../../etc/passwd",
        ),
        ("symlink-absolute", tar::EntryType::Symlink, "/etc/passwd"),
        ("hardlink-outside", tar::EntryType::Link, "../outside"),
    ] {
        let path = tmp.path().join(format!("{what}.tar"));
        let mut b = tar::Builder::new(std::fs::File::create(&path).unwrap());
        let mj =
            format!(r#"[{{"Config":"{cfg_name}","RepoTags":["a:b"],"Layers":["layer.tar"]}}]"#);
        for (name, body) in [("manifest.json", mj.as_bytes()), (cfg_name, &cfg[..])] {
            let mut h = tar::Header::new_gnu();
            h.set_size(body.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, body).unwrap();
        }
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(link_type);
        h.set_size(0);
        h.set_cksum();
        b.append_link(&mut h, "layer.tar", target).unwrap();
        b.finish().unwrap();
        drop(b);
        let r = format!("docker-archive:{}", path.display());
        let res = layerproof_image::open(&r.parse().unwrap(), &OpenOptions::default());
        let e = match res {
            Err(e) => e,
            Ok(src) => {
                let c = chain::resolve(src.as_ref(), &PlatformSelector::All, 1 << 20);
                match c {
                    Err(e) => e,
                    Ok(c) => {
                        let l = &c.images()[0].layers[0].blob;
                        let mut out = Vec::new();
                        match src.blob(l) {
                            Err(e) => e,
                            Ok(mut r) => match r.read_to_end(&mut out) {
                                Err(e) => Error::from_io(e, "layer"),
                                Ok(_) => panic!("{what}: read {} bytes", out.len()),
                            },
                        }
                    }
                }
            }
        };
        assert!(
            matches!(
                e,
                Error::PathEscape { .. } | Error::NotFound { .. } | Error::Layout { .. }
            ),
            "{what}: {e:?}"
        );
    }
}

/// Runs `f` on a thread of its own and waits at most 20 s for it: a hang is a failure of the
/// test, not of the whole run (the stuck thread is left behind).
fn within_20s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("{what}: still running after 20 s"))
}

fn mkfifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    rustix::fs::mknodat(
        rustix::fs::CWD,
        path,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o644),
        0,
    )
    .unwrap();
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// Opens the reference, resolves it for every platform and reads every layer blob, returning the
/// first error.
fn open_and_read(r: String) -> Result<(), Error> {
    let src = layerproof_image::open(&r.parse()?, &OpenOptions::default())?;
    let c = chain::resolve(src.as_ref(), &PlatformSelector::All, 1 << 20)?;
    for img in c.images() {
        for l in &img.layers {
            std::io::copy(&mut src.blob(&l.blob)?, &mut std::io::sink())
                .map_err(|e| Error::from_io(e, "layer"))?;
            if let Some(mut r) = src.blob_unverified(&l.blob)? {
                std::io::copy(&mut r, &mut std::io::sink())
                    .map_err(|e| Error::from_io(e, "layer"))?;
            }
        }
    }
    Ok(())
}

#[test]
fn a_fifo_in_a_layout_or_as_an_archive_is_refused_without_hanging() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/image");
    let blobs = fixtures.join("oci-index/blobs/sha256");
    let mut names = vec!["oci-layout".to_string(), "index.json".to_string()];
    for e in std::fs::read_dir(&blobs).unwrap() {
        names.push(format!(
            "blobs/sha256/{}",
            e.unwrap().file_name().to_string_lossy()
        ));
    }
    names.sort();
    for name in names {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("layout");
        copy_dir(&fixtures.join("oci-index"), &dir);
        mkfifo(&dir.join(&name));
        let r = format!("oci:{}", dir.display());
        let e =
            within_20s(&name, move || open_and_read(r)).expect_err("a layout with a FIFO was read");
        let text = e.to_string();
        assert!(
            text.contains("not a regular file (a FIFO)") && text.contains(&name),
            "{name}: {text}"
        );
    }
    // The archive itself a FIFO.
    for transport in ["docker-archive", "oci-archive"] {
        let tmp = tempfile::tempdir().unwrap();
        let fifo = tmp.path().join("image.tar");
        mkfifo(&fifo);
        let r = format!("{transport}:{}", fifo.display());
        let e = within_20s(transport, move || open_and_read(r))
            .expect_err("a FIFO was read as an archive");
        assert!(
            e.to_string()
                .contains("image.tar: not a regular file (a FIFO)"),
            "{transport}: {e}"
        );
    }
}

/// A tar header of `typ` for `name` claiming `size` bytes (base-256 above the octal range).
fn raw_header(name: &str, typ: u8, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_gnu();
    h.set_path(name).unwrap();
    h.set_entry_type(tar::EntryType::new(typ));
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// A regular file with its data, padded to whole blocks.
fn member(name: &str, data: &[u8]) -> Vec<u8> {
    typed_member(name, b'0', data)
}

fn typed_member(name: &str, typ: u8, data: &[u8]) -> Vec<u8> {
    let mut out = raw_header(name, typ, data.len() as u64);
    out.extend_from_slice(data);
    out.resize(out.len().next_multiple_of(512), 0);
    out
}

/// A legacy docker-archive (config, manifest.json) whose members after them are `rest`, which
/// must hold the layers named in `layers`.
fn legacy_archive(layers: &[&str], rest: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cfg_name = format!("{}.json", hex::encode(sha2::Sha256::digest(cfg)));
    let mj = serde_json::json!([{"Config": cfg_name, "RepoTags": ["a:b"], "Layers": layers}]);
    let mut out = member("manifest.json", mj.to_string().as_bytes());
    out.extend(member(&cfg_name, cfg));
    out.extend_from_slice(rest);
    out
}

/// Writes `bytes` as `name` in a fresh directory and reads it as `transport` in at most 20 s.
fn read_archive(transport: &str, bytes: Vec<u8>) -> Result<(), Error> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("image.tar");
    std::fs::write(&path, bytes).unwrap();
    let r = format!("{transport}:{}", path.display());
    let res = within_20s(transport, move || open_and_read(r));
    drop(tmp);
    res
}

#[test]
fn an_archive_member_that_runs_past_the_end_of_the_file_is_refused() {
    // A layer whose header claims 1 TiB (base-256), 100000 bytes (octal) or one byte more than
    // the file holds, with a few bytes behind it and no end-of-archive blocks.
    for claim in [1u64 << 40, 100_000, 513] {
        let mut rest = raw_header("layer.tar", b'0', claim);
        rest.extend_from_slice(&[b'x'; 512]);
        let e = read_archive("docker-archive", legacy_archive(&["layer.tar"], &rest))
            .expect_err("a truncated member was read");
        let text = e.to_string();
        assert!(
            text.contains(&format!("member \"layer.tar\" claims {claim} bytes"))
                && text.contains("the archive is truncated")
                && text.contains("image.tar"),
            "{claim}: {text}"
        );
    }
    // The same in an oci-archive: the truncated member is its oci-layout.
    let mut rest = raw_header("oci-layout", b'0', 4096);
    rest.extend_from_slice(br#"{"imageLayoutVersion":"1.0.0"}"#);
    let e = read_archive("oci-archive", rest).expect_err("a truncated oci-layout was read");
    assert!(e.to_string().contains("the archive is truncated"), "{e}");
}

#[test]
fn an_archive_extension_header_over_1_mib_is_refused_before_it_is_read() {
    // GNU long name and long link, PAX local and global headers of 1 GiB: only the header is
    // there (the file is a few KB), so the refusal comes from the size, before any read.
    for (typ, kind) in [
        (b'L', "GNU long name"),
        (b'K', "GNU long link"),
        (b'x', "PAX header"),
        (b'g', "PAX global header"),
    ] {
        let mut rest = raw_header("././@LongLink", typ, 1 << 30);
        rest.extend(member("layer.tar", b""));
        let e = read_archive("docker-archive", legacy_archive(&["layer.tar"], &rest))
            .expect_err("a 1 GiB extension header was accepted");
        let text = e.to_string();
        assert!(
            text.contains(&format!("the {kind} at offset"))
                && text.contains("is 1073741824 bytes, over the 1048576 bytes Go's archive/tar"),
            "{kind}: {text}"
        );
    }
    // Just over the limit, with the data present: refused all the same (Go refuses it too).
    let mut rest = raw_header("././@LongLink", b'L', (1 << 20) + 1);
    rest.resize(rest.len() + (1 << 20) + 512, b'n');
    rest.extend(member("layer.tar", b""));
    let e = read_archive("docker-archive", legacy_archive(&["layer.tar"], &rest)).unwrap_err();
    assert!(e.to_string().contains("over the 1048576 bytes"), "{e}");
    // A long name and a PAX path within the limit still name the member.
    let long = format!("{}/layer.tar", "d".repeat(300));
    let mut rest = raw_header("././@LongLink", b'L', long.len() as u64 + 1);
    let mut body = long.clone().into_bytes();
    body.push(0);
    body.resize(512, 0);
    rest.extend(body);
    rest.extend(member("short-name", b""));
    let pax_name = format!("{}/pax.tar", "p".repeat(200));
    let record = format!("path={pax_name}\n");
    let record = format!("{} {record}", record.len() + 4);
    rest.extend(typed_member("PaxHeaders/x", b'x', record.as_bytes()));
    rest.extend(member("ignored", b""));
    let layers = [long.as_str(), pax_name.as_str()];
    read_archive("docker-archive", legacy_archive(&layers, &rest)).unwrap();
}

/// Opens a docker-archive written from `bytes` and resolves it, in at most 20 s.
fn resolve_archive(bytes: Vec<u8>, limits: layerproof_image::Limits) -> Result<usize, Error> {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("image.tar");
    std::fs::write(&path, bytes).unwrap();
    let r = format!("docker-archive:{}", path.display());
    within_20s("docker-archive", move || {
        let opts = OpenOptions {
            limits,
            ..OpenOptions::default()
        };
        let src = layerproof_image::open(&r.parse()?, &opts)?;
        let c = chain::resolve(src.as_ref(), &PlatformSelector::All, 1 << 20)?;
        drop(tmp);
        Ok(c.images().iter().map(|i| i.layers.len()).sum())
    })
}

#[test]
fn a_legacy_archive_naming_one_layer_file_many_times_hashes_it_once() {
    // 900 Layers entries, half through the file's path and half through symlinks to it, for one
    // 64 MiB member: 57 GB of SHA-256 if each entry were hashed, one file's worth when the
    // digest is kept per member.
    let mut rest = member("layer.tar", &vec![b'z'; 64 << 20]);
    let mut layers = Vec::new();
    for i in 0..450 {
        let link = format!("l{i}/layer.tar");
        let mut h = tar::Header::new_gnu();
        h.set_path(&link).unwrap();
        h.set_link_name("../layer.tar").unwrap();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        h.set_cksum();
        rest.extend_from_slice(h.as_bytes());
        layers.push(link);
        layers.push("layer.tar".to_string());
    }
    rest.extend_from_slice(&[0u8; 1024]);
    let layers: Vec<&str> = layers.iter().map(String::as_str).collect();
    let n = resolve_archive(
        legacy_archive(&layers, &rest),
        layerproof_image::Limits::default(),
    )
    .unwrap();
    assert_eq!(n, 900);

    // More entries than the layer limit: refused before anything is hashed, naming the flag.
    let many = vec!["layer.tar"; 100_000];
    let e = resolve_archive(
        legacy_archive(&many, &member("layer.tar", b"x")),
        layerproof_image::Limits::default(),
    )
    .unwrap_err();
    assert!(
        e.to_string().ends_with(
            "image.tar: 100000 layers: over the max-layers limit of 1000 (raise it with \
             --max-layers)"
        ),
        "{e}"
    );
    // A lowered limit applies the same way.
    let limits = layerproof_image::Limits {
        max_layers: 10,
        ..Default::default()
    };
    let e = resolve_archive(
        legacy_archive(&many[..11], &member("layer.tar", b"x")),
        limits,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("over the max-layers limit of 10"),
        "{e}"
    );
}

/// Writes `bytes` as a blob of the layout in `dir`; returns its descriptor as JSON.
fn put_blob(dir: &Path, media_type: &str, bytes: &[u8]) -> serde_json::Value {
    use sha2::Digest as _;
    let hex = hex::encode(sha2::Sha256::digest(bytes));
    std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
    std::fs::write(dir.join("blobs/sha256").join(&hex), bytes).unwrap();
    serde_json::json!({"mediaType": media_type, "digest": format!("sha256:{hex}"), "size": bytes.len()})
}

const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// An image manifest for linux/`arch` without layers; its descriptor, with the platform.
fn put_image(dir: &Path, arch: &str) -> serde_json::Value {
    let cfg = serde_json::json!({"architecture": arch, "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": []}});
    let cfg = put_blob(
        dir,
        "application/vnd.oci.image.config.v1+json",
        cfg.to_string().as_bytes(),
    );
    let m = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg,
        "layers": []});
    let mut d = put_blob(dir, OCI_MANIFEST, m.to_string().as_bytes());
    d["platform"] = serde_json::json!({"architecture": arch, "os": "linux"});
    d
}

fn index_of(entries: Vec<serde_json::Value>) -> Vec<u8> {
    serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries})
        .to_string()
        .into_bytes()
}

/// Writes `oci-layout` and an `index.json` of `entries`.
fn finish_layout(dir: &Path, entries: Vec<serde_json::Value>) {
    std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(dir.join("index.json"), index_of(entries)).unwrap();
}

fn resolve_layout(
    dir: &Path,
    sel: &str,
    limits: layerproof_image::Limits,
) -> Result<chain::Chain, Error> {
    let r = format!("oci:{}", dir.display());
    let sel = PlatformSelector::parse(sel).unwrap();
    within_20s("oci layout", move || {
        let opts = OpenOptions {
            limits,
            ..OpenOptions::default()
        };
        let src = layerproof_image::open(&r.parse()?, &opts)?;
        chain::resolve(src.as_ref(), &sel, 1 << 20)
    })
}

#[test]
fn an_index_dag_is_walked_once_per_digest_and_its_nodes_are_capped() {
    // 7 levels of 8 distinct indexes, each listing all 8 of the level below: 8^7 paths to the
    // one image at the bottom, 57 documents in all.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let image = put_image(dir, "amd64");
    let mut level: Vec<serde_json::Value> = vec![image];
    for depth in 0..7 {
        level = (0..8)
            .map(|i| {
                let mut entries = level.clone();
                // distinct bytes per index of a level
                entries[0]["annotations"] = serde_json::json!({"n": format!("{depth}.{i}")});
                put_blob(dir, OCI_INDEX, &index_of(entries))
            })
            .collect();
    }
    finish_layout(dir, level);
    for sel in ["all", "linux/amd64"] {
        let c = resolve_layout(dir, sel, layerproof_image::Limits::default()).unwrap();
        assert_eq!(c.images().len(), 1, "{sel}");
    }

    // An index of 20000 entries for other platforms (never read): over the node limit.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let wide: Vec<serde_json::Value> = (0..20_000)
        .map(|i| {
            serde_json::json!({"mediaType": OCI_MANIFEST,
                "digest": format!("sha256:{i:064x}"), "size": 100,
                "platform": {"architecture": "s390x", "os": "linux"}})
        })
        .collect();
    finish_layout(dir, wide);
    let e = resolve_layout(dir, "linux/amd64", layerproof_image::Limits::default()).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "10001 nodes: over the max-manifests limit of 10000 (raise it with --max-manifests)"
        ) && e.to_string().contains("the index tree of"),
        "{e}"
    );
    let limits = layerproof_image::Limits {
        max_manifests: 20_001,
        ..Default::default()
    };
    let e = resolve_layout(dir, "linux/amd64", limits).unwrap_err();
    assert!(matches!(e, Error::PlatformNotFound { .. }), "{e}");
}

#[test]
fn once_the_platform_is_found_no_further_index_is_walked() {
    // The amd64 image, then a nested index and a manifest without a platform whose blobs are
    // missing: with one platform asked for, neither is read.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let image = put_image(dir, "amd64");
    let missing = |mt: &str| {
        serde_json::json!({"mediaType": mt, "digest": format!("sha256:{}", "e".repeat(64)),
            "size": 10})
    };
    finish_layout(dir, vec![image, missing(OCI_INDEX), missing(OCI_MANIFEST)]);
    let c = resolve_layout(dir, "linux/amd64", layerproof_image::Limits::default()).unwrap();
    assert_eq!(c.images().len(), 1);
    // Without a platform every entry is followed, and the missing blob is an error.
    let e = resolve_layout(dir, "all", layerproof_image::Limits::default()).unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");
}

#[test]
fn declared_blob_sizes_are_checked_before_the_first_byte() {
    use sha2::Digest as _;
    let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cfg_digest = format!("sha256:{}", hex::encode(sha2::Sha256::digest(cfg)));
    let serve = |cfg_size: u64, layer_size: u64| {
        let cfg_digest = cfg_digest.clone();
        let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": cfg_digest, "size": cfg_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                "digest": format!("sha256:{}", "1".repeat(64)), "size": layer_size}]})
        .to_string();
        Server::start(Box::new(move |req, _| {
            if req.path.ends_with("/manifests/v1") {
                resp(200, &[("Content-Type", OCI_MANIFEST)], manifest.as_bytes())
            } else if req.path.ends_with(&cfg_digest) {
                resp(200, &[], cfg)
            } else {
                // an endless blob: 1 MiB of zeros, over and over
                Response {
                    status: 200,
                    headers: vec![],
                    body: vec![0; 1 << 20],
                    repeat: 1 << 20,
                }
            }
        }))
    };
    let blob_requests = |s: &Server| {
        s.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path.contains("/blobs/"))
            .count()
    };
    // A config declared 1 TiB: refused from the manifest, no blob request made.
    let s = serve(1 << 40, 10);
    let reg = client(&s.addr, opts());
    let e = within_20s("1 TiB config", move || resolve(&reg).map(|_| ())).unwrap_err();
    assert!(
        matches!(e, Error::TooLarge { limit, .. } if limit == chain::MAX_CONFIG),
        "{e}"
    );
    assert!(
        e.to_string().contains("declared 1099511627776 bytes"),
        "{e}"
    );
    assert_eq!(blob_requests(&s), 0);
    // A layer declared 1 TiB: the chain resolves (layers are described, not read), and reading
    // the layer fails at the blob limit before its first byte is fetched.
    let s = serve(cfg.len() as u64, 1 << 40);
    let reg = client(&s.addr, opts());
    let c = resolve(&reg).unwrap();
    let layer = c.images()[0].layers[0].blob.clone();
    let before = blob_requests(&s);
    let e = within_20s("1 TiB layer", move || reg.blob(&layer).map(|_| ())).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "1099511627776 bytes: over the max-blob-bytes limit of 68719476736 (raise it with \
             --max-blob-bytes)"
        ),
        "{e}"
    );
    assert_eq!(blob_requests(&s), before);
    // A lowered limit applies the same way.
    let s = serve(cfg.len() as u64, 2 << 20);
    let limits = layerproof_image::Limits {
        max_blob_bytes: 1 << 20,
        ..Default::default()
    };
    let reg = client(&s.addr, opts()).with_limits(limits);
    let layer = resolve(&reg).unwrap().images()[0].layers[0].blob.clone();
    let e = reg.blob(&layer).map(|_| ()).unwrap_err();
    assert!(
        e.to_string()
            .contains("over the max-blob-bytes limit of 1048576"),
        "{e}"
    );
}

#[test]
fn a_descriptor_size_that_misstates_the_blob_is_refused_unhashed_too() {
    // One layer of 4096 bytes, listed with size 100, 2^64-1 and 4097: the unhashed reader a
    // streamed comparison uses refuses each before a byte is read (it never sees the length
    // otherwise), and the verifying reader fails too.
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let layer = put_blob(dir, "application/vnd.oci.image.layer.v1.tar", &[0u8; 4096]);
    for size in [100u64, u64::MAX, 4097] {
        let mut lied = layer.clone();
        lied["size"] = serde_json::json!(size);
        let cfg = serde_json::json!({"architecture": "amd64", "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [lied["digest"]]}});
        let cfg = put_blob(
            dir,
            "application/vnd.oci.image.config.v1+json",
            cfg.to_string().as_bytes(),
        );
        let m = serde_json::json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": cfg, "layers": [lied]});
        finish_layout(
            dir,
            vec![put_blob(dir, OCI_MANIFEST, m.to_string().as_bytes())],
        );
        let src = layerproof_image::open(
            &format!("oci:{}", dir.display()).parse().unwrap(),
            &OpenOptions::default(),
        )
        .unwrap();
        let c = chain::resolve(src.as_ref(), &PlatformSelector::All, 1 << 20).unwrap();
        let desc = &c.images()[0].layers[0].blob;
        let e = src.blob_unverified(desc).map(|_| ()).unwrap_err();
        assert!(
            matches!(e, Error::SizeMismatch { expected, actual: 4096, .. } if expected == size),
            "{size}: {e}"
        );
        let e = std::io::copy(&mut src.blob(desc).unwrap(), &mut std::io::sink()).unwrap_err();
        assert!(
            matches!(Error::from_io(e, "layer"), Error::SizeMismatch { .. }),
            "{size}"
        );
    }
}

#[test]
fn implied_directories_of_a_large_archive_are_found_without_scanning_every_name() {
    // 150000 members in x/, and one layer 45 directories deep that no entry of its own
    // declares, named by 1000 Layers entries: each lookup of an implied directory scanned every
    // name (some 3 * 10^9 comparisons); now it is one search of the sorted names.
    let deep = format!("{}/layer.tar", vec!["d"; 45].join("/"));
    let mut rest = Vec::with_capacity(150_001 * 512 + 2048);
    for i in 0..150_000 {
        rest.extend(raw_header(&format!("x/f{i}"), b'0', 0));
    }
    let mut h = tar::Header::new_gnu();
    h.set_path(&deep).unwrap();
    h.set_mode(0o644);
    h.set_size(0);
    h.set_cksum();
    rest.extend_from_slice(h.as_bytes());
    rest.extend_from_slice(&[0u8; 1024]);
    let layers = vec![deep.as_str(); 1000];
    let n = resolve_archive(
        legacy_archive(&layers, &rest),
        layerproof_image::Limits::default(),
    )
    .unwrap();
    assert_eq!(n, 1000);
}

#[test]
fn secrets_cut_by_the_shortening_or_encoded_never_reach_an_error() {
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("alice:{PASSWORD}"));
    // The basic header echoed so that the 200-character cut falls inside its base64: what
    // remained of it decoded to most of the password.
    let s = Server::start(Box::new(|req, _| match req.headers.get("authorization") {
        None => resp(401, &[("WWW-Authenticate", r#"Basic realm="x""#)], b""),
        Some(a) => resp(400, &[], format!("{}{a}", "x".repeat(180)).as_bytes()),
    }));
    let e = resolve(&client(&s.addr, with_password())).unwrap_err();
    let text = format!("{e} {e:?}");
    assert!(
        !text.contains(&basic[..8]),
        "a prefix of the credentials leaked: {text}"
    );
    assert_no_secret(&text);

    // An identity token (with characters a form encodes) echoed percent-encoded, in upper and
    // lower case, and base64-encoded by the registry.
    const ID: &str = "id/tok+en=a secret value";
    for echo in [
        "refresh_token=id%2Ftok%2Ben%3Da+secret+value",
        "refresh_token=id%2ftok%2ben%3da+secret+value",
        "token aWQvdG9rK2VuPWEgc2VjcmV0IHZhbHVl",
    ] {
        let s = Server::start(Box::new(move |_, _| resp(400, &[], echo.as_bytes())));
        let o = RegistryOptions {
            credentials: Some(Credentials::IdentityToken(Secret::new(ID))),
            ..opts()
        };
        let e = resolve(&client(&s.addr, o)).unwrap_err();
        let text = format!("{e} {e:?}");
        assert!(text.contains("<redacted>"), "{text}");
        for part in ["secret", "tok%2", "aWQvdG9r"] {
            assert!(
                !text.to_lowercase().contains(&part.to_lowercase()),
                "{echo}: {text}"
            );
        }
    }

    // A token endpoint's error body is not quoted at all.
    let s = Server::start(Box::new(|req, addr| {
        if req.path.starts_with("/token") {
            return resp(
                400,
                &[],
                b"grant_type=refresh_token&refresh_token=anything-at-all",
            );
        }
        resp(
            401,
            &[(
                "WWW-Authenticate",
                &format!(r#"Bearer realm="http://{addr}/token",service="s""#),
            )],
            b"",
        )
    }));
    let e = resolve(&client(&s.addr, with_password())).unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e}");
    assert!(e.to_string().ends_with("answered HTTP 400"), "{e}");
}

#[test]
fn redirects_and_realms_to_metadata_hosts_are_refused_without_connecting() {
    // A registry on loopback that sends the client to the cloud metadata address over https
    // (plain http was refused already), by a redirect and by a bearer realm.
    for how in ["redirect", "realm"] {
        let s = Server::start(Box::new(move |_, _| match how {
            "redirect" => resp(
                307,
                &[("Location", "https://169.254.169.254/latest/meta-data/")],
                b"",
            ),
            _ => resp(
                401,
                &[(
                    "WWW-Authenticate",
                    r#"Bearer realm="https://169.254.169.254/token",service="s""#,
                )],
                b"",
            ),
        }));
        let reg = client(&s.addr, opts());
        let start = Instant::now();
        let e = within_20s(how, move || resolve(&reg).map(|_| ())).unwrap_err();
        assert!(
            e.to_string()
                .contains("refusing to follow the registry to a link-local (cloud metadata) host"),
            "{how}: {e}"
        );
        assert!(e.to_string().contains("169.254.169.254"), "{how}: {e}");
        assert!(start.elapsed() < Duration::from_secs(5), "{how}");
    }
}

#[test]
fn a_legacy_archive_listing_one_image_many_times_has_it_once_and_is_capped() {
    use sha2::Digest as _;
    let cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let cfg_name = format!("{}.json", hex::encode(sha2::Sha256::digest(cfg)));
    let archive = |n: usize| {
        let entry = serde_json::json!({"Config": cfg_name, "RepoTags": ["a:b"],
            "Layers": ["layer.tar"]});
        let mj = serde_json::Value::Array(vec![entry; n]);
        let mut out = member("manifest.json", mj.to_string().as_bytes());
        out.extend(member(&cfg_name, cfg));
        out.extend(member("layer.tar", b"x"));
        out.extend_from_slice(&[0u8; 1024]);
        out
    };
    // Three entries for one image: one image (each was verified and explained once per entry).
    let n = resolve_archive(archive(3), layerproof_image::Limits::default()).unwrap();
    assert_eq!(n, 1, "layers of the images resolved");
    // 20000 entries: over the node limit before anything is hashed.
    let e = resolve_archive(archive(20_000), layerproof_image::Limits::default()).unwrap_err();
    assert!(
        e.to_string().ends_with(
            "20000 nodes: over the max-manifests limit of 10000 (raise it with --max-manifests)"
        ),
        "{e}"
    );
}
