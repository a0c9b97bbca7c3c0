//! Reading a scenario file: TOML syntax, the format, then the semantic
//! checks, each problem located at file:line:column with its field path.

use std::fmt;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::format::Scenario;
use crate::validate;

/// One problem found in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// Field path, e.g. `hosts[1].site` (`-` when the whole document is at fault).
    pub field: String,
    /// What is wrong, and what would be right.
    pub message: String,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a valid scenario; every problem found is listed.
    #[error("{}", Located(path, problems))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The problems, in file order.
        problems: Vec<Problem>,
    },
}

struct Located<'a>(&'a Path, &'a [Problem]);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.1.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(
                f,
                "{}:{}:{}: {}: {}",
                self.0.display(),
                p.line,
                p.column,
                p.field,
                p.message
            )?;
        }
        Ok(())
    }
}

/// A path to a field: `hosts[1].site`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(Vec<Seg>);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

impl FieldPath {
    /// The document root.
    pub fn root() -> FieldPath {
        FieldPath(Vec::new())
    }

    /// This path followed by a key.
    pub fn key(&self, k: &str) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.to_string()));
        p
    }

    /// This path followed by an array index.
    pub fn index(&self, i: usize) -> FieldPath {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }
}

/// Shorthand: `path!("hosts", 1, "site")`.
#[macro_export]
macro_rules! path {
    ($($seg:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut p = $crate::load::FieldPath::root();
        $( p = $crate::load::PathSeg::push(&$seg, p); )*
        p
    }};
}

/// A path segment a `path!` argument can be.
pub trait PathSeg {
    /// Appends this segment.
    fn push(&self, p: FieldPath) -> FieldPath;
}
impl PathSeg for &str {
    fn push(&self, p: FieldPath) -> FieldPath {
        p.key(self)
    }
}
impl PathSeg for usize {
    fn push(&self, p: FieldPath) -> FieldPath {
        p.index(*self)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("-");
        }
        for (i, s) in self.0.iter().enumerate() {
            match s {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// Loads, parses and validates a scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &text)
}

/// Parses and validates scenario text; `path` is only used in messages.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, ScenarioError> {
    let invalid = |problems| ScenarioError::Invalid {
        path: path.to_path_buf(),
        problems,
    };
    let doc = match DeTable::parse(text) {
        Ok(doc) => doc,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            return Err(invalid(vec![problem_at(text, at, "-".into(), e.message())]));
        }
    };
    let scenario: Scenario = match toml::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            let field = path_at(doc.get_ref(), at).to_string();
            return Err(invalid(vec![problem_at(text, at, field, e.message())]));
        }
    };
    let mut problems: Vec<Problem> = validate::check(&scenario)
        .into_iter()
        .map(|(field, message)| {
            let at = span_of(doc.get_ref(), &field);
            problem_at(text, at, field.to_string(), &message)
        })
        .collect();
    if problems.is_empty() {
        Ok(scenario)
    } else {
        problems.sort_by_key(|p| (p.line, p.column));
        Err(invalid(problems))
    }
}

fn problem_at(text: &str, offset: usize, field: String, message: &str) -> Problem {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    Problem {
        line,
        column,
        field,
        message: message.trim().to_string(),
    }
}

/// The byte offset of the deepest existing node along `path` (so a missing
/// field points at the table that should hold it).
fn span_of(doc: &DeTable<'_>, path: &FieldPath) -> usize {
    let mut best = 0;
    let mut node: Option<&DeValue<'_>> = None;
    for (i, seg) in path.0.iter().enumerate() {
        let next = match (i, seg, node) {
            (0, Seg::Key(k), _) => doc.get(k.as_str()),
            (_, Seg::Key(k), Some(DeValue::Table(t))) => t.get(k.as_str()),
            (_, Seg::Index(n), Some(DeValue::Array(a))) => a.get(*n),
            _ => None,
        };
        match next {
            Some(v) => {
                best = v.span().start;
                node = Some(v.get_ref());
            }
            None => break,
        }
    }
    best
}

/// The field path of the deepest key or value containing `offset`. Table
/// spans are not trusted to enclose their contents (a `[table]` header's
/// span covers the header only), so every table is searched.
fn path_at(doc: &DeTable<'_>, offset: usize) -> FieldPath {
    fn in_table(t: &DeTable<'_>, offset: usize, path: &FieldPath) -> Option<FieldPath> {
        for (k, v) in t.iter() {
            let here = path.key(k.get_ref());
            if k.span().contains(&offset) {
                return Some(here);
            }
            if let Some(p) = in_value(v.get_ref(), offset, &here) {
                return Some(p);
            }
            if v.span().contains(&offset) {
                return Some(here);
            }
        }
        None
    }
    fn in_value(v: &DeValue<'_>, offset: usize, path: &FieldPath) -> Option<FieldPath> {
        match v {
            DeValue::Table(t) => in_table(t, offset, path),
            DeValue::Array(a) => a.iter().enumerate().find_map(|(i, x)| {
                let here = path.index(i);
                in_value(x.get_ref(), offset, &here)
                    .or_else(|| x.span().contains(&offset).then_some(here))
            }),
            _ => None,
        }
    }
    in_table(doc, offset, &FieldPath::root()).unwrap_or_default()
}
