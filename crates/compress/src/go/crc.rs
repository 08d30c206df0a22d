//! CRC-32 (IEEE 802.3, reflected, polynomial `0xedb88320`) for the gzip trailer, eight bytes
//! per step ("slicing-by-8") so that it stays far below the cost of compression.

const POLY: u32 = 0xedb8_8320;

const TABLES: [[u32; 256]; 8] = {
    let mut t = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            k += 1;
        }
        t[0][i] = c;
        i += 1;
    }
    let mut i = 0;
    while i < 256 {
        let mut s = 1;
        while s < 8 {
            let prev = t[s - 1][i];
            t[s][i] = (prev >> 8) ^ t[0][(prev & 0xff) as usize];
            s += 1;
        }
        i += 1;
    }
    t
};

/// A running CRC-32.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Crc32(u32);

impl Crc32 {
    pub(super) fn update(&mut self, data: &[u8]) {
        let mut c = !self.0;
        let mut chunks = data.chunks_exact(8);
        for ch in &mut chunks {
            let Some(b) = ch.first_chunk::<8>() else {
                break;
            };
            let lo = c ^ u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            c = TABLES[7][(lo & 0xff) as usize]
                ^ TABLES[6][((lo >> 8) & 0xff) as usize]
                ^ TABLES[5][((lo >> 16) & 0xff) as usize]
                ^ TABLES[4][(lo >> 24) as usize]
                ^ TABLES[3][usize::from(b[4])]
                ^ TABLES[2][usize::from(b[5])]
                ^ TABLES[1][usize::from(b[6])]
                ^ TABLES[0][usize::from(b[7])];
        }
        for &b in chunks.remainder() {
            c = (c >> 8) ^ TABLES[0][((c ^ u32::from(b)) & 0xff) as usize];
        }
        self.0 = !c;
    }

    pub(super) fn value(self) -> u32 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_values() {
        let mut c = Crc32::default();
        c.update(b"123456789");
        assert_eq!(c.value(), 0xcbf4_3926);
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut whole = Crc32::default();
        whole.update(&data);
        let mut parts = Crc32::default();
        for ch in data.chunks(13) {
            parts.update(ch);
        }
        assert_eq!(whole.value(), parts.value());
    }
}
