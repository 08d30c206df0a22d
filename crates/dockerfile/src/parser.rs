//! Line-level parsing, modelled on BuildKit's `frontend/dockerfile/parser`:
//! parser directives, escape token, continuation lines, comments, flags and
//! the per-instruction argument splitting (JSON/exec form vs shell form).

use super::lex::{EnvList, Lexer};
use super::{Error, Span, Warning, gocompat};

/// One instruction as the line parser sees it (Go `parser.Node`, flattened).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawInstruction {
    /// The keyword as written (`from`, `ADD`, ...).
    pub keyword: String,
    /// `--flag[=value]` words before the arguments, unparsed.
    pub flags: Vec<String>,
    /// Arguments as BuildKit's `nodeArgs` returns them (ENV/LABEL come as
    /// key, value, delimiter triples; ONBUILD as the trigger keyword + args).
    pub args: Vec<String>,
    /// Whether the arguments were a JSON array (exec form).
    pub json: bool,
    /// The logical line (continuations joined) as parsed.
    pub original: String,
    /// Where it is.
    pub span: Span,
}

/// The parsed file before typing.
#[derive(Debug, Clone)]
pub struct RawFile {
    /// Instructions in order.
    pub instructions: Vec<RawInstruction>,
    /// The escape token in effect.
    pub escape: char,
    /// `# syntax=` value if present.
    pub syntax: Option<String>,
    /// `# check=` value if present (ignored otherwise).
    pub check: Option<String>,
    /// Warnings (empty continuation lines).
    pub warnings: Vec<Warning>,
}

struct Directives {
    escape: char,
    done: bool,
    seen: Vec<String>,
    syntax: Option<String>,
    check: Option<String>,
}

impl Directives {
    /// Go `DirectiveParser.ParseLine` + `setEscapeToken`. Returns whether the
    /// line was a directive.
    fn parse_line(&mut self, line: &str, lineno: usize) -> Result<bool, Error> {
        if self.done {
            return Ok(false);
        }
        let Some(rest) = line.strip_prefix('#') else {
            self.done = true;
            return Ok(false);
        };
        let rest = rest.trim_start();
        // ^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$
        let name_len = rest
            .char_indices()
            .take_while(|(i, c)| {
                if *i == 0 {
                    c.is_ascii_alphabetic()
                } else {
                    c.is_ascii_alphanumeric()
                }
            })
            .count();
        if name_len == 0 {
            self.done = true;
            return Ok(false);
        }
        let name = &rest[..name_len];
        let after = rest[name_len..].trim_start_matches(is_re_space);
        let Some(value) = after.strip_prefix('=') else {
            self.done = true;
            return Ok(false);
        };
        let value = value.trim_matches(is_re_space);
        if value.is_empty() {
            self.done = true;
            return Ok(false);
        }
        let key = name.to_ascii_lowercase();
        if !matches!(key.as_str(), "syntax" | "escape" | "check") {
            self.done = true;
            return Ok(false);
        }
        if self.seen.contains(&key) {
            return Err(Error::Parse {
                line: lineno,
                message: format!("only one {key} parser directive can be used"),
            });
        }
        self.seen.push(key.clone());
        match key.as_str() {
            "escape" => {
                if value != "`" && value != "\\" {
                    return Err(Error::Parse {
                        line: lineno,
                        message: format!("invalid escape token '{value}' does not match ` or \\"),
                    });
                }
                self.escape = value.chars().next().unwrap_or('\\');
            }
            "syntax" => self.syntax = Some(value.to_string()),
            _ => self.check = Some(value.to_string()),
        }
        Ok(true)
    }
}

/// Go regexp `\s`: `[\t\n\f\r ]`.
fn is_re_space(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\u{c}' | '\r' | ' ')
}

/// Go `reWhitespace`: `[\t\v\f\r ]+`.
fn is_ws_sep(c: char) -> bool {
    matches!(c, '\t' | '\u{b}' | '\u{c}' | '\r' | ' ')
}

fn split_ws(s: &str, n: Option<usize>) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = s;
    loop {
        if n.is_some_and(|n| out.len() + 1 == n) {
            out.push(rest.to_string());
            return out;
        }
        match rest.find(is_ws_sep) {
            None => {
                out.push(rest.to_string());
                return out;
            }
            Some(i) => {
                out.push(rest[..i].to_string());
                rest = rest[i..].trim_start_matches(is_ws_sep);
            }
        }
    }
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

/// Go `trimContinuationCharacter`: returns the line without the continuation
/// token and whether the logical line ends here.
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let trimmed = line.trim_end_matches([' ', '\t']);
    if let Some(before) = trimmed.strip_suffix(escape) {
        match before.chars().last() {
            None => return (String::new(), false),
            Some(c) if c != escape => return (before.to_string(), false),
            Some(_) => {}
        }
    }
    (line.to_string(), true)
}

/// bufio.MaxScanTokenSize.
const MAX_LINE: usize = 64 * 1024;

/// Parses the text into raw instructions.
pub fn parse_raw(src: &str) -> Result<RawFile, Error> {
    let mut d = Directives {
        escape: '\\',
        done: false,
        seen: Vec::new(),
        syntax: None,
        check: None,
    };
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines: Vec<&str> = src.split_inclusive('\n').collect();
    for (i, l) in lines.iter().enumerate() {
        if l.len() > MAX_LINE {
            return Err(Error::Parse {
                line: i + 1,
                message: format!(
                    "dockerfile line greater than max allowed size of {}",
                    MAX_LINE - 1
                ),
            });
        }
    }
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut idx = 0;
    let mut current = 0usize;
    while idx < lines.len() {
        let raw = lines[idx];
        idx += 1;
        let line = trim_newline(raw).trim_start();
        d.parse_line(line, current + 1)?;
        let line = if is_comment(line) { "" } else { line };
        current += 1;
        let start = current;
        let (first, mut end_of_line) = trim_continuation(line, d.escape);
        if end_of_line && first.is_empty() {
            continue;
        }
        let mut buf = first;
        let mut has_empty = false;
        while !end_of_line && idx < lines.len() {
            let raw = lines[idx];
            idx += 1;
            let l = trim_newline(raw);
            d.parse_line(l, current + 1)?;
            current += 1;
            if is_comment(raw) {
                continue;
            }
            if l.trim_start().is_empty() {
                has_empty = true;
                continue;
            }
            let (t, eol) = trim_continuation(l, d.escape);
            end_of_line = eol;
            buf.push_str(&t);
        }
        if has_empty {
            warnings.push(Warning {
                line: current,
                message: format!("Empty continuation line found in: {buf}"),
            });
        }
        let span = Span {
            start_line: start,
            end_line: current,
        };
        let node = node_from_line(&buf, d.escape, span, 0)?;
        check_heredoc(&node, &buf)?;
        out.push(node);
    }
    if out.is_empty() {
        return Err(Error::Parse {
            line: current,
            message: "file with no instructions".to_string(),
        });
    }
    Ok(RawFile {
        instructions: out,
        escape: d.escape,
        syntax: d.syntax,
        check: d.check,
        warnings,
    })
}

fn check_heredoc(node: &RawInstruction, line: &str) -> Result<(), Error> {
    let mut kw = gocompat::to_lower(&node.keyword);
    if kw == "onbuild" {
        kw = node
            .args
            .first()
            .map(|s| gocompat::to_lower(s))
            .unwrap_or_default();
    }
    if !matches!(kw.as_str(), "add" | "copy" | "run") || node.json || !line.contains("<<") {
        return Ok(());
    }
    let mut lex = Lexer::new('\\');
    lex.raw_quotes = true;
    lex.raw_escapes = true;
    lex.skip_unset_env = true;
    let words = lex.process_words(line, &EnvList::new()).unwrap_or_default();
    for w in words {
        if let Some(name) = heredoc_name(&w) {
            return Err(Error::Unsupported {
                span: node.span,
                message: format!("heredoc <<{name} is not supported"),
            });
        }
    }
    Ok(())
}

/// `^(\d*)<<(-?)\s*([^<]*)$` plus Go's check that the word lexes to one word.
pub(crate) fn heredoc_name(word: &str) -> Option<String> {
    let digits = word.bytes().take_while(u8::is_ascii_digit).count();
    let rest = word[digits..].strip_prefix("<<")?;
    let rest = rest.strip_prefix('-').unwrap_or(rest);
    let rest = rest.trim_start_matches(is_re_space);
    if rest.is_empty() || rest.contains('<') {
        return None;
    }
    let mut lex = Lexer::new('\\');
    lex.skip_unset_env = true;
    let words = lex.process_words(rest, &EnvList::new()).ok()?;
    if words.len() != 1 {
        return None;
    }
    Some(words[0].clone())
}

fn node_from_line(
    line: &str,
    escape: char,
    span: Span,
    depth: usize,
) -> Result<RawInstruction, Error> {
    let perr = |message: String| Error::Parse {
        line: span.start_line,
        message,
    };
    let trimmed = line.trim();
    let parts = split_ws(trimmed, Some(2));
    let keyword = parts[0].clone();
    let (rest, flags) = if parts.len() == 2 {
        extract_flags(&parts[1], escape)
    } else {
        (String::new(), Vec::new())
    };
    let rest = rest.trim().to_string();
    let kw = gocompat::to_lower(&keyword);
    let mut json = false;
    let args: Vec<String> = match kw.as_str() {
        "add" | "copy" | "volume" => match parse_json(&rest) {
            Json::Array(a) => {
                json = true;
                a
            }
            Json::NotStrings => return Err(perr(NOT_STRINGS.to_string())),
            Json::No => split_ws_list(&rest),
        },
        "arg" => parse_words(&rest, escape),
        "cmd" | "entrypoint" | "run" | "shell" => {
            if rest.is_empty() {
                Vec::new()
            } else {
                match parse_json(&rest) {
                    Json::Array(a) => {
                        json = true;
                        a
                    }
                    Json::NotStrings => return Err(perr(NOT_STRINGS.to_string())),
                    Json::No => vec![rest.clone()],
                }
            }
        }
        "env" | "label" => parse_name_val(&rest, if kw == "env" { "ENV" } else { "LABEL" }, escape)
            .map_err(perr)?,
        "expose" | "from" => {
            if rest.is_empty() {
                Vec::new()
            } else {
                split_ws(&rest, None)
            }
        }
        "healthcheck" => {
            let b = rest.as_bytes();
            let sep = b
                .iter()
                .position(|c| is_go_byte_space(*c))
                .unwrap_or(b.len());
            let next = sep
                + b[sep..]
                    .iter()
                    .take_while(|c| is_go_byte_space(**c))
                    .count();
            if sep == 0 {
                Vec::new()
            } else {
                let typ = String::from_utf8_lossy(&b[..sep]).into_owned();
                let cmd = String::from_utf8_lossy(&b[next..]).into_owned();
                let mut v = vec![typ];
                if !cmd.is_empty() {
                    match parse_json(&cmd) {
                        Json::Array(a) => {
                            json = true;
                            v.extend(a);
                        }
                        Json::NotStrings => return Err(perr(NOT_STRINGS.to_string())),
                        Json::No => v.push(cmd),
                    }
                }
                v
            }
        }
        "maintainer" | "stopsignal" | "user" | "workdir" => {
            if rest.is_empty() {
                Vec::new()
            } else {
                vec![rest.clone()]
            }
        }
        "onbuild" => {
            if rest.is_empty() || depth > 0 {
                // Nested ONBUILD is rejected by the instruction parser.
                if depth > 0 {
                    vec![split_ws(&rest, Some(2))[0].clone()]
                } else {
                    Vec::new()
                }
            } else {
                let child = node_from_line(&rest, escape, span, depth + 1)?;
                let mut v = vec![child.keyword.clone()];
                v.extend(child.args);
                v
            }
        }
        _ => Vec::new(),
    };
    Ok(RawInstruction {
        keyword,
        flags,
        args,
        json,
        original: line.to_string(),
        span,
    })
}

/// `unicode.IsSpace(rune(b))` for a single byte, as parseHealthConfig does.
fn is_go_byte_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0)
}

const NOT_STRINGS: &str = "when using JSON array syntax, arrays must be comprised of strings only";

enum Json {
    Array(Vec<String>),
    NotStrings,
    No,
}

fn parse_json(rest: &str) -> Json {
    let rest = rest.trim_start();
    if !rest.starts_with('[') {
        return Json::No;
    }
    match serde_json::from_str::<Vec<serde_json::Value>>(rest) {
        Err(_) => Json::No,
        Ok(vals) => {
            let mut out = Vec::with_capacity(vals.len());
            for v in vals {
                match v {
                    serde_json::Value::String(s) => out.push(s),
                    _ => return Json::NotStrings,
                }
            }
            Json::Array(out)
        }
    }
}

fn split_ws_list(rest: &str) -> Vec<String> {
    if rest.is_empty() {
        return Vec::new();
    }
    split_ws(rest, None)
}

/// Go `parseWords`: splits on whitespace, keeping quotes and escapes.
fn parse_words(rest: &str, escape: char) -> Vec<String> {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let chars: Vec<char> = rest.chars().collect();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut quote = '\0';
    let mut blank_ok = false;
    let mut buf = String::new();
    let mut pos = 0;
    loop {
        let at_end = pos >= chars.len();
        let mut ch = if at_end { '\0' } else { chars[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if ch.is_whitespace() {
                pos += 1;
                continue;
            }
            phase = Phase::Word;
        }
        if at_end {
            if blank_ok || !buf.is_empty() {
                words.push(buf.clone());
            }
            break;
        }
        if phase == Phase::Word {
            if ch.is_whitespace() {
                phase = Phase::Spaces;
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                buf.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == '\'' || ch == '"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
            }
            if ch == escape {
                if pos + 1 == chars.len() {
                    pos += 1;
                    continue;
                }
                buf.push(ch);
                pos += 1;
                ch = chars[pos];
            }
            buf.push(ch);
            pos += 1;
            continue;
        }
        // Quote phase.
        if ch == quote {
            phase = Phase::Word;
        }
        if ch == escape && quote != '\'' {
            if pos + 1 == chars.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            buf.push(ch);
            ch = chars[pos];
        }
        buf.push(ch);
        pos += 1;
    }
    words
}

fn parse_name_val(rest: &str, key: &str, escape: char) -> Result<Vec<String>, String> {
    let words = parse_words(rest, escape);
    if words.is_empty() {
        return Ok(Vec::new());
    }
    if !words[0].contains('=') {
        let parts = split_ws(rest, Some(2));
        if parts.len() < 2 {
            return Err(format!("{key} must have two arguments"));
        }
        return Ok(vec![parts[0].clone(), parts[1].clone(), String::new()]);
    }
    let mut out = Vec::new();
    for w in words {
        let Some((k, v)) = w.split_once('=') else {
            return Err(format!(
                "Syntax error - can't find = in {}. Must be of the form: name=value",
                gocompat::quote(&w)
            ));
        };
        out.push(k.to_string());
        out.push(v.to_string());
        out.push("=".to_string());
    }
    Ok(out)
}

/// Go `extractBuilderFlags`, which walks bytes (so a non-ASCII byte becomes
/// the Latin-1 character of that byte, as in Go's `rune(line[pos])`).
fn extract_flags(line: &str, escape: char) -> (String, Vec<String>) {
    #[derive(PartialEq)]
    enum Phase {
        Spaces,
        Word,
        Quote,
    }
    let b = line.as_bytes();
    let esc = if escape.is_ascii() {
        escape as u8
    } else {
        b'\\'
    };
    let is_space = |c: u8| matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ' | 0x85 | 0xa0);
    let rest_from = |pos: usize| String::from_utf8_lossy(&b[pos..]).into_owned();
    let mut words = Vec::new();
    let mut phase = Phase::Spaces;
    let mut buf = String::new();
    let mut quote = 0u8;
    let mut blank_ok = false;
    let mut pos = 0;
    while pos <= b.len() {
        let at_end = pos == b.len();
        let mut ch = if at_end { 0 } else { b[pos] };
        if phase == Phase::Spaces {
            if at_end {
                break;
            }
            if is_space(ch) {
                pos += 1;
                continue;
            }
            if ch != b'-' || pos + 1 == b.len() || b[pos + 1] != b'-' {
                return (rest_from(pos), words);
            }
            phase = Phase::Word;
        }
        if at_end {
            if buf != "--" && (blank_ok || !buf.is_empty()) {
                words.push(buf.clone());
            }
            break;
        }
        if phase == Phase::Word {
            if is_space(ch) {
                phase = Phase::Spaces;
                if buf == "--" {
                    return (rest_from(pos), words);
                }
                if blank_ok || !buf.is_empty() {
                    words.push(std::mem::take(&mut buf));
                }
                buf.clear();
                blank_ok = false;
                pos += 1;
                continue;
            }
            if ch == b'\'' || ch == b'"' {
                quote = ch;
                blank_ok = true;
                phase = Phase::Quote;
                pos += 1;
                continue;
            }
            if ch == esc {
                if pos + 1 == b.len() {
                    pos += 1;
                    continue;
                }
                pos += 1;
                ch = b[pos];
            }
            buf.push(char::from(ch));
            pos += 1;
            continue;
        }
        if ch == quote {
            phase = Phase::Word;
            pos += 1;
            continue;
        }
        if ch == esc {
            if pos + 1 == b.len() {
                phase = Phase::Word;
                pos += 1;
                continue;
            }
            pos += 1;
            ch = b[pos];
        }
        buf.push(char::from(ch));
        pos += 1;
    }
    (String::new(), words)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_keep_quotes() {
        assert_eq!(
            parse_words("a=\"b c\" d='e'", '\\'),
            vec!["a=\"b c\"", "d='e'"]
        );
        assert_eq!(parse_words("a\\ b c", '\\'), vec!["a\\ b", "c"]);
    }

    #[test]
    fn flags() {
        let (rest, f) = extract_flags("--chown=1:2 --link a b", '\\');
        assert_eq!(f, vec!["--chown=1:2", "--link"]);
        assert_eq!(rest, "a b");
        let (rest, f) = extract_flags("-- --x a", '\\');
        assert!(f.is_empty());
        assert_eq!(rest, " --x a");
    }

    #[test]
    fn continuation() {
        assert_eq!(
            trim_continuation("FROM a \\", '\\'),
            ("FROM a ".to_string(), false)
        );
        assert_eq!(
            trim_continuation("a\\\\", '\\'),
            ("a\\\\".to_string(), true)
        );
        assert_eq!(trim_continuation("\\  ", '\\'), (String::new(), false));
        assert_eq!(trim_continuation("a`", '`'), ("a".to_string(), false));
    }
}
