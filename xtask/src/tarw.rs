//! A raw tar writer for test inputs.
//!
//! Every header field is set explicitly, byte for byte, so a case can carry exactly the (possibly
//! deliberately wrong) values it needs. Nothing here imitates Docker or Go; it is the opposite:
//! a tool to produce the hostile inputs the engines have to cope with.

/// Which magic/version the header carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Magic {
    /// POSIX `ustar\0` + `00`.
    Ustar,
    /// Old GNU `ustar  \0`.
    Gnu,
    /// Version 7: no magic at all.
    V7,
}

/// One 512-byte header, described by its fields.
#[derive(Clone, Debug)]
pub struct Header {
    pub name: Vec<u8>,
    pub mode: u64,
    pub uid: u64,
    pub gid: u64,
    pub size: u64,
    pub mtime: u64,
    pub typeflag: u8,
    pub linkname: Vec<u8>,
    pub magic: Magic,
    pub uname: Vec<u8>,
    pub gname: Vec<u8>,
    pub devmajor: u64,
    pub devminor: u64,
    pub prefix: Vec<u8>,
    /// Raw byte overrides applied after the fields are encoded and before the checksum.
    pub patches: Vec<(usize, Vec<u8>)>,
}

/// Default mtime of generated entries: 2023-11-14T22:13:20Z.
pub const T0: u64 = 1_700_000_000;

impl Header {
    pub fn new(name: &str, typeflag: u8, mode: u64) -> Self {
        Header {
            name: name.as_bytes().to_vec(),
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: T0,
            typeflag,
            linkname: Vec::new(),
            magic: Magic::Ustar,
            uname: Vec::new(),
            gname: Vec::new(),
            devmajor: 0,
            devminor: 0,
            prefix: Vec::new(),
            patches: Vec::new(),
        }
    }

    pub fn owner(mut self, uid: u64, gid: u64) -> Self {
        self.uid = uid;
        self.gid = gid;
        self
    }

    pub fn mtime(mut self, mtime: u64) -> Self {
        self.mtime = mtime;
        self
    }

    pub fn names(mut self, uname: &str, gname: &str) -> Self {
        self.uname = uname.as_bytes().to_vec();
        self.gname = gname.as_bytes().to_vec();
        self
    }

    pub fn link(mut self, target: &str) -> Self {
        self.linkname = target.as_bytes().to_vec();
        self
    }

    pub fn dev(mut self, major: u64, minor: u64) -> Self {
        self.devmajor = major;
        self.devminor = minor;
        self
    }

    pub fn magic(mut self, magic: Magic) -> Self {
        self.magic = magic;
        self
    }

    pub fn patch(mut self, offset: usize, bytes: &[u8]) -> Self {
        self.patches.push((offset, bytes.to_vec()));
        self
    }

    /// Encodes the header. Fields longer than their slot are truncated (the caller chose them).
    pub fn encode(&self) -> [u8; 512] {
        let mut b = [0u8; 512];
        put_str(&mut b[0..100], &self.name);
        put_octal(&mut b[100..108], self.mode);
        put_octal(&mut b[108..116], self.uid);
        put_octal(&mut b[116..124], self.gid);
        put_octal(&mut b[124..136], self.size);
        put_octal(&mut b[136..148], self.mtime);
        b[156] = self.typeflag;
        put_str(&mut b[157..257], &self.linkname);
        match self.magic {
            Magic::Ustar => {
                b[257..263].copy_from_slice(b"ustar\0");
                b[263..265].copy_from_slice(b"00");
            }
            Magic::Gnu => b[257..265].copy_from_slice(b"ustar  \0"),
            Magic::V7 => {}
        }
        if self.magic != Magic::V7 {
            put_str(&mut b[265..297], &self.uname);
            put_str(&mut b[297..329], &self.gname);
            put_octal(&mut b[329..337], self.devmajor);
            put_octal(&mut b[337..345], self.devminor);
            if self.magic == Magic::Ustar {
                put_str(&mut b[345..500], &self.prefix);
            }
        }
        for (off, bytes) in &self.patches {
            let end = (*off + bytes.len()).min(512);
            b[*off..end].copy_from_slice(&bytes[..end - off]);
        }
        let patched_checksum = self.patches.iter().any(|(off, _)| (148..156).contains(off));
        if !patched_checksum {
            b[148..156].copy_from_slice(b"        ");
            let sum: u32 = b.iter().map(|&x| u32::from(x)).sum();
            let s = format!("{sum:06o}\0 ");
            b[148..156].copy_from_slice(s.as_bytes());
        }
        b
    }
}

fn put_str(field: &mut [u8], s: &[u8]) {
    let n = s.len().min(field.len());
    field[..n].copy_from_slice(&s[..n]);
}

/// Octal, zero-padded to `len - 1` digits plus NUL. Values that do not fit are written as
/// base-256 (GNU binary), which is what a reader must accept for big numbers.
fn put_octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    if s.len() <= digits {
        field[..digits].copy_from_slice(s.as_bytes());
        field[digits] = 0;
    } else {
        put_base256(field, v);
    }
}

/// GNU base-256: high bit of the first byte set, big-endian value in the rest.
pub fn put_base256(field: &mut [u8], v: u64) {
    field.fill(0);
    let be = v.to_be_bytes();
    let n = field.len();
    let take = be.len().min(n - 1);
    field[n - take..].copy_from_slice(&be[be.len() - take..]);
    field[0] |= 0x80;
}

/// A PAX record `"%d %s=%s\n"` with the self-counting length.
pub fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let body = key.len() + value.len() + 3; // space, '=', '\n'
    let mut n = body + body.to_string().len();
    if n.to_string().len() != body.to_string().len() {
        n = body + n.to_string().len();
    }
    let mut r = format!("{n} {key}=").into_bytes();
    r.extend_from_slice(value);
    r.push(b'\n');
    r
}

/// Accumulates an archive in memory.
#[derive(Default)]
pub struct Tar {
    pub buf: Vec<u8>,
}

impl Tar {
    pub fn new() -> Self {
        Tar::default()
    }

    /// Writes a header followed by `data` padded to 512. `h.size` is set from `data` unless
    /// `keep_size` is true.
    pub fn raw(&mut self, h: &Header, data: &[u8]) {
        self.buf.extend_from_slice(&h.encode());
        self.buf.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        let rem = self.buf.len() % 512;
        if rem != 0 {
            self.buf.resize(self.buf.len() + 512 - rem, 0);
        }
    }

    pub fn entry(&mut self, mut h: Header, data: &[u8]) {
        h.size = data.len() as u64;
        self.raw(&h, data);
    }

    pub fn file(&mut self, name: &str, mode: u64, data: &[u8]) {
        self.entry(Header::new(name, b'0', mode), data);
    }

    pub fn dir(&mut self, name: &str, mode: u64) {
        self.entry(Header::new(name, b'5', mode), b"");
    }

    pub fn symlink(&mut self, name: &str, target: &str) {
        self.entry(Header::new(name, b'2', 0o777).link(target), b"");
    }

    pub fn hardlink(&mut self, name: &str, target: &str, mode: u64) {
        self.entry(Header::new(name, b'1', mode).link(target), b"");
    }

    /// A PAX extended header (`x`, or `g` for global) carrying `records` in the given order.
    pub fn pax(&mut self, typeflag: u8, name: &str, records: &[(&str, &[u8])]) {
        let mut data = Vec::new();
        for (k, v) in records {
            data.extend_from_slice(&pax_record(k, v));
        }
        self.entry(Header::new(name, typeflag, 0o644), &data);
    }

    /// A PAX `x` header followed by the entry it describes.
    pub fn with_pax(&mut self, records: &[(&str, &[u8])], h: Header, data: &[u8]) {
        let n = String::from_utf8_lossy(&h.name).into_owned();
        let base = n.trim_end_matches('/').rsplit('/').next().unwrap_or("x");
        let xname: String = format!("PaxHeaders/{base}")
            .chars()
            .filter(char::is_ascii)
            .collect();
        self.pax(b'x', &xname, records);
        self.entry(h, data);
    }

    /// Two zero blocks.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&[0u8; 1024]);
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_counts_itself() {
        assert_eq!(pax_record("uid", b"3000000"), b"15 uid=3000000\n");
        // 9 + 3 = 12 body... length with digits must be self-consistent.
        let r = pax_record("path", &[b'a'; 93]);
        let len: usize = std::str::from_utf8(&r[..r.iter().position(|&c| c == b' ').unwrap()])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, r.len());
    }

    #[test]
    fn checksum_matches_ustar_rule() {
        let b = Header::new("a", b'0', 0o644).encode();
        let mut c = b;
        c[148..156].copy_from_slice(b"        ");
        let sum: u32 = c.iter().map(|&x| u32::from(x)).sum();
        assert_eq!(&b[148..156], format!("{sum:06o}\0 ").as_bytes());
    }

    #[test]
    fn big_numbers_go_base256() {
        let h = Header::new("a", b'0', 0o644).owner(3_000_000, 0);
        let b = h.encode();
        assert_eq!(b[108] & 0x80, 0x80);
    }
}
