//! Compression detection and decoders, as Docker's `ADD` applies them (spec §2.3).
//!
//! Docker's go-archive `compression.DecompressStream` peeks at the first **10 bytes** of the
//! source (an EOF during the peek is not an error) and checks, in this order:
//!
//! | format | magic | decoder here | Docker's decoder |
//! |---|---|---|---|
//! | bzip2 | `42 5A 68` (`BZh`) | `bzip2` crate, all concatenated streams | Go `compress/bzip2` |
//! | gzip | `1F 8B 08` | `flate2` `MultiGzDecoder` (every member) | `unpigz -d -c`, or Go `compress/gzip` (multistream) |
//! | xz | `FD 37 7A 58 5A 00` | `liblzma`, concatenated streams (like `xz -d`) | `xz -d -c -q` |
//! | zstd | `28 B5 2F FD`, or a skippable frame (LE u32 at 0 `& 0xFFFFFFF0 == 0x184D2A50`, needs ≥ 8 bytes) | `zstd` crate, all frames, window up to 2^29 | `klauspost/compress/zstd` |
//! | anything else | — | bytes passed through | treated as an uncompressed tar |
//!
//! Docker 20.10 has no zstd entry, so it copies a zstd file verbatim (oracle notes); that is
//! [`DecompressOptions::zstd`].
//!
//! Every decoder error comes out as an [`io::Error`] whose message names the format
//! (`"gzip stream: …"`). [`DecompressOptions::max_decompressed_bytes`] bounds the total output
//! (issue 8: decompression bombs); exceeding it yields an [`io::Error`] carrying
//! [`LimitExceeded`], which names the limit.
//!
//! Known deviations from Docker: decoders are Rust/C libraries, not Go's or the external tools.
//! They accept the same well-formed streams; on malformed input the error text differs and the
//! point at which an error surfaces may differ (for example Go's `gzip.NewReader` rejects a bad
//! gzip header before the first read, here the first read fails). One difference in what is
//! accepted: Go's `compress/gzip` reads a header's file name or comment into a 512-byte buffer
//! and fails with `ErrHeader` when either is 512 bytes or longer without its NUL (READ
//! `gunzip.go`, `readString`); `flate2` and `unpigz` accept them. Which one Docker follows
//! depends on `unpigz` being on the daemon's `$PATH` (spec §2.3).

use std::fmt;
use std::io::{self, BufReader, Read};

/// Number of bytes Docker peeks at to pick a decompressor.
pub const PEEK_LEN: usize = 10;

/// Capacity of the buffer placed in front of each decoder.
const DECODER_BUF: usize = 128 * 1024;

/// zstd window limit: klauspost/compress's default maximum window (`1 << 29`) on 64-bit.
const ZSTD_WINDOW_LOG_MAX: u32 = 29;

/// A compression format Docker recognises by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Compression {
    /// No recognised magic: the bytes are read as an uncompressed tar.
    Identity,
    /// gzip (`1f 8b 08`).
    Gzip,
    /// bzip2 (`BZh`).
    Bzip2,
    /// xz (`fd 37 7a 58 5a 00`).
    Xz,
    /// zstd (frame magic or a skippable frame).
    Zstd,
}

impl Compression {
    /// Lower-case name, as used in messages and reports (`"identity"`, `"gzip"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::Identity => "identity",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

const BZIP2_MAGIC: &[u8] = b"BZh";
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b, 0x08];
const XZ_MAGIC: &[u8] = &[0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const ZSTD_SKIPPABLE_START: u32 = 0x184D_2A50;
const ZSTD_SKIPPABLE_MASK: u32 = 0xFFFF_FFF0;

fn is_zstd(peek: &[u8]) -> bool {
    if peek.starts_with(ZSTD_MAGIC) {
        return true;
    }
    match peek {
        [a, b, c, d, _, _, _, _, ..] => {
            u32::from_le_bytes([*a, *b, *c, *d]) & ZSTD_SKIPPABLE_MASK == ZSTD_SKIPPABLE_START
        }
        _ => false,
    }
}

/// Detect the compression from the first bytes of a stream, in Docker's order
/// (bzip2, gzip, xz, zstd, else identity). Only the first [`PEEK_LEN`] bytes matter.
pub fn detect(peek: &[u8]) -> Compression {
    let peek = &peek[..peek.len().min(PEEK_LEN)];
    if peek.starts_with(BZIP2_MAGIC) {
        Compression::Bzip2
    } else if peek.starts_with(GZIP_MAGIC) {
        Compression::Gzip
    } else if peek.starts_with(XZ_MAGIC) {
        Compression::Xz
    } else if is_zstd(peek) {
        Compression::Zstd
    } else {
        Compression::Identity
    }
}

/// How to open a possibly compressed stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecompressOptions {
    /// Whether zstd is recognised. Docker ≥ 23 (go-archive) does; Docker 20.10 does not and
    /// reads a zstd file as an (invalid) uncompressed tar. Default: `true`.
    pub zstd: bool,
    /// Upper bound on the total number of bytes the stream may produce after decompression
    /// (applies to identity too). `None` means unbounded. Default: 64 GiB.
    pub max_decompressed_bytes: Option<u64>,
}

/// Default for [`DecompressOptions::max_decompressed_bytes`]: 64 GiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: u64 = 64 << 30;

impl Default for DecompressOptions {
    fn default() -> Self {
        DecompressOptions {
            zstd: true,
            max_decompressed_bytes: Some(DEFAULT_MAX_DECOMPRESSED_BYTES),
        }
    }
}

/// The decompressed output exceeded [`DecompressOptions::max_decompressed_bytes`].
///
/// Delivered as the inner error of an [`io::Error`] (kind [`io::ErrorKind::Other`]); find it
/// with [`LimitExceeded::find`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "{compression} stream: decompressed data exceeds the max-decompressed-bytes limit of \
     {limit} bytes (raise it with --max-decompressed-bytes)"
)]
pub struct LimitExceeded {
    /// The configured limit, in bytes.
    pub limit: u64,
    /// The format being decoded.
    pub compression: Compression,
}

impl LimitExceeded {
    /// Find a [`LimitExceeded`] inside an [`io::Error`] produced by this module.
    pub fn find(err: &io::Error) -> Option<LimitExceeded> {
        err.get_ref()?.downcast_ref::<LimitExceeded>().copied()
    }
}

/// How [`open`] opened a stream: the format it decompresses, what the magic bytes said, and
/// the output bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opened {
    compression: Compression,
    magic: Compression,
    limit: Option<u64>,
}

impl Opened {
    /// The format the stream is decompressed as.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Whether [`open`] with `options` would yield the same bytes and bound: the same output
    /// bound, and a zstd switch that differs only where the magic is not zstd's.
    pub fn same_for(&self, options: &DecompressOptions) -> bool {
        options.max_decompressed_bytes == self.limit
            && (self.magic != Compression::Zstd
                || options.zstd == (self.compression == Compression::Zstd))
    }
}

/// A decompressed stream: [`Read`] yields the decompressed bytes.
///
/// It counts the bytes it produced and enforces the configured output limit.
pub struct Decompressed<'a> {
    compression: Compression,
    /// What the magic bytes say, before the options had their say (zstd may be off).
    magic: Compression,
    inner: Box<dyn Read + Send + 'a>,
    produced: u64,
    limit: Option<u64>,
}

impl fmt::Debug for Decompressed<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decompressed")
            .field("compression", &self.compression)
            .field("produced", &self.produced)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<'a> Decompressed<'a> {
    /// The detected format.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// How the stream was opened ([`Opened::same_for`] tells whether other options would
    /// open it the same way).
    pub fn opened(&self) -> Opened {
        Opened {
            compression: self.compression,
            magic: self.magic,
            limit: self.limit,
        }
    }

    /// Decompressed bytes produced so far.
    pub fn bytes_out(&self) -> u64 {
        self.produced
    }

    /// Turn into the plain boxed reader (the limit stays enforced).
    pub fn into_boxed(self) -> Box<dyn Read + Send + 'a> {
        Box::new(self)
    }
}

impl Read for Decompressed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let buf = match self.limit {
            // Ask for at most one byte beyond the limit, so that exceeding it is noticed
            // without decoding (much) more than the limit.
            Some(limit) => {
                let allowed = limit.saturating_sub(self.produced).saturating_add(1);
                let len = usize::try_from(allowed)
                    .unwrap_or(usize::MAX)
                    .min(buf.len());
                &mut buf[..len]
            }
            None => buf,
        };
        let n = self.inner.read(buf)?;
        self.produced = self.produced.saturating_add(n as u64);
        if let Some(limit) = self.limit
            && self.produced > limit
        {
            return Err(io::Error::other(LimitExceeded {
                limit,
                compression: self.compression,
            }));
        }
        Ok(n)
    }
}

/// Maps a decoder's errors to ones naming the format.
struct Named<R> {
    inner: R,
    compression: Compression,
}

impl<R: Read> Read for Named<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            if e.kind() == io::ErrorKind::Interrupted {
                return e;
            }
            io::Error::new(e.kind(), format!("{} stream: {}", self.compression, e))
        })
    }
}

/// Read up to [`PEEK_LEN`] bytes, retrying short reads like Go's `bufio.Reader.Peek`.
/// EOF ends the peek early; any other error is returned.
fn peek<R: Read>(r: &mut R) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; PEEK_LEN];
    let mut n = 0;
    while n < PEEK_LEN {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(buf[..n].to_vec())
}

/// Open a possibly compressed stream the way Docker's `DecompressStream` does: peek, detect,
/// and wrap the right decoder. No byte of the source is lost (the peeked bytes are replayed).
///
/// Fails only if reading the first bytes fails (not on EOF) or a decoder cannot be set up;
/// errors in the compressed data surface while reading.
pub fn open<'a, R: Read + Send + 'a>(
    mut source: R,
    options: &DecompressOptions,
) -> io::Result<Decompressed<'a>> {
    let head = peek(&mut source)?;
    let magic = detect(&head);
    let mut compression = magic;
    if compression == Compression::Zstd && !options.zstd {
        compression = Compression::Identity;
    }
    let replay = io::Cursor::new(head).chain(source);
    let inner: Box<dyn Read + Send + 'a> = match compression {
        Compression::Identity => Box::new(replay),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(
            BufReader::with_capacity(DECODER_BUF, replay),
        )),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(
            BufReader::with_capacity(DECODER_BUF, replay),
        )),
        Compression::Xz => {
            let stream = liblzma::stream::Stream::new_stream_decoder(
                u64::MAX,
                liblzma::stream::CONCATENATED,
            )
            .map_err(|e| io::Error::other(format!("xz stream: cannot set up decoder: {e}")))?;
            Box::new(liblzma::bufread::XzDecoder::new_stream(
                BufReader::with_capacity(DECODER_BUF, replay),
                stream,
            ))
        }
        Compression::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(BufReader::with_capacity(
                DECODER_BUF,
                replay,
            ))
            .map_err(|e| {
                io::Error::new(e.kind(), format!("zstd stream: cannot set up decoder: {e}"))
            })?;
            decoder.window_log_max(ZSTD_WINDOW_LOG_MAX).map_err(|e| {
                io::Error::new(e.kind(), format!("zstd stream: cannot set up decoder: {e}"))
            })?;
            Box::new(decoder)
        }
    };
    let inner: Box<dyn Read + Send + 'a> = if compression == Compression::Identity {
        inner
    } else {
        Box::new(Named { inner, compression })
    };
    Ok(Decompressed {
        compression,
        magic,
        inner,
        produced: 0,
        limit: options.max_decompressed_bytes,
    })
}

/// [`open`] with default options, returning the format and a boxed reader
/// (the shape of Docker's `DecompressStream`).
pub fn decompress_stream<'a, R: Read + Send + 'a>(
    source: R,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let d = open(source, &DecompressOptions::default())?;
    Ok((d.compression(), d.into_boxed()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const DATA: &[u8] = b"hello, layerproof! this is some data that compresses.";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn bzip2(data: &[u8]) -> Vec<u8> {
        let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn xz(data: &[u8]) -> Vec<u8> {
        let mut e = liblzma::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }
    fn zstd(data: &[u8]) -> Vec<u8> {
        zstd::stream::encode_all(data, 3).unwrap()
    }

    /// A reader that hands out one byte per call.
    struct OneByte<R>(R);
    impl<R: Read> Read for OneByte<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if buf.is_empty() {
                return Ok(0);
            }
            self.0.read(&mut buf[..1])
        }
    }

    fn roundtrip(input: &[u8], opts: &DecompressOptions) -> (Compression, io::Result<Vec<u8>>) {
        let mut d = open(input, opts).unwrap();
        let mut out = Vec::new();
        let r = d.read_to_end(&mut out).map(|_| out);
        (d.compression(), r)
    }

    #[test]
    fn opened_tells_which_options_read_the_same_bytes() {
        let zstd_on = DecompressOptions::default();
        let zstd_off = DecompressOptions {
            zstd: false,
            ..DecompressOptions::default()
        };
        let other_bound = DecompressOptions {
            max_decompressed_bytes: Some(1 << 20),
            ..DecompressOptions::default()
        };
        // the zstd switch only matters to a zstd stream
        for (input, switch_matters) in [
            (gzip(DATA), false),
            (zstd(DATA), true),
            (DATA.to_vec(), false),
        ] {
            let opened = open(&input[..], &zstd_on).unwrap().opened();
            assert!(opened.same_for(&zstd_on));
            assert_eq!(opened.same_for(&zstd_off), !switch_matters);
            assert!(!opened.same_for(&other_bound));
            let opened = open(&input[..], &zstd_off).unwrap().opened();
            assert!(opened.same_for(&zstd_off));
            assert_eq!(opened.same_for(&zstd_on), !switch_matters);
        }
    }

    #[test]
    fn detect_table() {
        assert_eq!(detect(b"BZh91AY&SY"), Compression::Bzip2);
        assert_eq!(detect(b"BZ"), Compression::Identity);
        assert_eq!(detect(&[0x1f, 0x8b, 0x08, 0]), Compression::Gzip);
        assert_eq!(detect(&[0x1f, 0x8b, 0x07, 0]), Compression::Identity);
        assert_eq!(detect(&[0xfd, b'7', b'z', b'X', b'Z', 0]), Compression::Xz);
        assert_eq!(
            detect(&[0xfd, b'7', b'z', b'X', b'Z']),
            Compression::Identity
        );
        assert_eq!(detect(&[0x28, 0xb5, 0x2f, 0xfd]), Compression::Zstd);
        // Skippable frames 0x184D2A50..=0x184D2A5F, need 8 bytes.
        assert_eq!(
            detect(&[0x5f, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]),
            Compression::Zstd
        );
        assert_eq!(
            detect(&[0x50, 0x2a, 0x4d, 0x18, 0, 0, 0]),
            Compression::Identity
        );
        assert_eq!(
            detect(&[0x60, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]),
            Compression::Identity
        );
        assert_eq!(detect(b""), Compression::Identity);
        assert_eq!(detect(b"ustar"), Compression::Identity);
        // Only the first 10 bytes count.
        let mut long = vec![0u8; 10];
        long.extend_from_slice(b"BZh");
        assert_eq!(detect(&long), Compression::Identity);
    }

    #[test]
    fn each_format_roundtrips_even_one_byte_at_a_time() {
        let cases: Vec<(Compression, Vec<u8>)> = vec![
            (Compression::Identity, DATA.to_vec()),
            (Compression::Gzip, gzip(DATA)),
            (Compression::Bzip2, bzip2(DATA)),
            (Compression::Xz, xz(DATA)),
            (Compression::Zstd, zstd(DATA)),
        ];
        for (want, input) in cases {
            let (c, out) = roundtrip(&input, &DecompressOptions::default());
            assert_eq!(c, want);
            assert_eq!(out.unwrap(), DATA, "{want}");
            let mut d = open(OneByte(&input[..]), &DecompressOptions::default()).unwrap();
            assert_eq!(d.compression(), want);
            let mut out = Vec::new();
            d.read_to_end(&mut out).unwrap();
            assert_eq!(out, DATA, "{want} one byte at a time");
            assert_eq!(d.bytes_out(), DATA.len() as u64);
        }
    }

    #[test]
    fn short_inputs_are_identity() {
        for input in [&b""[..], b"a", b"BZ", &[0x1f, 0x8b]] {
            let (c, out) = roundtrip(input, &DecompressOptions::default());
            assert_eq!(c, Compression::Identity);
            assert_eq!(out.unwrap(), input);
        }
    }

    #[test]
    fn multi_member_gzip_reads_all_members() {
        let mut input = gzip(b"first member|");
        input.extend(gzip(b"second member"));
        let (c, out) = roundtrip(&input, &DecompressOptions::default());
        assert_eq!(c, Compression::Gzip);
        assert_eq!(out.unwrap(), b"first member|second member");
    }

    #[test]
    fn concatenated_xz_bzip2_zstd_streams() {
        let mut x = xz(b"one|");
        x.extend(xz(b"two"));
        assert_eq!(roundtrip(&x, &Default::default()).1.unwrap(), b"one|two");
        let mut b = bzip2(b"one|");
        b.extend(bzip2(b"two"));
        assert_eq!(roundtrip(&b, &Default::default()).1.unwrap(), b"one|two");
        let mut z = zstd(b"one|");
        z.extend(zstd(b"two"));
        assert_eq!(roundtrip(&z, &Default::default()).1.unwrap(), b"one|two");
    }

    #[test]
    fn zstd_skippable_frame_first() {
        let mut input = Vec::new();
        input.extend_from_slice(&0x184D_2A53u32.to_le_bytes());
        input.extend_from_slice(&4u32.to_le_bytes());
        input.extend_from_slice(b"skip");
        input.extend(zstd(DATA));
        let (c, out) = roundtrip(&input, &DecompressOptions::default());
        assert_eq!(c, Compression::Zstd);
        assert_eq!(out.unwrap(), DATA);
    }

    #[test]
    fn zstd_can_be_disabled_like_docker_20_10() {
        let input = zstd(DATA);
        let opts = DecompressOptions {
            zstd: false,
            ..Default::default()
        };
        let (c, out) = roundtrip(&input, &opts);
        assert_eq!(c, Compression::Identity);
        assert_eq!(out.unwrap(), input);
    }

    #[test]
    fn decoder_errors_name_the_format() {
        let mut input = gzip(DATA);
        input.truncate(input.len() - 12);
        let err = roundtrip(&input, &Default::default()).1.unwrap_err();
        assert!(err.to_string().starts_with("gzip stream: "), "{err}");

        let mut input = xz(DATA);
        let mid = input.len() / 2;
        input[mid] ^= 0xff;
        let err = roundtrip(&input, &Default::default()).1.unwrap_err();
        assert!(err.to_string().starts_with("xz stream: "), "{err}");

        let input = b"BZh9garbage-garbage".to_vec();
        let err = roundtrip(&input, &Default::default()).1.unwrap_err();
        assert!(err.to_string().starts_with("bzip2 stream: "), "{err}");

        let mut input = zstd(DATA);
        input.truncate(input.len() - 3);
        let err = roundtrip(&input, &Default::default()).1.unwrap_err();
        assert!(err.to_string().starts_with("zstd stream: "), "{err}");
    }

    #[test]
    fn zero_bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 4 << 20];
        let opts = DecompressOptions {
            max_decompressed_bytes: Some(1 << 20),
            ..Default::default()
        };
        for (name, input) in [
            ("gzip", gzip(&zeros)),
            ("bzip2", bzip2(&zeros)),
            ("xz", xz(&zeros)),
            ("zstd", zstd(&zeros)),
            ("identity", zeros.clone()),
        ] {
            let mut d = open(&input[..], &opts).unwrap();
            let err = io::copy(&mut d, &mut io::sink()).unwrap_err();
            let limit = LimitExceeded::find(&err).expect(name);
            assert_eq!(limit.limit, 1 << 20);
            assert!(err.to_string().contains("1048576"), "{err}");
            assert!(d.bytes_out() <= (1 << 20) + 1, "{name}: {}", d.bytes_out());
        }
        // Exactly at the limit is fine.
        let opts = DecompressOptions {
            max_decompressed_bytes: Some(zeros.len() as u64),
            ..Default::default()
        };
        let (_, out) = roundtrip(&gzip(&zeros), &opts);
        assert_eq!(out.unwrap().len(), zeros.len());
    }

    #[test]
    fn decompress_stream_shape() {
        let input = gzip(DATA);
        let (c, mut r) = decompress_stream(&input[..]).unwrap();
        assert_eq!(c, Compression::Gzip);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, DATA);
    }

    #[test]
    fn peek_errors_propagate() {
        struct Fails;
        impl Read for Fails {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        assert!(open(Fails, &Default::default()).is_err());
    }
}
