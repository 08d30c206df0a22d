//! Variable expansion and word splitting, modelled on BuildKit's
//! `frontend/dockerfile/shell/lex.go` (which the classic builder vendors too).
//!
//! Supported: `$VAR`, `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`,
//! `${VAR+w}`, `${VAR:?msg}`, `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`,
//! `${VAR%pat}`, `${VAR%%pat}`, `${VAR/pat/repl}`, `${VAR//pat/repl}`, single
//! and double quotes, the escape token (`\` or a backtick), positional and
//! special parameter names (`$1`, `$@`, ...) which are looked up like any other
//! name. The pattern modifiers (`#`, `%`, `/`) arrived in BuildKit 1.5-labs /
//! 1.6 (`#`/`%`) and 1.7 (`/`) of the Dockerfile frontend; the classic builder
//! gets whatever BuildKit version moby vendors, so a current engine has them.
//!
//! Deviations: Go's regexp `.` does not match `\n`; we follow that.
//! BuildKit's current `ProcessWords` shares one buffer between nested
//! `${...}` words, which can drop text before a `${x:-...}` in the middle of a
//! word; we model the documented (older) behaviour, which keeps it.

mod pattern;

use std::collections::HashMap;
use std::fmt;

use crate::gocompat;

/// Where variable values come from.
pub trait Env {
    /// The value of `key`, if set.
    fn get(&self, key: &str) -> Option<String>;
}

/// An ordered environment list (`KEY=value`), looked up like Go's
/// `shell.EnvsFromSlice`: the last definition of a key wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvList {
    map: HashMap<String, String>,
}

impl EnvList {
    /// An empty environment.
    pub fn new() -> Self {
        Self::default()
    }
    /// Builds from `KEY=value` strings (a missing `=` means an empty value).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = &'a str>) -> Self {
        let mut e = Self::new();
        for p in pairs {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            e.set(k, v);
        }
        e
    }
    /// Sets `key` to `value`.
    pub fn set(&mut self, key: &str, value: &str) {
        self.map.insert(key.to_string(), value.to_string());
    }
}

impl Env for EnvList {
    fn get(&self, key: &str) -> Option<String> {
        self.map.get(key).cloned()
    }
}

/// An expansion error, worded like BuildKit's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError(pub String);

impl fmt::Display for LexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LexError {}

/// The lexer configuration (Go `shell.Lex`).
#[derive(Debug, Clone, Copy)]
pub struct Lexer {
    /// The escape token: `\` or `` ` ``.
    pub escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape tokens in the output.
    pub raw_escapes: bool,
    /// Treat quotes as ordinary characters.
    pub skip_process_quotes: bool,
    /// Leave references to unset variables as they are.
    pub skip_unset_env: bool,
}

impl Lexer {
    /// A lexer with the given escape token and default options.
    pub fn new(escape: char) -> Self {
        Lexer {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_process_quotes: false,
            skip_unset_env: false,
        }
    }

    /// Expands `word` into one string (Go `ProcessWord`).
    pub fn process_word(&self, word: &str, env: &dyn Env) -> Result<String, LexError> {
        self.process(word, env).map(|(w, _)| w)
    }

    /// Expands `word` and splits it into words (Go `ProcessWords`).
    pub fn process_words(&self, word: &str, env: &dyn Env) -> Result<Vec<String>, LexError> {
        self.process(word, env).map(|(_, ws)| ws)
    }

    fn process(&self, word: &str, env: &dyn Env) -> Result<(String, Vec<String>), LexError> {
        let mut sw = ShellWord {
            lex: self,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: self.raw_escapes,
            depth: 0,
        };
        sw.process_stop_on(None, self.raw_escapes).map_err(|e| {
            LexError(format!(
                "failed to process {}: {}",
                gocompat::quote(word),
                e.0
            ))
        })
    }
}

struct ShellWord<'a> {
    lex: &'a Lexer,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Env,
    raw_escapes: bool,
    depth: usize,
}

#[derive(Default)]
struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() && self.in_word {
            if !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else if !ch.is_whitespace() {
            self.add_raw_char(ch);
        }
    }
    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }
    fn add_string(&mut self, s: &str) {
        for c in s.chars() {
            self.add_char(c);
        }
    }
    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }
    fn get_words(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}

fn err<T>(msg: impl Into<String>) -> Result<T, LexError> {
    Err(LexError(msg.into()))
}

/// Nesting bound so hostile input cannot overflow the stack.
const MAX_DEPTH: usize = 256;

impl ShellWord<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> Result<(String, Vec<String>), LexError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err("expression nested too deeply");
        }
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        self.depth -= 1;
        r
    }

    fn process_stop_on_inner(
        &mut self,
        stop: Option<char>,
    ) -> Result<(String, Vec<String>), LexError> {
        let mut result = String::new();
        let mut words = Words::default();
        while let Some(ch) = self.peek() {
            if stop == Some(ch) {
                self.next();
                return Ok((result, words.get_words()));
            }
            let special = match ch {
                '$' => Some(self.process_dollar()),
                '<' => Some(Ok(self.process_possible_heredoc())),
                '\'' if !self.lex.skip_process_quotes => Some(self.process_single_quote()),
                '"' if !self.lex.skip_process_quotes => Some(self.process_double_quote()),
                _ => None,
            };
            if let Some(r) = special {
                let tmp = r?;
                result.push_str(&tmp);
                if ch == '$' {
                    words.add_string(&tmp);
                } else {
                    words.add_raw_string(&tmp);
                }
                continue;
            }
            let mut ch = self.next().unwrap_or(ch);
            if ch == self.lex.escape {
                if self.raw_escapes {
                    words.add_raw_char(ch);
                    result.push(ch);
                }
                match self.next() {
                    None => break,
                    Some(c) => ch = c,
                }
                words.add_raw_char(ch);
            } else {
                words.add_char(ch);
            }
            result.push(ch);
        }
        if let Some(s) = stop {
            return err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok((result, words.get_words()))
    }

    fn process_single_quote(&mut self) -> Result<String, LexError> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching single-quote",
                    );
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> Result<String, LexError> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return err(
                        "unexpected end of statement while looking for matching double-quote",
                    );
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or('\0');
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                ch = c;
                                self.next();
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn get_env(&self, name: &str) -> Option<String> {
        self.env.get(name)
    }

    /// A `$` expansion: `$NAME`, `${NAME}`, `${NAME<modifier>word}` or `${NAME/pat/repl}`.
    fn process_dollar(&mut self) -> Result<String, LexError> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".to_string());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return err("syntax error: missing '}'"),
            Some('{' | '}' | ':') => return err("syntax error: bad substitution"),
            _ => {}
        }
        let name = self.process_name();
        let ch = self.next();
        // Go's scanner reports EOF as -1, which prints as U+FFFD.
        let chs: String = ch.map_or("\u{fffd}".to_string(), String::from);
        match ch {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(':' | '+' | '-' | '?' | '#' | '%') => self.process_modifier(&name, ch, chs),
            Some('/') => self.process_replace(&name),
            _ => err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    /// The word up to `stop`, or `missing` when the input ends before it.
    fn process_until(&mut self, stop: char, raw: bool, missing: &str) -> Result<String, LexError> {
        match self.process_stop_on(Some(stop), raw) {
            Ok((w, _)) => Ok(w),
            Err(_) if self.peek().is_none() => err(missing),
            Err(e) => Err(e),
        }
    }

    /// `${NAME<op>word}` after the `op` character `ch` (`chs` as Go prints it): `-`, `+`, `?`
    /// (each also after `:`, which treats an empty value as unset), `#`, `##`, `%`, `%%`.
    fn process_modifier(
        &mut self,
        name: &str,
        ch: Option<char>,
        mut chs: String,
    ) -> Result<String, LexError> {
        let mut op = ch;
        let null_is_unset = op == Some(':');
        if null_is_unset {
            op = self.next();
            chs.push_str(&op.map_or("\u{fffd}".to_string(), String::from));
        }
        let raw = op == Some('#') || op == Some('%');
        if null_is_unset && raw {
            return err(format!("unsupported modifier ({chs}) in substitution"));
        }
        let word = self.process_until('}', raw, "syntax error: missing '}'")?;
        let value = self.get_env(name);
        if self.lex.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}{chs}{word}}}"));
        }
        let set = value.is_some();
        let value = value.unwrap_or_default();
        let unset = !set || (null_is_unset && value.is_empty());
        match op {
            Some('-') => Ok(if unset { word } else { value }),
            Some('+') => Ok(if unset { String::new() } else { word }),
            Some('?') => {
                let default = if !set {
                    "is not allowed to be unset"
                } else if unset {
                    "is not allowed to be empty"
                } else {
                    return Ok(value);
                };
                let m = if word.is_empty() {
                    default.to_string()
                } else {
                    word
                };
                err(format!("{name}: {m}"))
            }
            Some(c @ ('%' | '#')) => {
                let (greedy, pat) = match word.strip_prefix(c) {
                    Some(p) => (true, p),
                    None => (false, word.as_str()),
                };
                if c == '%' {
                    pattern::trim_suffix(pat, &value, greedy)
                } else {
                    pattern::trim_prefix(pat, &value, greedy)
                }
            }
            _ => err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    /// `${NAME/pattern/replacement}` (first match) or `${NAME//pattern/replacement}` (all),
    /// after the first `/`.
    fn process_replace(&mut self, name: &str) -> Result<String, LexError> {
        let all = self.peek() == Some('/');
        if all {
            self.next();
        }
        let pattern = self.process_until('/', true, "syntax error: missing '/' in ${}")?;
        let replacement = self.process_until('}', true, "syntax error: missing '}'")?;
        let value = self.get_env(name);
        if self.lex.skip_unset_env && value.is_none() {
            return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
        }
        pattern::replace(&pattern, &value.unwrap_or_default(), &replacement, all)
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_go_digit(ch) {
                while let Some(c) = self.peek() {
                    if !is_go_digit(c) {
                        break;
                    }
                    self.next();
                    name.push(c);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphabetic() && !is_go_digit(ch) && ch != '_' {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }

    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".to_string();
        }
        self.next();
        let mut out = "<<".to_string();
        while let Some(c @ ('\t' | '\r' | ' ')) = self.peek() {
            out.push(c);
            self.next();
        }
        out
    }
}

/// Go `unicode.IsDigit` (decimal digits, category Nd).
fn is_go_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && is_nd(c))
}

fn is_nd(c: char) -> bool {
    // Rust has no general-category API: a table of common Nd blocks (each a
    // run of ten digits starting at the listed zero). Approximation.
    let u = c as u32;
    const ZEROS: &[u32] = &[
        0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66, 0xde6,
        0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
        0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0,
        0xff10,
    ];
    ZEROS.iter().any(|z| (*z..z + 10).contains(&u))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> EnvList {
        EnvList::from_pairs([
            "FOO=bar",
            "EMPTY=",
            "PATHV=/usr/local/bin/app.tar.gz",
            "SP=a b",
        ])
    }

    fn w(s: &str) -> String {
        Lexer::new('\\').process_word(s, &env()).unwrap()
    }
    fn we(s: &str) -> String {
        Lexer::new('\\').process_word(s, &env()).unwrap_err().0
    }

    #[test]
    fn simple_and_braced() {
        assert_eq!(w("$FOO"), "bar");
        assert_eq!(w("${FOO}x"), "barx");
        assert_eq!(w("$NOPE-x"), "-x");
        assert_eq!(w("a$"), "a$");
        assert_eq!(w("$1x"), "x");
    }

    #[test]
    fn modifiers() {
        assert_eq!(w("${NOPE:-d}"), "d");
        assert_eq!(w("${EMPTY:-d}"), "d");
        assert_eq!(w("${EMPTY-d}"), "");
        assert_eq!(w("${FOO:-d}"), "bar");
        assert_eq!(w("${FOO:+d}"), "d");
        assert_eq!(w("${EMPTY:+d}"), "");
        assert_eq!(w("${EMPTY+d}"), "d");
        assert_eq!(w("${NOPE+d}"), "");
        assert_eq!(w("${NOPE:-${FOO}}"), "bar");
        assert!(we("${NOPE:?}").ends_with("NOPE: is not allowed to be unset"));
        assert!(we("${EMPTY:?}").ends_with("EMPTY: is not allowed to be empty"));
        assert!(we("${NOPE?oops}").ends_with("NOPE: oops"));
        assert_eq!(w("${EMPTY?oops}"), "");
    }

    #[test]
    fn pattern_modifiers() {
        assert_eq!(w("${PATHV#*/}"), "usr/local/bin/app.tar.gz");
        assert_eq!(w("${PATHV##*/}"), "app.tar.gz");
        assert_eq!(w("${PATHV%.*}"), "/usr/local/bin/app.tar");
        assert_eq!(w("${PATHV%%.*}"), "/usr/local/bin/app");
        assert_eq!(w("${FOO/a/o}"), "bor");
        assert_eq!(w("${PATHV//\\//_}"), "_usr_local_bin_app.tar.gz");
        assert_eq!(w("${FOO/?/X}"), "Xar");
        assert!(we("${FOO:#x}").contains("unsupported modifier (:#)"));
        assert!(we("${FOO/x\\q/y}").contains("invalid escape"));
    }

    #[test]
    fn errors() {
        assert!(we("${").contains("missing '}'"));
        assert!(we("${}").contains("bad substitution"));
        assert!(we("${:a}").contains("bad substitution"));
        assert!(we("${FOO").contains("unsupported modifier"));
        assert!(we("${FOO:-x").contains("missing '}'"));
        assert!(we("'abc").contains("single-quote"));
        assert!(we("\"abc").contains("double-quote"));
        assert!(we("${FOO!}").contains("unsupported modifier (!)"));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(w("'$FOO'"), "$FOO");
        assert_eq!(w("\"$FOO\""), "bar");
        assert_eq!(w("\\$FOO"), "$FOO");
        assert_eq!(w("\"a\\\"b\\x\""), "a\"b\\x");
        assert_eq!(w("a\\"), "a");
        let bt = Lexer::new('`');
        assert_eq!(bt.process_word("`$FOO\\x", &env()).unwrap(), "$FOO\\x");
    }

    #[test]
    fn words() {
        let l = Lexer::new('\\');
        assert_eq!(
            l.process_words("a $SP \"c d\"", &env()).unwrap(),
            vec!["a", "a", "b", "c d"]
        );
        assert_eq!(
            l.process_words("80 443/udp", &env()).unwrap(),
            vec!["80", "443/udp"]
        );
        assert_eq!(l.process_words("\"\" x", &env()).unwrap(), vec!["x"]);
    }

    #[test]
    fn skip_unset() {
        let mut l = Lexer::new('\\');
        l.skip_unset_env = true;
        assert_eq!(
            l.process_word("$NOPE ${NOPE} ${NOPE:-x}", &env()).unwrap(),
            "$NOPE ${NOPE} ${NOPE:-x}"
        );
    }

    #[test]
    fn replace_all_empty_matches() {
        // Go: regexp.MustCompile(".*").ReplaceAllString("bar", "X") == "X"
        assert_eq!(w("${FOO//*/X}"), "X");
        assert_eq!(w("${FOO//o/X}"), "bar");
    }
}
