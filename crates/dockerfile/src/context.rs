//! The build context: `.dockerignore` matching (moby/patternmatcher and
//! `ignorefile.ReadAll` semantics) and ADD/COPY source resolution (globs).
//!
//! The only filesystem access in this module is [`Context::read_dir`], which
//! walks one directory without following symlinks.
//!
//! Modelled: `!` exceptions (last match wins), `**` (any number of
//! directories), leading `/` and `./` dropped, patterns cleaned; a path is
//! excluded when it or one of its parents matches (`MatchesOrParentMatches`).
//! Source globs use Go `filepath.Match` (no `**`: it acts like `*`); the
//! classic builder matches the whole relative path against the pattern, BuildKit
//! splits at the first component with a wildcard and stops descending into a
//! matched directory. A wildcard that matches nothing is an error only for the
//! classic builder ("no source files were specified").
//!
//! Deviations: character classes inside `.dockerignore` patterns are matched
//! with `filepath.Match` class rules (patternmatcher hands them to Go's regexp,
//! which differs for exotic classes such as `[[:alpha:]]`); symlinked sources
//! are reported, not followed.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::gocompat;
use crate::model::BuilderKind;

/// Kind of a context entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// Regular file.
    File,
    /// Directory.
    Dir,
    /// Symbolic link (target as stored).
    Symlink(String),
    /// Anything else (fifo, socket, device).
    Other,
}

/// A source as resolved in the context.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResolvedSource {
    /// Path relative to the context root, `/`-separated, no leading `/`.
    pub path: String,
    /// Its kind.
    pub kind: EntryKind,
}

/// The build context as a list of entries plus `.dockerignore` patterns.
#[derive(Debug, Clone, Default)]
pub struct Context {
    entries: BTreeMap<String, EntryKind>,
    ignore: Option<IgnoreMatcher>,
}

impl Context {
    /// A context from explicit entries (relative paths) and `.dockerignore` text.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (String, EntryKind)>,
        dockerignore: Option<&str>,
    ) -> Result<Context, String> {
        let ignore = dockerignore
            .map(|t| IgnoreMatcher::new(&read_ignore_file(t)))
            .transpose()?;
        let mut map = BTreeMap::new();
        for (p, k) in entries {
            let p = gocompat::clean(p.trim_start_matches('/'));
            if p != "." {
                map.insert(p, k);
            }
        }
        Ok(Context {
            entries: map,
            ignore,
        })
    }

    /// Reads `dir` recursively without following symlinks, and its
    /// `.dockerignore` if present.
    pub fn read_dir(dir: &Path) -> std::io::Result<Context> {
        let mut entries = Vec::new();
        walk(dir, "", &mut entries)?;
        let ig_path = dir.join(".dockerignore");
        let ignore = match std::fs::symlink_metadata(&ig_path) {
            Ok(m) if m.is_file() => Some(std::fs::read_to_string(&ig_path)?),
            _ => None,
        };
        Context::from_entries(entries, ignore.as_deref()).map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", ig_path.display()),
            )
        })
    }

    /// Whether `path` (relative) is excluded by `.dockerignore`.
    pub fn is_ignored(&self, path: &str) -> bool {
        self.ignore
            .as_ref()
            .is_some_and(|m| m.matches_or_parent_matches(path))
    }

    fn visible(&self) -> impl Iterator<Item = (&String, &EntryKind)> {
        self.entries.iter().filter(|(p, _)| !self.is_ignored(p))
    }

    /// Resolves one (expanded) ADD/COPY source the way `builder` would.
    pub fn resolve(&self, src: &str, builder: BuilderKind) -> Result<Vec<ResolvedSource>, String> {
        let rel = match builder {
            BuilderKind::Classic => {
                let s = src.trim_start_matches('/');
                s.strip_prefix("./").unwrap_or(s).to_string()
            }
            BuilderKind::Buildkit => gocompat::clean(&format!("/{src}"))
                .trim_start_matches('/')
                .to_string(),
        };
        if contains_wildcards(&rel) {
            return Ok(match builder {
                BuilderKind::Classic => self
                    .visible()
                    .filter(|(p, _)| gocompat::match_path(&rel, p) == Ok(true))
                    .map(|(p, k)| ResolvedSource {
                        path: p.clone(),
                        kind: k.clone(),
                    })
                    .collect(),
                BuilderKind::Buildkit => self.resolve_buildkit_wildcard(&rel),
            });
        }
        let clean = gocompat::clean(&rel);
        if clean == "." || clean.is_empty() {
            return Ok(vec![ResolvedSource {
                path: String::new(),
                kind: EntryKind::Dir,
            }]);
        }
        match self.entries.get(&clean) {
            Some(k) if !self.is_ignored(&clean) => Ok(vec![ResolvedSource {
                path: clean,
                kind: k.clone(),
            }]),
            _ => Err(match builder {
                BuilderKind::Classic => format!(
                    "file not found in build context or excluded by .dockerignore: stat {rel}: file does not exist"
                ),
                BuilderKind::Buildkit => format!(
                    "failed to compute cache key: {}: not found",
                    gocompat::quote(&format!("/{clean}"))
                ),
            }),
        }
    }

    fn resolve_buildkit_wildcard(&self, rel: &str) -> Vec<ResolvedSource> {
        let comps: Vec<&str> = rel.split('/').filter(|c| !c.is_empty()).collect();
        let split = comps
            .iter()
            .position(|c| contains_wildcards(c))
            .unwrap_or(comps.len());
        let base = comps[..split].join("/");
        let pattern = comps[split..].join("/");
        let mut out: Vec<ResolvedSource> = Vec::new();
        let mut skip: Option<String> = None;
        for (p, k) in self.visible() {
            let Some(r) = (if base.is_empty() {
                Some(p.as_str())
            } else {
                p.strip_prefix(&format!("{base}/"))
            }) else {
                continue;
            };
            if let Some(sk) = &skip
                && r.starts_with(&format!("{sk}/"))
            {
                continue;
            }
            if gocompat::match_path(&pattern, r) == Ok(true) {
                out.push(ResolvedSource {
                    path: p.clone(),
                    kind: k.clone(),
                });
                if *k == EntryKind::Dir {
                    skip = Some(r.to_string());
                }
            }
        }
        out
    }
}

fn walk(root: &Path, rel: &str, out: &mut Vec<(String, EntryKind)>) -> std::io::Result<()> {
    let dir = if rel.is_empty() {
        root.to_path_buf()
    } else {
        root.join(rel)
    };
    let mut names: Vec<_> = std::fs::read_dir(&dir)?.collect::<Result<Vec<_>, _>>()?;
    names.sort_by_key(|e| e.file_name());
    for e in names {
        let name = e.file_name().to_string_lossy().into_owned();
        let p = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let md = std::fs::symlink_metadata(e.path())?;
        let ft = md.file_type();
        let kind = if ft.is_symlink() {
            EntryKind::Symlink(std::fs::read_link(e.path())?.to_string_lossy().into_owned())
        } else if ft.is_dir() {
            EntryKind::Dir
        } else if ft.is_file() {
            EntryKind::File
        } else {
            EntryKind::Other
        };
        let is_dir = kind == EntryKind::Dir;
        out.push((p.clone(), kind));
        if is_dir {
            walk(root, &p, out)?;
        }
    }
    Ok(())
}

fn contains_wildcards(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'*' | b'?' | b'[' => return true,
            _ => {}
        }
        i += 1;
    }
    false
}

/// moby/patternmatcher `ignorefile.ReadAll`.
pub fn read_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut p = line.trim();
        if p.is_empty() {
            continue;
        }
        let invert = p.starts_with('!');
        if invert {
            p = p[1..].trim();
        }
        let mut pat = String::new();
        if !p.is_empty() {
            pat = gocompat::clean(p);
            if pat.len() > 1 && pat.starts_with('/') {
                pat.remove(0);
            }
        }
        if invert {
            pat.insert(0, '!');
        }
        out.push(pat);
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Lit(char),
    AnySeg,
    OneSeg,
    OptDirs,
    AnyAll,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum MatchType {
    Exact,
    Prefix,
    Suffix,
    Regexp(Vec<Tok>),
    Bad,
}

#[derive(Debug, Clone)]
struct IgnorePattern {
    cleaned: String,
    exclusion: bool,
    kind: MatchType,
}

/// A compiled `.dockerignore` (moby/patternmatcher `PatternMatcher`).
#[derive(Debug, Clone)]
pub struct IgnoreMatcher {
    patterns: Vec<IgnorePattern>,
}

impl IgnoreMatcher {
    /// Go `patternmatcher.New`.
    pub fn new(patterns: &[String]) -> Result<IgnoreMatcher, String> {
        let mut out = Vec::new();
        for p in patterns {
            let p = p.trim();
            if p.is_empty() {
                continue;
            }
            let mut p = gocompat::clean(p);
            let mut exclusion = false;
            if let Some(rest) = p.strip_prefix('!') {
                if rest.is_empty() {
                    return Err("illegal exclusion pattern: \"!\"".to_string());
                }
                exclusion = true;
                p = rest.to_string();
            }
            if gocompat::match_path(&p, ".").is_err() {
                return Err("syntax error in pattern".to_string());
            }
            let kind = compile(&p);
            out.push(IgnorePattern {
                cleaned: p,
                exclusion,
                kind,
            });
        }
        Ok(IgnoreMatcher { patterns: out })
    }

    /// Go `MatchesOrParentMatches`.
    pub fn matches_or_parent_matches(&self, file: &str) -> bool {
        let file = gocompat::clean(file);
        let parent = match file.rfind('/') {
            Some(i) => &file[..i],
            None => ".",
        };
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        let mut matched = false;
        for p in &self.patterns {
            if p.exclusion != matched {
                continue;
            }
            let mut m = p.matches(&file);
            if !m && parent != "." {
                for i in 0..parent_dirs.len() {
                    if p.matches(&parent_dirs[..=i].join("/")) {
                        m = true;
                        break;
                    }
                }
            }
            if m {
                matched = !p.exclusion;
            }
        }
        matched
    }
}

impl IgnorePattern {
    fn matches(&self, path: &str) -> bool {
        match &self.kind {
            MatchType::Exact => path == self.cleaned,
            MatchType::Prefix => path.starts_with(&self.cleaned[..self.cleaned.len() - 2]),
            MatchType::Suffix => {
                let suffix = &self.cleaned[2..];
                path.ends_with(suffix) || (suffix.starts_with('/') && path == &suffix[1..])
            }
            MatchType::Regexp(toks) => {
                let s: Vec<char> = path.chars().collect();
                let mut memo = std::collections::HashMap::new();
                re_match(toks, &s, 0, 0, &mut memo)
            }
            MatchType::Bad => false,
        }
    }
}

fn compile(pattern: &str) -> MatchType {
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    #[derive(PartialEq)]
    enum D {
        Exact,
        Prefix,
        Suffix,
        Re,
    }
    let mut det = D::Exact;
    let mut i = 0;
    let mut iter = 0;
    while i < chars.len() {
        let ch = chars[i];
        i += 1;
        if ch == '*' {
            if chars.get(i) == Some(&'*') {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if det == D::Exact {
                        det = D::Prefix;
                    } else {
                        toks.push(Tok::AnyAll);
                        det = D::Re;
                    }
                } else {
                    toks.push(Tok::OptDirs);
                    det = D::Re;
                }
                if iter == 0 {
                    det = D::Suffix;
                }
            } else {
                toks.push(Tok::AnySeg);
                det = D::Re;
            }
        } else if ch == '?' {
            toks.push(Tok::OneSeg);
            det = D::Re;
        } else if ch == '\\' {
            match chars.get(i) {
                Some(c) => {
                    toks.push(Tok::Lit(*c));
                    i += 1;
                    det = D::Re;
                }
                None => toks.push(Tok::Lit('\\')),
            }
        } else if ch == '[' {
            det = D::Re;
            let mut negated = false;
            if chars.get(i) == Some(&'^') {
                negated = true;
                i += 1;
            }
            let mut ranges = Vec::new();
            let mut closed = false;
            while i < chars.len() {
                let mut c = chars[i];
                i += 1;
                if c == ']' && !ranges.is_empty() {
                    closed = true;
                    break;
                }
                if c == '\\' && i < chars.len() {
                    c = chars[i];
                    i += 1;
                }
                let mut hi = c;
                if chars.get(i) == Some(&'-') && chars.get(i + 1).is_some_and(|c| *c != ']') {
                    hi = chars[i + 1];
                    i += 2;
                }
                ranges.push((c, hi));
            }
            if !closed {
                return MatchType::Bad;
            }
            toks.push(Tok::Class { negated, ranges });
        } else {
            toks.push(Tok::Lit(ch));
        }
        iter += 1;
    }
    match det {
        D::Exact => MatchType::Exact,
        D::Prefix => MatchType::Prefix,
        D::Suffix => MatchType::Suffix,
        D::Re => MatchType::Regexp(toks),
    }
}

fn re_match(
    toks: &[Tok],
    s: &[char],
    ti: usize,
    si: usize,
    memo: &mut std::collections::HashMap<(usize, usize), bool>,
) -> bool {
    if ti == toks.len() {
        return si == s.len();
    }
    if let Some(r) = memo.get(&(ti, si)) {
        return *r;
    }
    let r = match &toks[ti] {
        Tok::Lit(c) => s.get(si) == Some(c) && re_match(toks, s, ti + 1, si + 1, memo),
        Tok::OneSeg => {
            s.get(si).is_some_and(|c| *c != '/') && re_match(toks, s, ti + 1, si + 1, memo)
        }
        Tok::Class { negated, ranges } => match s.get(si) {
            Some(c) => {
                let inr = ranges.iter().any(|(lo, hi)| lo <= c && c <= hi);
                inr != *negated && re_match(toks, s, ti + 1, si + 1, memo)
            }
            None => false,
        },
        Tok::AnySeg => {
            let max = s[si..].iter().take_while(|c| **c != '/').count();
            (0..=max).any(|k| re_match(toks, s, ti + 1, si + k, memo))
        }
        Tok::AnyAll => {
            let max = s[si..].iter().take_while(|c| **c != '\n').count();
            (0..=max).any(|k| re_match(toks, s, ti + 1, si + k, memo))
        }
        Tok::OptDirs => {
            // (.*/)?
            re_match(toks, s, ti + 1, si, memo)
                || (si..s.len()).any(|j| {
                    s[j] == '/'
                        && !s[si..j].contains(&'\n')
                        && re_match(toks, s, ti + 1, j + 1, memo)
                })
        }
    };
    memo.insert((ti, si), r);
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(patterns: &[&str], file: &str) -> bool {
        let p: Vec<String> = patterns.iter().map(|s| s.to_string()).collect();
        IgnoreMatcher::new(&p)
            .unwrap()
            .matches_or_parent_matches(file)
    }

    #[test]
    fn dockerignore_semantics() {
        assert!(m(&["*.md"], "README.md"));
        assert!(!m(&["*.md"], "docs/README.md"));
        assert!(m(&["**/*.md"], "docs/README.md"));
        assert!(m(&["docs"], "docs/a/b.txt"));
        assert!(!m(&["*.md", "!README.md"], "README.md"));
        assert!(m(&["*.md", "!README.md", "README*"], "README.md"));
        assert!(m(&["a/**"], "a/b/c"));
        assert!(m(&["**/foo"], "x/y/foo"));
        assert!(m(&["**/foo"], "foo"));
        assert!(m(&["a/**/b"], "a/b"));
        assert!(m(&["a/**/b"], "a/x/y/b"));
        assert!(m(&["[a-c].txt"], "b.txt"));
        assert!(!m(&["[^a-c].txt"], "b.txt"));
        assert!(IgnoreMatcher::new(&["!".to_string()]).is_err());
    }

    #[test]
    fn read_file() {
        let v = read_ignore_file("# c\n/foo/../bar\n  \n! baz\n./x/\n");
        assert_eq!(v, vec!["bar", "!baz", "x"]);
    }
}
