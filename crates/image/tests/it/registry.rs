//! The registry client against a real `docker-registry` (distribution 2.8) started by the
//! harness: plain HTTP, token auth with a self-made issuer, and faults injected by a proxy.
//! Fails (does not skip) when `docker-registry` or `openssl` is missing.

use std::io::Read;
use std::time::{Duration, Instant};

use crate::common::*;
use layerproof_image::chain::{self, Chain};
use layerproof_image::registry::auth::{Credentials, Secret};
use layerproof_image::{
    BlobCache, Error, ImageRef, ImageSource, PlatformSelector, Registry, RegistryOptions,
};

fn opts(cache: Option<&std::path::Path>) -> RegistryOptions {
    RegistryOptions {
        docker_config: Some("/nonexistent/config.json".into()),
        cache: cache.map(BlobCache::new),
        retry_base: Duration::from_millis(10),
        max_retry_after: Duration::from_secs(2),
        ..RegistryOptions::default()
    }
}

fn client(r: &str, o: RegistryOptions) -> Registry {
    match r.parse::<ImageRef>().unwrap() {
        ImageRef::Registry(rr) => Registry::new(rr, o).unwrap(),
        other => panic!("{other:?}"),
    }
}

/// Reads every layer blob fully (verified) and returns the bytes.
fn read_layers(src: &dyn ImageSource, c: &Chain) -> Result<Vec<Vec<u8>>, Error> {
    let mut out = Vec::new();
    for img in c.images() {
        for l in &img.layers {
            let mut b = Vec::new();
            src.blob(&l.blob)?
                .read_to_end(&mut b)
                .map_err(|e| Error::from_io(e, "blob"))?;
            out.push(b);
        }
    }
    Ok(out)
}

#[test]
fn plain_registry_by_tag_and_digest_index_and_single() {
    let reg = RegistryProc::start(None);
    let base = format!("http://{}", reg.addr);
    let top = push_layout(
        &base,
        "fixture/multi",
        None,
        &fixtures().join("oci-index"),
        "v1",
    );
    let cache = tempfile::tempdir().unwrap();

    // two-platform index by tag
    let src = client(
        &format!("{}/fixture/multi:v1", reg.addr),
        opts(Some(cache.path())),
    );
    let all = chain::resolve(&src, &PlatformSelector::All, 1 << 20).unwrap();
    assert_eq!(all.images().len(), 2);
    assert_eq!(all.shown_by.docker_pull.as_ref().unwrap().to_string(), top);
    assert_eq!(
        all.shown_by
            .docker_image_ls_digests
            .as_ref()
            .unwrap()
            .to_string(),
        top
    );
    assert_eq!(all.shown_by.registry_web_page.len(), 2);
    let blobs = read_layers(&src, &all).unwrap();
    assert_eq!(blobs.len(), 4);
    // the same chain as the layout it was pushed from
    let local = layerproof_image::open(
        &format!("oci:{}", fixtures().join("oci-index").display())
            .parse()
            .unwrap(),
        &Default::default(),
    )
    .unwrap();
    let lc = chain::resolve(local.as_ref(), &PlatformSelector::All, 1 << 20).unwrap();
    assert_eq!(
        serde_json::to_value(lc.images()).unwrap(),
        serde_json::to_value(all.images()).unwrap()
    );

    // by digest, one platform
    let arm = client(
        &format!("docker://{}/fixture/multi@{top}", reg.addr),
        opts(None),
    );
    let c = chain::resolve(
        &arm,
        &PlatformSelector::parse("linux/arm64").unwrap(),
        1 << 20,
    )
    .unwrap();
    assert_eq!(c.images().len(), 1);
    assert_eq!(c.images()[0].summary.platform.architecture, "arm64");

    // a per-platform manifest by digest: a single image, no index
    let m = all.shown_by.registry_web_page[0].to_string();
    let single = client(&format!("{}/fixture/multi@{m}", reg.addr), opts(None));
    let c = chain::resolve(&single, &PlatformSelector::Host, 1 << 20).unwrap();
    assert!(matches!(c.root, chain::Node::Image(_)));
    assert_eq!(c.shown_by.docker_pull.as_ref().unwrap().to_string(), m);

    // the cache is content-addressed and re-verified on read
    let d = &all.images()[0].layers[0].blob;
    let cached = cache.path().join("blobs/sha256").join(d.digest.hex());
    assert!(cached.is_file());
    let mut b = std::fs::read(&cached).unwrap();
    b[10] ^= 0xff;
    std::fs::write(&cached, &b).unwrap();
    let mut sink = Vec::new();
    let e = src.blob(d).unwrap().read_to_end(&mut sink).unwrap_err();
    assert!(matches!(
        Error::from_io(e, "x"),
        Error::DigestMismatch { .. }
    ));

    // digest pinned but the registry has other bytes under it: not found (the registry checks);
    // an unknown tag: not found
    let e = chain::resolve(
        &client(&format!("{}/fixture/multi:nope", reg.addr), opts(None)),
        &PlatformSelector::All,
        1 << 20,
    )
    .unwrap_err();
    assert!(matches!(e, Error::NotFound { .. }), "{e}");

    // manifest size cap
    let small = RegistryOptions {
        max_manifest_bytes: 100,
        ..opts(None)
    };
    let e = chain::resolve(
        &client(&format!("{}/fixture/multi:v1", reg.addr), small),
        &PlatformSelector::All,
        1 << 20,
    )
    .unwrap_err();
    assert!(matches!(e, Error::TooLarge { .. }), "{e}");
}

#[test]
fn docker_save_layout_pushed_as_docker_schema2() {
    // push the docker-26.1 image with Docker media types (as `docker push` does) from its blobs
    let reg = RegistryProc::start(None);
    let base = format!("http://{}", reg.addr);
    let local = layerproof_image::open(
        &format!(
            "docker-archive:{}",
            fixtures().join("docker-26.1-containerd.tar").display()
        )
        .parse()
        .unwrap(),
        &Default::default(),
    )
    .unwrap();
    let lc = chain::resolve(local.as_ref(), &PlatformSelector::Host, 1 << 20).unwrap();
    let img = lc.images()[0];
    let mut cfg = Vec::new();
    local
        .blob(&img.config)
        .unwrap()
        .read_to_end(&mut cfg)
        .unwrap();
    put_blob(&base, "fixture/docker", None, &cfg);
    let mut layers = Vec::new();
    for l in &img.layers {
        let mut b = Vec::new();
        local.blob(&l.blob).unwrap().read_to_end(&mut b).unwrap();
        put_blob(&base, "fixture/docker", None, &b);
        layers.push(serde_json::json!({"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": b.len(), "digest": l.blob.digest.to_string()}));
    }
    let m = serde_json::to_vec_pretty(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": cfg.len(), "digest": img.config.digest.to_string()},
        "layers": layers,
    }))
    .unwrap();
    put_manifest(
        &base,
        "fixture/docker",
        None,
        "latest",
        "application/vnd.docker.distribution.manifest.v2+json",
        &m,
    );
    let list = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
        "manifests": [{"mediaType": "application/vnd.docker.distribution.manifest.v2+json", "size": m.len(), "digest": sha256(&m), "platform": {"architecture": "amd64", "os": "linux"}}],
    }))
    .unwrap();
    put_manifest(
        &base,
        "fixture/docker",
        None,
        "list",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        &list,
    );

    let src = client(&format!("{}/fixture/docker", reg.addr), opts(None));
    let c = chain::resolve(&src, &PlatformSelector::Host, 1 << 20).unwrap();
    assert_eq!(
        c.images()[0].manifest.as_ref().unwrap().digest.to_string(),
        sha256(&m)
    );
    assert_eq!(c.images()[0].config.digest, img.config.digest);
    read_layers(&src, &c).unwrap();
    let src = client(&format!("{}/fixture/docker:list", reg.addr), opts(None));
    let c = chain::resolve(&src, &PlatformSelector::Host, 1 << 20).unwrap();
    match &c.root {
        chain::Node::Index {
            descriptor: Some(d),
            ..
        } => {
            assert_eq!(
                d.media_type,
                "application/vnd.docker.distribution.manifest.list.v2+json"
            );
            assert_eq!(d.digest.to_string(), sha256(&list));
        }
        other => panic!("{other:?}"),
    }
}

struct TokenSetup {
    issuer: std::sync::Arc<TokenIssuer>,
    reg: RegistryProc,
    top: String,
}

fn token_setup() -> TokenSetup {
    let issuer = TokenIssuer::start();
    let reg = RegistryProc::start(Some(&issuer));
    let base = format!("http://{}", reg.addr);
    // without a token the real registry challenges
    let resp = ureq_agent()
        .get(format!("{base}/v2/fixture/multi/manifests/v1"))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let ch = resp
        .headers()
        .get("www-authenticate")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(ch.contains("repository:fixture/multi:pull"), "{ch}");
    let tok = issuer.mint("fixture/multi", &["pull", "push"]);
    let top = push_layout(
        &base,
        "fixture/multi",
        Some(&tok),
        &fixtures().join("oci-index"),
        "v1",
    );
    let tok = issuer.mint("private/img", &["pull", "push"]);
    push_layout(
        &base,
        "private/img",
        Some(&tok),
        &fixtures().join("oci-index"),
        "v1",
    );
    TokenSetup { issuer, reg, top }
}

#[test]
fn token_auth_anonymous_and_with_docker_config() {
    let t = token_setup();
    let src = client(&format!("{}/fixture/multi:v1", t.reg.addr), opts(None));
    let c = chain::resolve(&src, &PlatformSelector::All, 1 << 20).unwrap();
    assert_eq!(c.shown_by.docker_pull.as_ref().unwrap().to_string(), t.top);
    read_layers(&src, &c).unwrap();
    let reqs = t.issuer.requests.lock().unwrap().clone();
    assert!(
        reqs.iter()
            .any(|r| r.contains("scope=repository%3Afixture%2Fmulti%3Apull")
                || r.contains("scope=repository:fixture/multi:pull")),
        "{reqs:?}"
    );
    // one token for the whole pull
    assert_eq!(reqs.len(), 1, "{reqs:?}");

    // private repository: anonymous fails with a clear error...
    let src = client(&format!("{}/private/img:v1", t.reg.addr), opts(None));
    let e = chain::resolve(&src, &PlatformSelector::All, 1 << 20).unwrap_err();
    assert!(matches!(e, Error::Auth { .. }), "{e}");
    // ...and succeeds with credentials from a Docker config.json `auths` entry
    let cfgdir = tempfile::tempdir().unwrap();
    let cfg = cfgdir.path().join("config.json");
    std::fs::write(
        &cfg,
        format!(
            r#"{{"auths":{{"{}":{{"auth":"YWxpY2U6c2VjcmV0"}}}}}}"#,
            t.reg.addr
        ),
    )
    .unwrap();
    let o = RegistryOptions {
        docker_config: Some(cfg),
        ..opts(None)
    };
    let src = client(&format!("{}/private/img:v1", t.reg.addr), o);
    let c = chain::resolve(&src, &PlatformSelector::Host, 1 << 20).unwrap();
    read_layers(&src, &c).unwrap();
    // the password never shows
    assert!(!format!("{src:?}").contains("secret"));
    let creds = Credentials::Basic {
        username: "alice".into(),
        password: Secret::new("secret"),
    };
    assert!(!format!("{creds:?}").contains("secret"));
}

fn faulty(t: &TokenSetup) -> FaultProxy {
    FaultProxy::start("127.0.0.1", &t.reg.addr)
}

#[test]
fn faults_tamper_truncate_retry_redirect() {
    let t = token_setup();
    let r = |p: &FaultProxy| format!("{}/fixture/multi:v1", p.addr);
    let amd = PlatformSelector::parse("linux/amd64").unwrap();

    // tampered blob bytes: refused with expected and actual digest, before any byte is handed out
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    let c = chain::resolve(&src, &amd, 1 << 20).unwrap();
    let layer = c.images()[0].layers[0].blob.clone();
    p.add(&format!("/blobs/{}", layer.digest), Fault::Tamper);
    let e = src.blob(&layer).err().expect("tampered blob must not open");
    let mut good = Vec::new();
    std::fs::File::open(
        fixtures()
            .join("oci-index/blobs/sha256")
            .join(layer.digest.hex()),
    )
    .unwrap()
    .read_to_end(&mut good)
    .unwrap();
    let last = good.len() - 1;
    good[last] ^= 1;
    match &e {
        Error::DigestMismatch {
            expected, actual, ..
        } => {
            assert_eq!(expected, &layer.digest);
            assert_eq!(actual.to_string(), sha256(&good));
            assert!(
                e.to_string().contains(&layer.digest.to_string())
                    && e.to_string().contains(&sha256(&good))
            );
        }
        other => panic!("{other}"),
    }

    // a tampered manifest fetched by digest
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    p.add("/manifests/sha256:", Fault::Tamper);
    let e = chain::resolve(&src, &amd, 1 << 20).unwrap_err();
    assert!(matches!(e, Error::DigestMismatch { .. }), "{e}");

    // a body cut short on every attempt
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    let c = chain::resolve(&src, &amd, 1 << 20).unwrap();
    let layer = c.images()[0].layers[0].blob.clone();
    p.add(&format!("/blobs/{}", layer.digest), Fault::Truncate);
    let e = src
        .blob(&layer)
        .err()
        .expect("truncated blob must not open");
    assert!(
        matches!(
            e,
            Error::SizeMismatch {
                truncated: true,
                ..
            }
        ),
        "{e}"
    );

    // 500 twice, then success
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    p.add(
        "/manifests/v1",
        Fault::FailTimes {
            status: 500,
            times: 2,
            retry_after: None,
        },
    );
    let c = chain::resolve(&src, &amd, 1 << 20).unwrap();
    read_layers(&src, &c).unwrap();
    let hits = p
        .log
        .lock()
        .unwrap()
        .requests
        .iter()
        .filter(|l| l.contains("/manifests/v1"))
        .count();
    assert!(hits >= 3, "{hits}");
    // 500 for ever: a bounded number of attempts
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    p.add(
        "/manifests/v1",
        Fault::FailTimes {
            status: 503,
            times: 100,
            retry_after: None,
        },
    );
    let e = chain::resolve(&src, &amd, 1 << 20).unwrap_err();
    assert!(matches!(e, Error::Http { status: 503, .. }), "{e}");

    // 429 with Retry-After: 1
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    p.add(
        "/blobs/",
        Fault::FailTimes {
            status: 429,
            times: 1,
            retry_after: Some(1),
        },
    );
    let start = Instant::now();
    let c = chain::resolve(&src, &amd, 1 << 20).unwrap();
    assert!(start.elapsed() >= Duration::from_secs(1));
    read_layers(&src, &c).unwrap();

    // blob redirected to another loopback host (as to S3/a CDN): followed, without Authorization
    let storage = Storage::start("127.0.0.2", fixtures().join("oci-index"));
    let p = faulty(&t);
    let src = client(&r(&p), opts(None));
    p.add(
        "/blobs/",
        Fault::Redirect {
            to: storage.addr.clone(),
        },
    );
    let c = chain::resolve(&src, &amd, 1 << 20).unwrap();
    read_layers(&src, &c).unwrap();
    let slog = storage.log.lock().unwrap().clone();
    assert!(slog.len() >= 3, "{slog:?}");
    assert!(slog.iter().all(|l| l.ends_with("auth=none")), "{slog:?}");
    let plog = p.log.lock().unwrap().requests.clone();
    assert!(
        plog.iter()
            .any(|l| l.contains("/blobs/") && l.ends_with("auth=present")),
        "{plog:?}"
    );
}

#[test]
fn plain_http_only_for_loopback_and_insecure_hosts() {
    let r = match "docker://registry.example.com/a/b:c"
        .parse::<ImageRef>()
        .unwrap()
    {
        ImageRef::Registry(r) => r,
        _ => unreachable!(),
    };
    // https by default: a plain-http realm from such a registry would be refused;
    // with --insecure-registry the host may use http (no request is made here)
    let o = RegistryOptions {
        insecure_registries: vec!["registry.example.com".into()],
        ..opts(None)
    };
    assert!(
        format!("{:?}", Registry::new(r.clone(), o).unwrap())
            .contains("http://registry.example.com")
    );
    assert!(
        format!("{:?}", Registry::new(r, opts(None)).unwrap())
            .contains("https://registry.example.com")
    );
}
