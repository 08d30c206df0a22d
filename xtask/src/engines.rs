//! `cargo xtask engines`: install, start, find and stop the real Docker engines used as oracles.
//!
//! Layout under the root (default `/tmp/layerproof-engines`):
//! ```text
//! d20/{data,exec,docker.sock,pid,log}     Docker 20.10 (Debian bookworm docker.io, /usr/bin/dockerd)
//! d26/{root,data,exec,docker.sock,pid,log} Docker 26.1 (Debian trixie packages extracted into root/)
//! apt-trixie/                              private apt state used to download the trixie packages
//! registry/{config.yml,data,pid,log}       distribution registry on 127.0.0.1:5000
//! docker-config/cli-plugins/docker-buildx  DOCKER_CONFIG for every client call (buildx for 26.1)
//! cache/                                   large generated inputs (the mmdebstrap rootfs)
//! ```
//! Works as root on a machine without systemd: daemons are started in their own process group
//! and survive this process. Engines that already answer (on our sockets, or on the sockets of
//! the older `engines.sh` layout) are reused, never restarted.

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub const REGISTRY_ADDR: &str = "127.0.0.1:5000";

/// Sockets of engines started by an older shell setup (`engines.sh`); reused when they answer.
const LEGACY_D20: &str = "/tmp/dockerd/docker.sock";
const LEGACY_D26: &str = "/tmp/d26/docker.sock";
const LEGACY_D26_ROOT: &str = "/tmp/d26/root";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    D20,
    D26,
}

impl Version {
    pub fn label(self) -> &'static str {
        match self {
            Version::D20 => "docker-20.10",
            Version::D26 => "docker-26.1",
        }
    }
    fn prefix(self) -> &'static str {
        match self {
            Version::D20 => "20.10.",
            Version::D26 => "26.1.",
        }
    }
    fn dir(self) -> &'static str {
        match self {
            Version::D20 => "d20",
            Version::D26 => "d26",
        }
    }
}

/// A running engine and the client that talks to it.
#[derive(Clone, Debug)]
pub struct Engine {
    pub version: Version,
    /// `unix:///…/docker.sock`
    pub host: String,
    pub client: PathBuf,
    pub config_dir: PathBuf,
    pub server_version: String,
}

impl Engine {
    /// A `docker` command for this engine. `buildkit` sets DOCKER_BUILDKIT.
    pub fn docker(&self, buildkit: Option<bool>) -> Command {
        let mut c = Command::new(&self.client);
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config_dir)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("BUILDX_BUILDER");
        if let Some(bk) = buildkit {
            c.env("DOCKER_BUILDKIT", if bk { "1" } else { "0" });
        }
        c
    }
}

/// Paths derived from the root.
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn new(root: &Path) -> Self {
        Layout {
            root: root.to_path_buf(),
        }
    }
    fn d(&self, v: Version) -> PathBuf {
        self.root.join(v.dir())
    }
    fn sock(&self, v: Version) -> PathBuf {
        self.d(v).join("docker.sock")
    }
    fn d26_root(&self) -> PathBuf {
        self.d(Version::D26).join("root")
    }
    pub fn config_dir(&self) -> PathBuf {
        self.root.join("docker-config")
    }
    fn registry(&self) -> PathBuf {
        self.root.join("registry")
    }

    /// The extracted trixie tree: ours, or the legacy one.
    fn find_d26_root(&self) -> Option<PathBuf> {
        [self.d26_root(), PathBuf::from(LEGACY_D26_ROOT)]
            .into_iter()
            .find(|r| r.join("usr/sbin/dockerd").is_file() && r.join("usr/bin/docker").is_file())
    }

    fn client(&self, v: Version) -> Option<PathBuf> {
        match v {
            // Debian's 20.10 client: the newer client insists on buildx for BuildKit.
            Version::D20 => Some(PathBuf::from("/usr/bin/docker")).filter(|p| p.is_file()),
            Version::D26 => self.find_d26_root().map(|r| r.join("usr/bin/docker")),
        }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Run `cmd`; its standard output, or an error with the command and both outputs.
pub(crate) fn run(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {cmd:?}"))?;
    if !out.status.success() {
        bail!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Asks the daemon at `sock` for its version, through `client`.
fn probe(client: &Path, config_dir: &Path, sock: &Path) -> Option<String> {
    if !sock.exists() {
        return None;
    }
    let out = Command::new(client)
        .env("DOCKER_HOST", format!("unix://{}", sock.display()))
        .env("DOCKER_CONFIG", config_dir)
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn find_running(l: &Layout, v: Version) -> Option<Engine> {
    let client = l.client(v)?;
    let legacy = match v {
        Version::D20 => LEGACY_D20,
        Version::D26 => LEGACY_D26,
    };
    // LAYERPROOF_NO_LEGACY=1 ignores engines started by the older shell setup (tests the start path).
    let reuse_legacy = std::env::var_os("LAYERPROOF_NO_LEGACY").is_none();
    let socks = std::iter::once(l.sock(v)).chain(reuse_legacy.then(|| PathBuf::from(legacy)));
    for sock in socks {
        if let Some(ver) = probe(&client, &l.config_dir(), &sock)
            && ver.starts_with(v.prefix())
        {
            return Some(Engine {
                version: v,
                host: format!("unix://{}", sock.display()),
                client: client.clone(),
                config_dir: l.config_dir(),
                server_version: ver,
            });
        }
    }
    None
}

fn registry_up() -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(
        &REGISTRY_ADDR.parse().expect("valid address"),
        Duration::from_secs(1),
    ) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut buf = [0u8; 64];
    let n = s.read(&mut buf).unwrap_or(0);
    buf[..n].starts_with(b"HTTP/1.") && buf[..n].windows(5).any(|w| w == b" 200 ")
}

/// Both engines, already running. Fails with a hint when one is missing.
pub fn discover(root: &Path) -> Result<Vec<Engine>> {
    let l = Layout::new(root);
    ensure_buildx_plugin(&l)?;
    let mut v = Vec::new();
    for ver in [Version::D20, Version::D26] {
        match find_running(&l, ver) {
            Some(e) => v.push(e),
            None => bail!(
                "{} is not running (looked at {} and the legacy socket); start the engines with `cargo xtask engines --root {}`",
                ver.label(),
                l.sock(ver).display(),
                root.display()
            ),
        }
    }
    Ok(v)
}

fn is_root() -> bool {
    run(Command::new("id").arg("-u"))
        .map(|s| s.trim() == "0")
        .unwrap_or(false)
}

fn apt_install_if_missing() -> Result<()> {
    let need = ["dockerd", "docker-registry", "pigz", "zstd", "mmdebstrap"];
    let missing: Vec<_> = need.iter().filter(|n| which(n).is_none()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "missing {missing:?}; installing them needs root (apt-get install docker.io docker-registry pigz zstd mmdebstrap)"
        );
    }
    eprintln!(
        "engines: installing docker.io docker-registry pigz zstd mmdebstrap (missing: {missing:?})"
    );
    run(Command::new("apt-get")
        .args(["update", "-qq"])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    run(Command::new("apt-get")
        .args([
            "install",
            "-y",
            "-qq",
            "docker.io",
            "docker-registry",
            "pigz",
            "zstd",
            "mmdebstrap",
        ])
        .env("DEBIAN_FRONTEND", "noninteractive"))?;
    Ok(())
}

/// Downloads docker.io 26.1 and friends from Debian trixie with a private apt state and
/// extracts them (no install), unless an extracted tree already exists.
fn ensure_d26_tree(l: &Layout) -> Result<PathBuf> {
    if let Some(r) = l.find_d26_root() {
        return Ok(r);
    }
    let apt = l.root.join("apt-trixie");
    for d in ["lists/partial", "cache/archives/partial"] {
        fs::create_dir_all(apt.join(d))?;
    }
    let debs = l.d(Version::D26).join("debs");
    fs::create_dir_all(&debs)?;
    let sources = apt.join("sources.list");
    fs::write(
        &sources,
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main\n",
    )?;
    let opts = [
        format!("Dir::Etc::sourcelist={}", sources.display()),
        "Dir::Etc::sourceparts=-".to_string(),
        format!("Dir::State::Lists={}", apt.join("lists").display()),
        format!("Dir::Cache={}", apt.join("cache").display()),
    ];
    let apt_get = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        for o in &opts {
            c.arg("-o").arg(o);
        }
        c.args(args).current_dir(&debs);
        c
    };
    eprintln!("engines: downloading Docker 26.1 packages from Debian trixie");
    run(&mut apt_get(&["update", "-qq"]))?;
    run(&mut apt_get(&[
        "download",
        "docker.io",
        "docker-buildx",
        "containerd",
        "runc",
        "docker-cli",
    ]))?;
    let root = l.d26_root();
    fs::create_dir_all(&root)?;
    for e in fs::read_dir(&debs)? {
        let p = e?.path();
        if p.extension().is_some_and(|x| x == "deb") {
            run(Command::new("dpkg").arg("-x").arg(&p).arg(&root))?;
        }
    }
    l.find_d26_root().with_context(|| {
        format!(
            "extracted trixie packages into {} but usr/sbin/dockerd is missing",
            root.display()
        )
    })
}

fn ensure_buildx_plugin(l: &Layout) -> Result<()> {
    let dst_dir = l.config_dir().join("cli-plugins");
    let dst = dst_dir.join("docker-buildx");
    if dst.is_file() {
        return Ok(());
    }
    let Some(r) = l.find_d26_root() else {
        return Ok(());
    };
    let src = r.join("usr/libexec/docker/cli-plugins/docker-buildx");
    if src.is_file() {
        fs::create_dir_all(&dst_dir).with_context(|| format!("creating {}", dst_dir.display()))?;
        fs::copy(&src, &dst)
            .with_context(|| format!("copying {} to {}", src.display(), dst.display()))?;
    }
    Ok(())
}

/// Starts `cmd` detached in its own process group, logging to `log`, and writes its pid.
fn spawn_daemon(mut cmd: Command, log: &Path, pidfile: Option<&Path>) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let out = fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let err = out.try_clone()?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    if let Some(p) = pidfile {
        fs::write(p, format!("{}\n", child.id()))?;
    }
    Ok(())
}

fn start_dockerd(l: &Layout, v: Version, d26_root: &Path) -> Result<()> {
    let dir = l.d(v);
    for sub in ["data", "exec"] {
        fs::create_dir_all(dir.join(sub))
            .with_context(|| format!("creating {}", dir.join(sub).display()))?;
    }
    let _ = fs::remove_file(l.sock(v));
    let (dockerd, path) = match v {
        Version::D20 => (
            which("dockerd").context("dockerd not found after apt install")?,
            std::env::var("PATH").unwrap_or_default(),
        ),
        Version::D26 => (
            d26_root.join("usr/sbin/dockerd"),
            format!(
                "{}:{}:{}",
                d26_root.join("usr/bin").display(),
                d26_root.join("usr/sbin").display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
    };
    let mut c = Command::new(dockerd);
    c.env("PATH", path)
        .arg("--data-root")
        .arg(dir.join("data"))
        .arg("--exec-root")
        .arg(dir.join("exec"))
        .arg("--host")
        .arg(format!("unix://{}", l.sock(v).display()))
        .arg("--pidfile")
        .arg(dir.join("pid"))
        .args([
            "--bridge",
            "none",
            "--iptables=false",
            "--storage-driver",
            "overlay2",
        ]);
    if v == Version::D26 {
        // 20.10 does not know --ip6tables.
        c.arg("--ip6tables=false");
    }
    eprintln!(
        "engines: starting {} (log {})",
        v.label(),
        dir.join("log").display()
    );
    spawn_daemon(c, &dir.join("log"), None)
}

fn start_registry(l: &Layout) -> Result<()> {
    let dir = l.registry();
    fs::create_dir_all(dir.join("data"))?;
    let cfg = dir.join("config.yml");
    fs::write(
        &cfg,
        format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {REGISTRY_ADDR}\n",
            dir.join("data").display()
        ),
    )?;
    let bin = which("docker-registry").context("docker-registry not found after apt install")?;
    let mut c = Command::new(bin);
    c.arg("serve").arg(&cfg);
    eprintln!("engines: starting registry on {REGISTRY_ADDR}");
    spawn_daemon(c, &dir.join("log"), Some(&dir.join("pid")))
}

fn tail(p: &Path) -> String {
    let s = fs::read_to_string(p).unwrap_or_default();
    let lines: Vec<_> = s.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Idempotent: install, extract, start what is not running, wait until everything answers.
pub fn start(root: &Path) -> Result<Vec<Engine>> {
    let l = Layout::new(root);
    fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    apt_install_if_missing()?;
    let d26_root = ensure_d26_tree(&l)?;
    ensure_buildx_plugin(&l)?;

    for v in [Version::D20, Version::D26] {
        match find_running(&l, v) {
            Some(e) => eprintln!("engines: {} already running at {}", v.label(), e.host),
            None => {
                if !is_root() {
                    bail!(
                        "{} is not running and starting dockerd needs root",
                        v.label()
                    );
                }
                start_dockerd(&l, v, &d26_root)?;
            }
        }
    }
    if registry_up() {
        eprintln!("engines: registry already answering on {REGISTRY_ADDR}");
    } else {
        start_registry(&l)?;
    }

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d20 = find_running(&l, Version::D20);
        let d26 = find_running(&l, Version::D26);
        let reg = registry_up();
        if let (Some(a), Some(b), true) = (&d20, &d26, reg) {
            return Ok(vec![a.clone(), b.clone()]);
        }
        if Instant::now() > deadline {
            let mut msg = String::from("engines did not become ready within 60 s:");
            if d20.is_none() {
                msg += &format!(
                    "\n--- docker-20.10 log ---\n{}",
                    tail(&l.d(Version::D20).join("log"))
                );
            }
            if d26.is_none() {
                msg += &format!(
                    "\n--- docker-26.1 log ---\n{}",
                    tail(&l.d(Version::D26).join("log"))
                );
            }
            if !reg {
                msg += &format!(
                    "\n--- registry log ---\n{}",
                    tail(&l.registry().join("log"))
                );
            }
            bail!(msg);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Stops the daemons this root started (pid files under the root only).
pub fn stop(root: &Path) -> Result<()> {
    let l = Layout::new(root);
    let pidfiles = [
        (l.d(Version::D20).join("pid"), "docker-20.10"),
        (l.d(Version::D26).join("pid"), "docker-26.1"),
        (l.registry().join("pid"), "registry"),
    ];
    let mut any = false;
    for (pf, name) in pidfiles {
        let Ok(s) = fs::read_to_string(&pf) else {
            continue;
        };
        let pid = s.trim();
        if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        any = true;
        let alive = Path::new("/proc").join(pid).exists();
        if alive {
            eprintln!("engines: stopping {name} (pid {pid})");
            let _ = Command::new("kill").arg(pid).status();
            let deadline = Instant::now() + Duration::from_secs(20);
            while Path::new("/proc").join(pid).exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
        }
        let _ = fs::remove_file(&pf);
    }
    if !any {
        eprintln!("engines: nothing started under {} to stop", root.display());
    }
    Ok(())
}

pub fn print(engines: &[Engine]) {
    for e in engines {
        println!(
            "{:<13} {}  server {}  client {}",
            e.version.label(),
            e.host,
            e.server_version,
            e.client.display()
        );
    }
    println!("{:<13} http://{REGISTRY_ADDR}", "registry");
    if let Some(e) = engines.first() {
        println!("DOCKER_CONFIG={}", e.config_dir.display());
    }
}
