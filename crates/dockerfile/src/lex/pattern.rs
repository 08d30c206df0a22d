//! The shell patterns of `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}`: BuildKit turns them
//! into Go regexps (`*` → `.*`, `?` → `.`, leftmost-first, `.` not matching `\n`); this is a
//! small backtracking matcher with the same results.

use std::collections::HashMap;

use super::LexError;

#[derive(Debug, Clone, PartialEq)]
enum PTok {
    Star,
    Any,
    Lit(char),
}

struct Pattern {
    toks: Vec<PTok>,
    greedy: bool,
}

/// `${VAR/pat/repl}` (`all`: `//`): the first (or every) match of `pattern` in `value`
/// replaced.
pub(super) fn replace(
    pattern: &str,
    value: &str,
    replacement: &str,
    all: bool,
) -> Result<String, LexError> {
    let pat = compile_pattern(pattern, true)
        .map_err(|e| LexError(format!("invalid pattern ({pattern}) in substitution: {e}")))?;
    let v: Vec<char> = value.chars().collect();
    if all {
        return Ok(replace_all(&pat, &v, replacement));
    }
    Ok(match find(&pat, &v, 0) {
        Some((s, e)) => {
            let mut out: String = v[..s].iter().collect();
            out.push_str(replacement);
            out.extend(&v[e..]);
            out
        }
        None => value.to_string(),
    })
}

/// A pattern's characters as tokens; `\` escapes `*`, `?` and `\`, and is dropped before `}`
/// and `/`.
fn compile_pattern(pattern: &str, greedy: bool) -> Result<Pattern, String> {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => toks.push(PTok::Star),
            '?' => toks.push(PTok::Any),
            '\\' => {
                let next = chars.get(i).copied();
                if matches!(next, Some('}' | '/')) {
                    continue;
                }
                match next {
                    Some(n @ ('*' | '?' | '\\')) => {
                        toks.push(PTok::Lit(n));
                        i += 1;
                    }
                    Some(n) => return Err(format!("invalid escape '\\{n}'")),
                    None => return Err("invalid escape '\\\u{fffd}'".to_string()),
                }
            }
            c => toks.push(PTok::Lit(c)),
        }
    }
    Ok(Pattern { toks, greedy })
}

/// Match of `pat` anchored at `start`, with Perl (leftmost-first) priorities.
fn match_at(pat: &Pattern, s: &[char], start: usize) -> Option<usize> {
    let mut memo: HashMap<(usize, usize), Option<usize>> = HashMap::new();
    match_rec(pat, s, 0, start, &mut memo)
}

fn match_rec(
    pat: &Pattern,
    s: &[char],
    pi: usize,
    si: usize,
    memo: &mut HashMap<(usize, usize), Option<usize>>,
) -> Option<usize> {
    if pi == pat.toks.len() {
        return Some(si);
    }
    if let Some(r) = memo.get(&(pi, si)) {
        return *r;
    }
    let r = match &pat.toks[pi] {
        PTok::Lit(c) => {
            if s.get(si) == Some(c) {
                match_rec(pat, s, pi + 1, si + 1, memo)
            } else {
                None
            }
        }
        PTok::Any => match s.get(si) {
            Some(c) if *c != '\n' => match_rec(pat, s, pi + 1, si + 1, memo),
            _ => None,
        },
        PTok::Star => {
            let max = s[si..].iter().take_while(|c| **c != '\n').count();
            let mut found = None;
            if pat.greedy {
                for k in (0..=max).rev() {
                    if let Some(e) = match_rec(pat, s, pi + 1, si + k, memo) {
                        found = Some(e);
                        break;
                    }
                }
            } else {
                for k in 0..=max {
                    if let Some(e) = match_rec(pat, s, pi + 1, si + k, memo) {
                        found = Some(e);
                        break;
                    }
                }
            }
            found
        }
    };
    memo.insert((pi, si), r);
    r
}

fn find(pat: &Pattern, s: &[char], from: usize) -> Option<(usize, usize)> {
    (from..=s.len()).find_map(|st| match_at(pat, s, st).map(|e| (st, e)))
}

/// `${VAR#pat}` (`greedy`: `##`): `value` without the match of `pattern` at its start.
pub(super) fn trim_prefix(pattern: &str, value: &str, greedy: bool) -> Result<String, LexError> {
    let pat = compile_pattern(pattern, greedy)
        .map_err(|e| LexError(format!("invalid pattern ({pattern}) in substitution: {e}")))?;
    let v: Vec<char> = value.chars().collect();
    Ok(match match_at(&pat, &v, 0) {
        Some(e) => v[e..].iter().collect(),
        None => value.to_string(),
    })
}

fn reverse_pattern(pattern: &str) -> String {
    let p: Vec<char> = pattern.chars().collect();
    let n = p.len();
    let mut out = vec!['\0'; n];
    let mut i = 0;
    while i < n {
        let tok = p[i];
        let o = n - 1 - i;
        if tok == '\\' && i != n - 1 {
            out[o - 1] = tok;
            out[o] = p[i + 1];
            i += 2;
        } else {
            out[o] = tok;
            i += 1;
        }
    }
    out.into_iter().collect()
}

/// `${VAR%pat}` (`greedy`: `%%`): `value` without the match of `pattern` at its end, found by
/// matching the reversed pattern against the reversed value.
pub(super) fn trim_suffix(pattern: &str, value: &str, greedy: bool) -> Result<String, LexError> {
    let rp = reverse_pattern(pattern);
    let rv: String = value.chars().rev().collect();
    let r = trim_prefix(&rp, &rv, greedy)?;
    Ok(r.chars().rev().collect())
}

/// Go `Regexp.ReplaceAllString`, including `$`-template expansion of the
/// replacement (the pattern has no groups, so only `$0` is non-empty).
fn replace_all(pat: &Pattern, s: &[char], repl: &str) -> String {
    let mut out = String::new();
    let mut last_end = 0usize;
    let mut search = 0usize;
    while search <= s.len() {
        let Some((a0, a1)) = find(pat, s, search) else {
            break;
        };
        out.extend(&s[last_end..a0]);
        if a1 > last_end || a0 == 0 {
            expand_template(&mut out, repl, &s[a0..a1]);
        }
        last_end = a1;
        if search + 1 > a1 {
            search += 1;
        } else {
            search = a1;
        }
    }
    if last_end <= s.len() {
        out.extend(&s[last_end..]);
    }
    out
}

fn expand_template(out: &mut String, template: &str, whole: &[char]) {
    let t: Vec<char> = template.chars().collect();
    let mut i = 0;
    while i < t.len() {
        if t[i] != '$' {
            out.push(t[i]);
            i += 1;
            continue;
        }
        if t.get(i + 1) == Some(&'$') {
            out.push('$');
            i += 2;
            continue;
        }
        let is_name = |c: char| c == '_' || c.is_alphanumeric();
        let (name, next) = if t.get(i + 1) == Some(&'{') {
            let start = i + 2;
            let mut j = start;
            while j < t.len() && is_name(t[j]) {
                j += 1;
            }
            if j == start || t.get(j) != Some(&'}') {
                (None, i + 1)
            } else {
                (Some(t[start..j].iter().collect::<String>()), j + 1)
            }
        } else {
            let start = i + 1;
            let mut j = start;
            while j < t.len() && is_name(t[j]) {
                j += 1;
            }
            if j == start {
                (None, i + 1)
            } else {
                (Some(t[start..j].iter().collect::<String>()), j)
            }
        };
        match name {
            None => {
                out.push('$');
                i = next;
            }
            Some(n) => {
                if n.bytes().all(|b| b.is_ascii_digit()) && n.parse::<u64>().ok() == Some(0) {
                    out.extend(whole);
                }
                i = next;
            }
        }
    }
}
