//! Read a stream on another thread, a bounded number of chunks ahead ([`ReadAhead`]).

use std::fmt;
use std::io::{self, Read};
use std::sync::mpsc;

/// Bytes per chunk.
pub const CHUNK: usize = 256 << 10;
/// Chunks a [`ReadAhead`] is usually allowed to be ahead: enough to keep both threads busy.
pub const DEPTH: usize = 8;

/// A reader whose source is read on another thread, up to a number of [`CHUNK`]s ahead.
///
/// Decompressing a rootfs costs about as much as parsing and unpacking it, so the two run on
/// different cores. Errors of the source come through unchanged (a decompression limit is
/// still recognised by [`crate::compression::LimitExceeded::find`]), after the bytes read
/// before them.
pub struct ReadAhead {
    chunks: mpsc::Receiver<io::Result<Vec<u8>>>,
    spare: mpsc::Sender<Vec<u8>>,
    current: Vec<u8>,
    at: usize,
    ended: bool,
}

impl ReadAhead {
    /// Start reading `inner` on a thread of `scope`, at most `depth` chunks ahead. The thread
    /// ends at the end of `inner`, at its first error, or when the reader is dropped.
    pub fn spawn<'scope, R: Read + Send + 'scope>(
        scope: &'scope std::thread::Scope<'scope, '_>,
        mut inner: R,
        depth: usize,
    ) -> ReadAhead {
        let (send, chunks) = mpsc::sync_channel(depth.max(1));
        let (spare, spares) = mpsc::channel::<Vec<u8>>();
        scope.spawn(move || {
            loop {
                let mut chunk = spares.try_recv().unwrap_or_default();
                chunk.resize(CHUNK, 0);
                let mut filled = 0;
                let result = loop {
                    match inner.read(&mut chunk[filled..]) {
                        Ok(0) => break Ok(true),
                        Ok(n) => {
                            filled += n;
                            if filled == chunk.len() {
                                break Ok(false);
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                chunk.truncate(filled);
                // what was read first, then the end (an empty chunk) or the error
                let sent = if chunk.is_empty() {
                    Ok(())
                } else {
                    send.send(Ok(chunk))
                };
                let (last, sent) = match result {
                    Ok(false) => (false, sent),
                    Ok(true) => (true, sent.and_then(|()| send.send(Ok(Vec::new())))),
                    Err(e) => (true, sent.and_then(|()| send.send(Err(e)))),
                };
                // a reader that stopped early has hung up
                if last || sent.is_err() {
                    return;
                }
            }
        });
        ReadAhead {
            chunks,
            spare,
            current: Vec::new(),
            at: 0,
            ended: false,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.ended {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    let used = std::mem::replace(&mut self.current, chunk);
                    let _ = self.spare.send(used);
                    self.at = 0;
                    if self.current.is_empty() {
                        self.ended = true;
                    }
                }
                Ok(Err(e)) => {
                    self.ended = true;
                    return Err(e);
                }
                Err(_) => {
                    self.ended = true;
                    return Err(io::Error::other("the decompression thread stopped"));
                }
            }
        }
        let n = buf.len().min(self.current.len() - self.at);
        buf[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadAhead")
            .field("buffered", &(self.current.len() - self.at))
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    /// Gives `data` in odd-sized pieces, then `error` if any.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        error: Option<io::Error>,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.at == self.data.len() {
                return match self.error.take() {
                    Some(e) => Err(e),
                    None => Ok(0),
                };
            }
            let n = buf.len().min(7919).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// Counts the bytes its inner reader gave.
    struct Counted {
        inner: Pieces,
        read: Arc<AtomicUsize>,
    }

    impl Read for Counted {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.fetch_add(n, Ordering::Relaxed);
            Ok(n)
        }
    }

    fn data(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 31 % 251) as u8).collect()
    }

    #[test]
    fn every_byte_arrives_in_order_then_the_end() {
        for n in [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 5] {
            let want = data(n);
            let got = std::thread::scope(|s| {
                let src = Pieces {
                    data: want.clone(),
                    at: 0,
                    error: None,
                };
                let mut r = ReadAhead::spawn(s, src, 2);
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                assert_eq!(r.read(&mut [0u8; 8]).unwrap(), 0);
                got
            });
            assert_eq!(got, want, "{n} bytes");
        }
    }

    #[test]
    fn an_error_comes_after_the_bytes_before_it() {
        let want = data(CHUNK + 10);
        std::thread::scope(|s| {
            let src = Pieces {
                data: want.clone(),
                at: 0,
                error: Some(io::Error::new(io::ErrorKind::InvalidData, "broken")),
            };
            let mut r = ReadAhead::spawn(s, src, 1);
            let mut got = vec![0u8; want.len()];
            r.read_exact(&mut got).unwrap();
            assert_eq!(got, want);
            let e = r.read(&mut [0u8; 8]).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidData);
            assert_eq!(e.to_string(), "broken");
        });
    }

    #[test]
    fn a_reader_that_stops_early_lets_the_thread_end() {
        let read = Arc::new(AtomicUsize::new(0));
        let (ended, ends) = mpsc::channel();
        let counted = Arc::clone(&read);
        // The scope returns only once the reading thread has ended; it runs aside so that a
        // thread that never ends fails this test instead of hanging it.
        std::thread::spawn(move || {
            std::thread::scope(|s| {
                let src = Counted {
                    inner: Pieces {
                        data: data(50 * CHUNK),
                        at: 0,
                        error: None,
                    },
                    read: counted,
                };
                let mut r = ReadAhead::spawn(s, src, 1);
                r.read_exact(&mut [0u8; 10]).unwrap();
                drop(r);
            });
            let _ = ended.send(());
        });
        ends.recv_timeout(Duration::from_secs(30))
            .expect("the reading thread still runs after its reader was dropped");
        // depth 1: one chunk handed over, one queued, one blocked in send, at most
        let n = read.load(Ordering::Relaxed);
        assert!(
            n <= 3 * CHUNK,
            "read {n} bytes of a source it stopped wanting"
        );
    }
}
