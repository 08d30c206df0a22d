//! Helpers shared by the CLI's end-to-end tests: [`check`] runs the built `layerproof` once,
//! and [`Run::snapshot`] compares everything it printed with a file under
//! `testdata/snapshots/cli/`. `UPDATE_EXPECT=1 cargo test -p layerproof-cli` rewrites the
//! snapshots that differ (review the diff; never edit them by hand).
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root (commands run there, so paths in tests are repository-relative).
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// One run of `layerproof`: its arguments, exit code and output.
#[derive(Debug)]
pub struct Run {
    args: Vec<String>,
    /// The exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
    /// Texts replaced before a snapshot compares (temporary paths).
    redactions: Vec<(String, &'static str)>,
}

/// Run the built `layerproof` in the repository root, without colour and at clap's default
/// help width whatever the terminal says.
pub fn check(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_layerproof"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .env_remove("COLUMNS")
        .env_remove("LINES")
        .output()
        .expect("run layerproof");
    Run {
        args: args.iter().map(|a| a.to_string()).collect(),
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        redactions: Vec::new(),
    }
}

/// `layerproof verify` of the README's example (`examples/tiny`) against the image Docker
/// `engine` (`20.10` or `26.1`) saved, with `extra` arguments.
pub fn verify_tiny(engine: &str, extra: &[&str]) -> Run {
    let image = format!("docker-archive:examples/tiny/image-docker-{engine}.tar");
    let args = [
        "verify",
        "--dockerfile",
        "examples/tiny/Dockerfile",
        "--image",
        &image,
    ];
    check(&[&args[..], extra].concat())
}

impl Run {
    /// Asserts the exit code, showing the output when it differs.
    #[track_caller]
    pub fn code(self, want: i32) -> Self {
        assert_eq!(
            self.code, want,
            "layerproof {:?}\n--- stdout\n{}--- stderr\n{}",
            self.args, self.stdout, self.stderr
        );
        self
    }

    /// Standard output as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: not JSON:\n{}", self.stdout))
    }

    /// Shows `text` (a temporary path) as `shown` in snapshots.
    pub fn redact(mut self, text: impl AsRef<Path>, shown: &'static str) -> Self {
        let text = text.as_ref().display().to_string();
        self.redactions.push((text, shown));
        self
    }

    /// The run as a snapshot shows it: the command, the exit code and both streams, with
    /// temporary paths redacted and elapsed times (`done in 35 ms`, JUnit's `time="0.046"`)
    /// blanked out.
    fn transcript(&self) -> String {
        let redact = |s: &str| {
            let mut s = s.to_string();
            for (text, shown) in &self.redactions {
                s = s.replace(text, shown);
            }
            s
        };
        let args: Vec<String> = self.args.iter().map(|a| redact(a)).collect();
        let stream = |s: &str| {
            let s = blank_times(&redact(s));
            if s.is_empty() || s.ends_with('\n') {
                s
            } else {
                s + "\n"
            }
        };
        format!(
            "$ layerproof {}\nexit {}\n--- stdout\n{}--- stderr\n{}",
            args.join(" "),
            self.code,
            stream(&self.stdout),
            stream(&self.stderr)
        )
    }

    /// Compares the run with `testdata/snapshots/cli/<name>.txt`; with `UPDATE_EXPECT=1`
    /// writes it instead when it differs.
    #[track_caller]
    pub fn snapshot(&self, name: &str) -> &Self {
        let path = repo()
            .join("testdata/snapshots/cli")
            .join(format!("{name}.txt"));
        let got = self.transcript();
        let want = std::fs::read_to_string(&path).unwrap_or_default();
        if got == want {
            return self;
        }
        if std::env::var_os("UPDATE_EXPECT").is_some() {
            std::fs::create_dir_all(path.parent().expect("a folder")).expect("snapshot folder");
            std::fs::write(&path, &got).expect("write snapshot");
            return self;
        }
        panic!(
            "{} differs from this run (UPDATE_EXPECT=1 rewrites it; review the diff):\n\
             --- snapshot\n{want}--- this run\n{got}",
            path.display()
        );
    }
}

/// Elapsed times, the only part of the output that changes from run to run.
fn blank_times(s: &str) -> String {
    let lines: Vec<String> = s
        .split('\n')
        .map(|l| {
            if l.starts_with("done in ") {
                "done in [elapsed]".to_string()
            } else {
                blank_attribute(l, " time=\"")
            }
        })
        .collect();
    lines.join("\n")
}

/// Every value of the XML attribute that `key` (` time="`) opens, as `[elapsed]`.
fn blank_attribute(line: &str, key: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(key) {
        let (head, tail) = rest.split_at(at + key.len());
        out.push_str(head);
        out.push_str("[elapsed]");
        rest = tail.find('"').map_or("", |end| &tail[end..]);
    }
    out.push_str(rest);
    out
}
