//! Scheduling hints for the threads of a verify.

/// Let the calling thread give way to the others of the process: for work off the critical
/// path (the source file's own digest) that should fill a core's idle time rather than take
/// turns with the decompression every other thread waits for. Linux applies a nice value to
/// one thread; elsewhere this does nothing (it would apply to the whole process).
pub(crate) fn yield_to_pipeline() {
    #[cfg(target_os = "linux")]
    {
        let me = rustix::thread::gettid();
        let _ = rustix::process::setpriority_process(Some(me), 10);
    }
}
