//! Values instructions carry, checked and normalised as the builders do: destination paths,
//! CMD/ENTRYPOINT in shell form, `--chmod`, STOPSIGNAL and EXPOSE.

use crate::gocompat;
use crate::instructions::CommandLine;

/// BuildKit `system.NormalizePath(parent, p, keepSlash=true)` on Linux.
pub(crate) fn normalize_keep_slash(parent: &str, p: &str) -> String {
    let orig = p;
    let mut np = if p.is_empty() || p == "." {
        "./".to_string()
    } else {
        p.to_string()
    };
    if !np.starts_with('/') {
        np = gocompat::join(&[parent, &np]);
    }
    let orig2 = if orig.is_empty() || orig == "." {
        "./"
    } else {
        orig
    };
    if orig2.ends_with('/') && !np.ends_with('/') {
        np.push('/');
    } else if orig2.ends_with("/.") {
        if np != "/" {
            np.push('/');
        }
        np.push('.');
    }
    np
}

/// CMD/ENTRYPOINT as stored: exec form as written; shell form wrapped in `shell`, the classic
/// builder appending the words, BuildKit the joined line. An ENTRYPOINT without arguments is
/// `None` (null), except in BuildKit's shell form (the shell and an empty line).
pub(crate) fn resolve_cmd(
    c: &CommandLine,
    shell: &[String],
    classic: bool,
    is_cmd: bool,
) -> Option<Vec<String>> {
    if !c.prepend_shell {
        if c.args.is_empty() && !is_cmd {
            return None;
        }
        return Some(c.args.clone());
    }
    let mut v = shell.to_vec();
    if classic {
        if c.args.is_empty() && !is_cmd {
            return None;
        }
        v.extend(c.args.iter().cloned());
    } else {
        v.push(c.args.join(" "));
    }
    Some(v)
}

/// `--chmod`: octal up to 07777, or (only checked for syntax) a symbolic mode.
pub(crate) fn check_chmod(m: &str) -> Result<(), String> {
    let non_octal = format!(
        "invalid chmod parameter: '{m}'. it should be octal string and between 0 and 07777"
    );
    if m.bytes().all(|b| (b'0'..=b'7').contains(&b)) && !m.is_empty() {
        match u32::from_str_radix(m, 8) {
            Ok(v) if v <= 0o7777 => Ok(()),
            _ => Err(non_octal),
        }
    } else if m.bytes().all(|b| b.is_ascii_digit()) {
        Err(non_octal)
    } else {
        // Symbolic modes (u+x, ...) need BuildKit's mode parser; accept the
        // syntax `[ugoa]*[+-=][rwxXst]*(,...)*`.
        let ok = m.split(',').all(|part| {
            let who = part.trim_start_matches(['u', 'g', 'o', 'a']);
            let mut it = who.chars();
            matches!(it.next(), Some('+' | '-' | '='))
                && it.all(|c| matches!(c, 'r' | 'w' | 'x' | 'X' | 's' | 't' | '+' | '-' | '='))
        });
        if ok {
            Ok(())
        } else {
            Err(format!("invalid chmod parameter: '{m}'"))
        }
    }
}

const SIGNALS: &[(&str, u32)] = &[
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("RTMIN", 34),
    ("RTMAX", 64),
];

/// moby/sys `signal.ParseSignal` with the Linux signal table.
pub(crate) fn parse_signal(raw: &str) -> Result<u32, String> {
    if let Ok(n) = raw.parse::<i64>() {
        if n <= 0 || n > 64 {
            return Err(format!("Invalid signal: {raw}"));
        }
        return Ok(n as u32);
    }
    let up = gocompat::to_upper(raw);
    let name = up.strip_prefix("SIG").unwrap_or(&up);
    if let Some((_, n)) = SIGNALS.iter().find(|(s, _)| *s == name) {
        return Ok(*n);
    }
    for (base, n0, sign) in [("RTMIN+", 34i64, 1i64), ("RTMAX-", 64, -1)] {
        if let Some(k) = name.strip_prefix(base).and_then(|k| k.parse::<i64>().ok())
            && (1..=30).contains(&k)
        {
            return Ok((n0 + sign * k) as u32);
        }
    }
    Err(format!("Invalid signal: {raw}"))
}

/// BuildKit `parsePort` (the classic builder's `parsePortSpec` agrees on
/// valid input): returns `N/proto` entries, ranges expanded.
pub(crate) fn parse_port(raw: &str) -> Result<Vec<String>, String> {
    let parts: Vec<&str> = raw.split(':').collect();
    let (host_port, container) = match parts.len() {
        1 => ("", parts[0]),
        n => (parts[n - 2], parts[n - 1]),
    };
    let (port, proto) = container.split_once('/').unwrap_or((container, ""));
    if port.is_empty() {
        return Err(format!(
            "invalid port: {}: no port specified",
            gocompat::quote(raw)
        ));
    }
    let proto = match gocompat::to_lower(proto).as_str() {
        "" => "tcp".to_string(),
        p @ ("tcp" | "udp" | "sctp") => p.to_string(),
        _ => {
            return Err(format!(
                "invalid port: {}: invalid proto: {proto}",
                gocompat::quote(raw)
            ));
        }
    };
    let range = |s: &str| -> Result<(u32, u32), String> {
        if s.is_empty() {
            return Err("empty string specified for ports".to_string());
        }
        let (a, b) = s.split_once('-').map_or((s, None), |(a, b)| (a, Some(b)));
        let num = |v: &str| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n <= 65535)
                .ok_or_else(|| format!("invalid port '{v}'"))
        };
        let start = num(a)?;
        match b {
            None => Ok((start, start)),
            Some(b) if b == a => Ok((start, start)),
            Some(b) => {
                let end = num(b)?;
                if end < start {
                    return Err(format!("invalid port range: {s}"));
                }
                Ok((start, end))
            }
        }
    };
    let (start, end) = range(port).map_err(|_| format!("invalid containerPort: {port}"))?;
    if !host_port.is_empty() {
        let (hs, he) = range(host_port).map_err(|_| format!("invalid hostPort: {host_port}"))?;
        if end - start != he - hs && end != start {
            return Err(format!(
                "invalid ranges specified for container and host Ports: {port} and {host_port}"
            ));
        }
    }
    Ok((start..=end).map(|p| format!("{p}/{proto}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("80").unwrap(), vec!["80/tcp"]);
        assert_eq!(parse_port("53/UDP").unwrap(), vec!["53/udp"]);
        assert_eq!(
            parse_port("8000-8002").unwrap(),
            vec!["8000/tcp", "8001/tcp", "8002/tcp"]
        );
        assert!(parse_port("80/xyz").is_err());
        assert!(parse_port("99999").is_err());
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM"), Ok(15));
        assert_eq!(parse_signal("kill"), Ok(9));
        assert_eq!(parse_signal("9"), Ok(9));
        assert!(parse_signal("SIGFOO").is_err());
    }

    #[test]
    fn keep_slash() {
        assert_eq!(normalize_keep_slash("/", "/"), "/");
        assert_eq!(normalize_keep_slash("/app", "x/"), "/app/x/");
        assert_eq!(normalize_keep_slash("/app", "."), "/app/");
        assert_eq!(normalize_keep_slash("/app", "/abs"), "/abs");
    }
}
