//! Small re-implementations of the Go standard-library behaviour the Docker
//! builders rely on: `path.Clean`/`path.Join`, `filepath.Match`,
//! `time.ParseDuration`/`Duration.String`, `strconv.Quote` and `%q`/`%v`
//! formatting of string slices. Only what the Dockerfile frontend needs.
//!
//! Deviation: `quote` treats every non-control, non-format character as
//! printable; Go's `strconv.IsPrint` also escapes a few unassigned or
//! private-use code points.

/// Go `path.Clean` (slash-separated, lexical).
pub fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".to_string();
    }
    let rooted = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if out.last().is_some_and(|l| *l != "..") {
                    out.pop();
                } else if !rooted {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    let joined = out.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_string()
    } else {
        joined
    }
}

/// Go `path.Join`: joins the non-empty elements with `/` and cleans.
pub fn join(parts: &[&str]) -> String {
    let nonempty: Vec<&str> = parts.iter().copied().filter(|p| !p.is_empty()).collect();
    if nonempty.is_empty() {
        return String::new();
    }
    clean(&nonempty.join("/"))
}

/// Error from [`match_path`] for a malformed pattern (Go `filepath.ErrBadPattern`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPattern;

/// Go `filepath.Match` on Unix: `*` and `?` never match `/`; `[...]`
/// classes with `^` negation and `\` escapes.
pub fn match_path(pattern: &str, name: &str) -> Result<bool, BadPattern> {
    let mut pat: &str = pattern;
    let mut name: &str = name;
    'pattern: while !pat.is_empty() {
        let (star, chunk, rest) = scan_chunk(pat);
        pat = rest;
        if star && chunk.is_empty() {
            // Trailing star matches the rest unless it has a separator.
            return Ok(!name.contains('/'));
        }
        let (t, ok) = match_chunk(chunk, name)?;
        if ok && (t.is_empty() || !pat.is_empty()) {
            name = t;
            continue;
        }
        if star {
            let mut i = 0;
            while i < name.len() && name.as_bytes()[i] != b'/' {
                let step = name[i..].chars().next().map_or(1, char::len_utf8);
                i += step;
                let (t, ok) = match_chunk(chunk, &name[i..])?;
                if ok {
                    if pat.is_empty() && !t.is_empty() {
                        continue;
                    }
                    name = t;
                    continue 'pattern;
                }
            }
        }
        // Go checks the rest of the pattern for syntax errors before failing.
        while !pat.is_empty() {
            let (_, chunk, rest) = scan_chunk(pat);
            pat = rest;
            match_chunk(chunk, "")?;
        }
        return Ok(false);
    }
    Ok(name.is_empty())
}

fn scan_chunk(mut pat: &str) -> (bool, &str, &str) {
    let mut star = false;
    while let Some(rest) = pat.strip_prefix('*') {
        pat = rest;
        star = true;
    }
    let bytes = pat.as_bytes();
    let mut inrange = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if i + 1 < bytes.len() => i += 1,
            b'[' => inrange = true,
            b']' => inrange = false,
            b'*' if !inrange => break,
            _ => {}
        }
        i += 1;
    }
    (star, &pat[..i], &pat[i..])
}

fn next_char(s: &str) -> Option<(char, &str)> {
    let c = s.chars().next()?;
    Some((c, &s[c.len_utf8()..]))
}

fn match_chunk<'a>(mut chunk: &str, mut s: &'a str) -> Result<(&'a str, bool), BadPattern> {
    let mut failed = false;
    while !chunk.is_empty() {
        if !failed && s.is_empty() {
            failed = true;
        }
        match chunk.as_bytes()[0] {
            b'[' => {
                let mut r = '\0';
                if !failed {
                    let (c, rest) = next_char(s).ok_or(BadPattern)?;
                    r = c;
                    s = rest;
                }
                chunk = &chunk[1..];
                let negated = chunk.starts_with('^');
                if negated {
                    chunk = &chunk[1..];
                }
                let mut matched = false;
                let mut nrange = 0;
                loop {
                    if !chunk.is_empty() && chunk.as_bytes()[0] == b']' && nrange > 0 {
                        chunk = &chunk[1..];
                        break;
                    }
                    let (lo, rest) = get_esc(chunk)?;
                    chunk = rest;
                    let mut hi = lo;
                    if chunk.starts_with('-') {
                        let (h, rest) = get_esc(&chunk[1..])?;
                        hi = h;
                        chunk = rest;
                    }
                    if lo <= r && r <= hi {
                        matched = true;
                    }
                    nrange += 1;
                }
                if matched == negated {
                    failed = true;
                }
            }
            b'?' => {
                if !failed {
                    let (c, rest) = next_char(s).ok_or(BadPattern)?;
                    if c == '/' {
                        failed = true;
                    }
                    s = rest;
                }
                chunk = &chunk[1..];
            }
            b'\\' => {
                chunk = &chunk[1..];
                if chunk.is_empty() {
                    return Err(BadPattern);
                }
                let (c, rest) = next_char(chunk).ok_or(BadPattern)?;
                if !failed {
                    match next_char(s) {
                        Some((sc, srest)) if sc == c => s = srest,
                        _ => failed = true,
                    }
                }
                chunk = rest;
            }
            _ => {
                let (c, rest) = next_char(chunk).ok_or(BadPattern)?;
                if !failed {
                    match next_char(s) {
                        Some((sc, srest)) if sc == c => s = srest,
                        _ => failed = true,
                    }
                }
                chunk = rest;
            }
        }
    }
    if failed {
        Ok(("", false))
    } else {
        Ok((s, true))
    }
}

fn get_esc(chunk: &str) -> Result<(char, &str), BadPattern> {
    if chunk.is_empty() || chunk.starts_with('-') || chunk.starts_with(']') {
        return Err(BadPattern);
    }
    let mut chunk = chunk;
    if let Some(rest) = chunk.strip_prefix('\\') {
        chunk = rest;
        if chunk.is_empty() {
            return Err(BadPattern);
        }
    }
    let (c, rest) = next_char(chunk).ok_or(BadPattern)?;
    if rest.is_empty() {
        return Err(BadPattern);
    }
    Ok((c, rest))
}

/// Go `time.ParseDuration`, in nanoseconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let orig = s;
    let err = || format!("time: invalid duration {}", quote(orig));
    let mut s = s;
    let mut neg = false;
    if let Some(c) = s.chars().next()
        && (c == '-' || c == '+')
    {
        neg = c == '-';
        s = &s[1..];
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(err());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes()[0];
        if !(b == b'.' || b.is_ascii_digit()) {
            return Err(err());
        }
        let int_end = s.bytes().take_while(u8::is_ascii_digit).count();
        let pre = int_end != 0;
        let mut v: u64 = 0;
        for d in s[..int_end].bytes() {
            v = v
                .checked_mul(10)
                .and_then(|v| v.checked_add(u64::from(d - b'0')))
                .filter(|v| *v <= 1 << 63)
                .ok_or_else(err)?;
        }
        s = &s[int_end..];
        let mut frac: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            let fe = s.bytes().take_while(u8::is_ascii_digit).count();
            post = fe != 0;
            let mut overflow = false;
            for d in s[..fe].bytes() {
                if overflow {
                    continue;
                }
                match frac
                    .checked_mul(10)
                    .and_then(|f| f.checked_add(u64::from(d - b'0')))
                    .filter(|f| *f <= 1 << 63)
                {
                    Some(f) => {
                        frac = f;
                        scale *= 10.0;
                    }
                    None => overflow = true,
                }
            }
            s = &s[fe..];
        }
        if !pre && !post {
            return Err(err());
        }
        let ue = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if ue == 0 {
            return Err(format!("time: missing unit in duration {}", quote(orig)));
        }
        let unit_s = &s[..ue];
        let unit: u64 = match unit_s {
            "ns" => 1,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    quote(unit_s),
                    quote(orig)
                ));
            }
        };
        s = &s[ue..];
        if v > (1u64 << 63) / unit {
            return Err(err());
        }
        v *= unit;
        if frac > 0 {
            v += (frac as f64 * (unit as f64 / scale)) as u64;
            if v > 1 << 63 {
                return Err(err());
            }
        }
        total = total
            .checked_add(v)
            .filter(|t| *t <= 1 << 63)
            .ok_or_else(err)?;
    }
    if neg {
        return Ok((total as i128).wrapping_neg() as i64);
    }
    if total > i64::MAX as u64 {
        return Err(err());
    }
    Ok(total as i64)
}

/// Go `time.Duration.String`.
pub fn format_duration(d: i64) -> String {
    let neg = d < 0;
    let mut u = d.unsigned_abs();
    if u < 1_000_000_000 {
        if u == 0 {
            return "0s".to_string();
        }
        let (unit, prec) = if u < 1_000 {
            ("ns", 0)
        } else if u < 1_000_000 {
            ("\u{b5}s", 3)
        } else {
            ("ms", 6)
        };
        let s = fmt_frac_int(u, prec);
        return format!("{}{}{}", if neg { "-" } else { "" }, s, unit);
    }
    let mut out = String::new();
    let secs_frac = fmt_frac_int(u % 60_000_000_000, 9);
    u /= 60_000_000_000;
    let secs_str = secs_frac;
    let mut s = format!("{secs_str}s");
    if u > 0 {
        s = format!("{}m{}", u % 60, s);
        u /= 60;
        if u > 0 {
            s = format!("{u}h{s}");
        }
    }
    if neg {
        out.push('-');
    }
    out.push_str(&s);
    out
}

fn fmt_frac_int(v: u64, prec: u32) -> String {
    let div = 10u64.pow(prec);
    let int = v / div;
    let mut frac = v % div;
    if frac == 0 {
        return int.to_string();
    }
    let mut digits = prec;
    while frac.is_multiple_of(10) {
        frac /= 10;
        digits -= 1;
    }
    format!("{int}.{frac:0width$}", width = digits as usize)
}

/// Go `strconv.Quote`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if is_unprintable(c) => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn is_unprintable(c: char) -> bool {
    let u = c as u32;
    (0x80..0xa0).contains(&u)
        || u == 0xad
        || (0x2028..=0x2029).contains(&u)
        || (0x200b..=0x200f).contains(&u)
        || (0x202a..=0x202e).contains(&u)
        || (0x2060..=0x2064).contains(&u)
        || u == 0xfeff
        || (0xe000..=0xf8ff).contains(&u)
        || (0xfff9..=0xfffb).contains(&u)
        || (c.is_whitespace() && c != ' ')
}

/// Go `fmt.Sprintf("%q", []string{...})`: `["a" "b"]`.
pub fn quote_slice(v: &[String]) -> String {
    let inner: Vec<String> = v.iter().map(|s| quote(s)).collect();
    format!("[{}]", inner.join(" "))
}

/// Go `fmt.Sprintf("%v", []string{...})`: `[a b]`.
pub fn plain_slice(v: &[String]) -> String {
    format!("[{}]", v.join(" "))
}

/// Go `strings.ToLower` for one string (simple per-rune mapping).
pub fn to_lower(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '\u{130}' {
                'i'
            } else {
                c.to_lowercase().next().unwrap_or(c)
            }
        })
        .collect()
}

/// Go `strings.ToUpper` for one string (simple per-rune mapping).
pub fn to_upper(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_and_join() {
        assert_eq!(clean("/a/../b/./c/"), "/b/c");
        assert_eq!(clean("../a"), "../a");
        assert_eq!(clean("/.."), "/");
        assert_eq!(clean(""), ".");
        assert_eq!(join(&["/", "", "foo"]), "/foo");
    }

    #[test]
    fn filepath_match() {
        assert_eq!(match_path("*.tar.gz", "a.tar.gz"), Ok(true));
        assert_eq!(match_path("*", "a/b"), Ok(false));
        assert_eq!(match_path("a/*", "a/b"), Ok(true));
        assert_eq!(match_path("[a-c]x", "bx"), Ok(true));
        assert_eq!(match_path("[^a-c]x", "bx"), Ok(false));
        assert_eq!(match_path("a\\*", "a*"), Ok(true));
        assert_eq!(match_path("[", "a"), Err(BadPattern));
        assert_eq!(match_path("a[", "b"), Err(BadPattern));
        assert_eq!(
            match_path(
                "ubuntu-*-oci-amd64-root.tar.gz",
                "ubuntu-jammy-oci-amd64-root.tar.gz"
            ),
            Ok(true)
        );
        assert_eq!(match_path("**", "a"), Ok(true));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(30_000_000_000));
        assert_eq!(parse_duration("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration("0"), Ok(0));
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration(".s").is_err());
        assert_eq!(format_duration(0), "0s");
        assert_eq!(format_duration(90_000_000_000), "1m30s");
        assert_eq!(format_duration(1_500_000), "1.5ms");
        assert_eq!(format_duration(3_600_000_000_000), "1h0m0s");
        assert_eq!(format_duration(5_000_000_000), "5s");
    }

    #[test]
    fn quoting() {
        assert_eq!(quote_slice(&["/bin/bash".to_string()]), "[\"/bin/bash\"]");
        assert_eq!(quote("a\"b\n\u{1}"), "\"a\\\"b\\n\\x01\"");
    }
}
