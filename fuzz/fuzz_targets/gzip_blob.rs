//! A published gzip blob, as the blob level reads it: the fingerprint's own inflater (block
//! records, resume points) and the parallel check of Go's encoder fed by it in the same pass.
//! The input is the blob; whatever it holds, nothing may panic, and a check that says
//! `Identical` must have read exactly Go's bytes for the stream it decoded.
#![no_main]

use layerproof_compress::{fingerprint, go};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = fingerprint::fingerprint(data);
    let mut stream = Vec::new();
    let mut rd = data;
    let mut produce = |s: &mut dyn go::ResumeSink| {
        let mut tee = Tee(s, &mut stream);
        let _ = fingerprint::fingerprint_streaming(data, &mut tee);
        Ok(())
    };
    if let Ok(Ok(go::Outcome::Identical { .. })) =
        go::check_parallel(go::DEFAULT_COMPRESSION, 2, 4096, &mut rd, &mut produce)
    {
        assert_eq!(go::gzip(go::DEFAULT_COMPRESSION, &stream), data);
    }
});

/// Passes everything on and keeps a copy of the stream.
struct Tee<'a>(&'a mut dyn go::ResumeSink, &'a mut Vec<u8>);

impl std::io::Write for Tee<'_> {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let n = self.0.write(b)?;
        self.1.extend_from_slice(&b[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl go::ResumeSink for Tee<'_> {
    fn resume_point(&mut self, p: fingerprint::ResumePoint) {
        self.0.resume_point(p);
    }
}
