//! `go_gzip`: our Go-exact gzip from the command line, for comparing against real Go.
//!
//! ```text
//! cargo run --release -p layerproof-compress --example go_gzip -- [-level N] [-chunk N] [-raw] < in > out.gz
//! cargo run --release -p layerproof-compress --example go_gzip -- inputs DIR   # the fixture inputs
//! ```
//!
//! Flags mirror `testdata/compress/go/gogzip` (the Go program), so a shell loop can run both.

use std::io::{self, Read, Write};
use std::process::ExitCode;

use layerproof_compress::go::{DEFAULT_COMPRESSION, FlateWriter, GzipWriter};

#[path = "../tests/it/go_gzip/inputs.rs"]
mod inputs;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("go_gzip: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("inputs") {
        let dir = std::path::PathBuf::from(args.get(1).ok_or_else(|| bad("inputs DIR"))?);
        std::fs::create_dir_all(&dir)?;
        for (name, data) in inputs::generated() {
            std::fs::write(dir.join(name), data)?;
        }
        return Ok(());
    }
    let mut level = DEFAULT_COMPRESSION;
    let mut chunk = 32 * 1024;
    let mut raw = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .and_then(|v| v.parse::<i64>().ok())
                .ok_or_else(|| bad("missing or bad number"))
        };
        match a.as_str() {
            "-level" => level = value()? as i32,
            "-chunk" => chunk = value()?.max(1) as usize,
            "-raw" => raw = true,
            _ => return Err(bad(&format!("unknown argument {a}"))),
        }
    }
    let stdout = io::stdout().lock();
    let out = io::BufWriter::with_capacity(1 << 20, stdout);
    let mut input = io::stdin().lock();
    let mut buf = vec![0u8; chunk];
    let mut out = if raw {
        let mut w = FlateWriter::new(out, level).map_err(|e| bad(&e.to_string()))?;
        pump(&mut input, &mut w, &mut buf)?;
        w.finish()?
    } else {
        let mut w = GzipWriter::new(out, level).map_err(|e| bad(&e.to_string()))?;
        pump(&mut input, &mut w, &mut buf)?;
        w.finish()?
    };
    out.flush()
}

/// Copy in writes of exactly `buf.len()` bytes (except the last), like the Go program.
fn pump(input: &mut impl Read, w: &mut impl Write, buf: &mut [u8]) -> io::Result<()> {
    loop {
        let mut n = 0;
        while n < buf.len() {
            let k = input.read(&mut buf[n..])?;
            if k == 0 {
                break;
            }
            n += k;
        }
        if n == 0 {
            return Ok(());
        }
        w.write_all(&buf[..n])?;
        if n < buf.len() {
            return Ok(());
        }
    }
}

fn bad(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg.to_string())
}
