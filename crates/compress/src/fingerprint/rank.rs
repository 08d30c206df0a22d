//! Ranking the compressors a blob's header and block traits point to.
//!
//! Each known writer gets a score from the traits of the table in the [module docs](super) and
//! the facts behind it in plain words; writers scoring above zero are listed likeliest first,
//! ties in the order pigz, GNU gzip, plain zlib, Go, and [`Compressor::Unknown`] always last.

use super::{Candidate, Compressor, DeflateTraits, GzipHeader, PIGZ_DEFAULT_BLOCK};

/// What every writer's score is computed from.
struct Seen<'a> {
    h: &'a GzipHeader,
    t: &'a DeflateTraits,
    /// The level hint from XFL.
    level: Option<u32>,
    /// Uncompressed bytes.
    size: u64,
    /// More than one gzip member.
    multi: bool,
    /// Non-final empty stored and fixed blocks.
    markers: u64,
    /// No block holds more symbols than zlib's buffer (16383).
    zlib_sized: bool,
    /// The header's facts, the first evidence of every candidate.
    header_notes: Vec<String>,
}

/// The candidates for a blob with header `h`, traits `t`, `members` members and `size`
/// uncompressed bytes, likeliest first.
pub(super) fn rank(h: &GzipHeader, t: &DeflateTraits, members: u32, size: u64) -> Vec<Candidate> {
    let seen = Seen {
        h,
        t,
        level: match h.xfl {
            2 => Some(9),
            4 => Some(1),
            _ => None,
        },
        size,
        multi: members > 1,
        markers: t.sync_markers + t.empty_fixed,
        zlib_sized: t.max_block_symbols <= 16383,
        header_notes: header_notes(h),
    };
    let mut out: Vec<Candidate> = [pigz(&seen), gnu_gzip(&seen), zlib(&seen), go(&seen)]
        .into_iter()
        .filter(|c| c.score > 0)
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.score));
    out.push(Candidate {
        compressor: Compressor::Unknown,
        score: 0,
        evidence: vec![format!(
            "{members} member(s), {} blocks ({} stored, {} fixed, {} dynamic)",
            t.blocks, t.stored, t.fixed, t.dynamic
        )],
    });
    out
}

/// The header fields in words: OS, XFL, a stored name, MTIME.
fn header_notes(h: &GzipHeader) -> Vec<String> {
    let xfl_note = match h.xfl {
        2 => "XFL 2: maximum compression (level 9, pigz/gzip --best, Go BestCompression)".into(),
        4 => "XFL 4: fastest (level 1, Go BestSpeed)".into(),
        0 => "XFL 0: neither level 1 nor 9 (the default level is 6)".into(),
        x => format!("XFL {x}: not a value any of the known writers uses"),
    };
    let os_note = match h.os {
        3 => "OS 3 (Unix): pigz, GNU gzip and zlib's gzip writer on Unix".to_string(),
        255 => "OS 255 (unknown): Go compress/gzip and Python's gzip".to_string(),
        o => format!("OS {o}: none of the known Linux writers"),
    };
    let mut notes = vec![os_note, xfl_note];
    if h.flags & 8 != 0 {
        let name = String::from_utf8_lossy(h.name.as_deref().unwrap_or_default()).into_owned();
        notes.push(format!(
            "FNAME {name:?}: a named input (pigz/gzip FILE without -n)"
        ));
    }
    if h.mtime == 0 {
        notes.push("MTIME 0: no time stored (--no-time / -n, or standard input)".into());
    } else {
        notes.push(format!("MTIME {}: a time stamp was stored", h.mtime));
    }
    notes
}

fn pigz(s: &Seen<'_>) -> Candidate {
    let (h, t) = (s.h, s.t);
    let mut score = 0;
    let mut ev = s.header_notes.clone();
    let block_size = t.piece_size.unwrap_or(PIGZ_DEFAULT_BLOCK);
    if let Some(b) = t.piece_size {
        score += 60;
        ev.push(format!(
            "every multiple of {b} bytes starts a byte-aligned block, with {} sync markers \
             and {} empty fixed blocks only there: pigz's {} KiB pieces",
            t.sync_markers,
            t.empty_fixed,
            b / 1024
        ));
    } else if s.size <= PIGZ_DEFAULT_BLOCK && s.markers == 0 {
        score += 10;
        ev.push("one piece of input (≤ 128 KiB): pigz writes a plain zlib stream".into());
    } else {
        score -= 60;
        ev.push("no byte-aligned block starts at a piece cadence".into());
    }
    if h.os == 3 {
        score += 20
    } else {
        score -= 60
    }
    if !s.zlib_sized {
        score -= 60;
        ev.push(format!(
            "a block of {} symbols: more than zlib's 16383",
            t.max_block_symbols
        ));
    }
    if t.final_empty_stored {
        score -= 30;
    }
    if s.multi {
        score -= 60;
    }
    Candidate {
        compressor: Compressor::Pigz {
            level: s.level,
            block_size,
        },
        score,
        evidence: ev,
    }
}

fn gnu_gzip(s: &Seen<'_>) -> Candidate {
    let (h, t) = (s.h, s.t);
    let mut score = 0;
    let mut ev = s.header_notes.clone();
    if h.os == 3 {
        score += 20
    } else {
        score -= 60
    }
    if t.blocks_32767 > 0 {
        score += 40;
        ev.push(format!(
            "{} blocks of exactly 32767 symbols (GNU gzip's LIT_BUFSIZE−1)",
            t.blocks_32767
        ));
    }
    if !s.zlib_sized {
        score += 20;
        ev.push(format!(
            "blocks of up to {} symbols: beyond zlib's 16383",
            t.max_block_symbols
        ));
    }
    if t.blocks_4096k > 0 && s.level != Some(1) {
        score += 10;
        ev.push(format!(
            "{} blocks ended at a multiple of 4096 symbols (GNU gzip's early block end)",
            t.blocks_4096k
        ));
    }
    if t.blocks_16383 > 0 {
        score -= 40;
        ev.push(format!(
            "{} blocks of exactly 16383 symbols: zlib's limit, not gzip's",
            t.blocks_16383
        ));
    }
    // GNU gzip flushes only under --rsyncable, and then pads with empty stored blocks at
    // content-defined points (no cadence, no empty fixed blocks).
    let rsyncable = t.sync_markers > 0 && t.empty_fixed == 0 && t.piece_size.is_none();
    if rsyncable {
        score += 20;
        ev.push(format!(
            "{} sync markers at irregular offsets: GNU gzip --rsyncable's padded block ends",
            t.sync_markers
        ));
    } else if s.markers > 0 {
        score -= 60;
        ev.push("flush markers at a fixed cadence: GNU gzip does not do that".into());
    }
    if t.final_empty_stored || s.multi {
        score -= 30;
    }
    Candidate {
        compressor: Compressor::GnuGzip {
            level: s.level,
            rsyncable,
        },
        score,
        evidence: ev,
    }
}

/// A plain zlib stream behind some gzip header (Python's `gzip`, and the like).
fn zlib(s: &Seen<'_>) -> Candidate {
    let t = s.t;
    let mut score = 0;
    let mut ev = s.header_notes.clone();
    match s.h.os {
        3 => score += 15,
        255 => score += 5,
        _ => score -= 30,
    }
    if t.blocks_16383 > 0 {
        score += 30;
        ev.push(format!(
            "{} blocks of exactly 16383 symbols (zlib, memLevel 8)",
            t.blocks_16383
        ));
    }
    if !s.zlib_sized {
        score -= 60;
    }
    if s.markers > 0 && t.piece_size.is_some() {
        score -= 40;
    }
    if t.final_empty_stored || s.multi {
        score -= 30;
    }
    Candidate {
        compressor: Compressor::Zlib { level: s.level },
        score,
        evidence: ev,
    }
}

fn go(s: &Seen<'_>) -> Candidate {
    let (h, t) = (s.h, s.t);
    let mut score = 0;
    let mut ev = s.header_notes.clone();
    if h.os == 255 {
        score += 30
    } else {
        score -= 60
    }
    if t.final_empty_stored {
        score += 50;
        ev.push("the last block is an empty stored block: Go compress/flate's Close".into());
    } else {
        score -= 40;
    }
    if t.blocks_16384 > 0 {
        score += 10;
        ev.push(format!(
            "{} blocks of exactly 16384 symbols (Go's maxFlateBlockTokens)",
            t.blocks_16384
        ));
    }
    if h.flags != 0 || h.mtime != 0 {
        score -= 10;
    }
    if s.multi {
        score -= 30;
    }
    Candidate {
        compressor: Compressor::GoGzip { level: s.level },
        score,
        evidence: ev,
    }
}
