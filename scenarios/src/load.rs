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
    parse_located(
        path,
        text,
        |scenario: &Scenario| crate::bounds::Budget {
            horizon_s: scenario.scenario.horizon_s,
            events_max: scenario.scenario.events_max,
        },
        validate::check,
    )
}

/// Parses `text` as a `T` (TOML syntax, then the type), checks every
/// number against the bounds table ([`crate::bounds`]) and runs `semantic`,
/// each problem located at line, column and field path. Any file of the
/// project's TOML formats loads through here (scenarios, `drlab sla`
/// plans), so they all report problems the same way.
pub(crate) fn parse_located<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    budget: impl FnOnce(&T) -> crate::bounds::Budget,
    semantic: impl FnOnce(&T) -> Vec<(FieldPath, String)>,
) -> Result<T, ScenarioError> {
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
    let value: T = match toml::from_str(text) {
        Ok(s) => s,
        Err(e) => {
            let at = e.span().map_or(0, |s| s.start);
            let mut field = path_at(doc.get_ref(), at);
            let (field, at) = match value_named_by(doc.get_ref(), &field, e.message()) {
                Some((key, offset)) => (field.key(&key), offset),
                None => (std::mem::take(&mut field), at),
            };
            return Err(invalid(vec![problem_at(
                text,
                at,
                field.to_string(),
                e.message(),
            )]));
        }
    };
    let out_of_range = crate::bounds::check(doc.get_ref(), budget(&value));
    // A value out of range is reported once, by its bound.
    let semantic = semantic(&value)
        .into_iter()
        .filter(|(f, _)| !out_of_range.iter().any(|(g, _)| g == f))
        .collect::<Vec<_>>();
    let mut problems: Vec<Problem> = out_of_range
        .into_iter()
        .chain(semantic)
        .map(|(field, message)| {
            let at = span_of(doc.get_ref(), &field);
            problem_at(text, at, field.to_string(), &message)
        })
        .collect();
    if problems.is_empty() {
        Ok(value)
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

/// Inside a table serde reads through a buffer (`[runbook]` and
/// `[[faults]]`, whose variant a tag chooses) its errors carry the table's
/// span, not the value's. Such a message names the value (serde's
/// "invalid type: integer `5`, expected a string", "unknown field `x`");
/// this finds the one key of the table at `path` that it names or whose
/// value matches it, and its offset.
fn value_named_by(doc: &DeTable<'_>, path: &FieldPath, message: &str) -> Option<(String, usize)> {
    let table = match lookup(doc, path)? {
        DeValue::Table(t) => t,
        _ => return None,
    };
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let name = rest.split_once('`')?.0;
        let (k, _) = table.iter().find(|(k, _)| k.get_ref() == name)?;
        return Some((name.to_string(), k.span().start));
    }
    let rest = message
        .strip_prefix("invalid type: ")
        .or_else(|| message.strip_prefix("invalid value: "))?;
    let (kind, rest) = rest.split_once(' ')?;
    // serde quotes numbers and booleans in backticks, strings in quotes.
    let literal = rest
        .strip_prefix('`')
        .and_then(|r| r.split_once('`'))
        .or_else(|| rest.strip_prefix('"').and_then(|r| r.split_once('"')))
        .map(|(l, _)| l);
    let matches = |v: &DeValue<'_>| match (kind, v) {
        ("integer", DeValue::Integer(i)) => literal.is_none_or(|l| {
            i128::from_str_radix(i.as_str(), i.radix()).is_ok_and(|x| x.to_string() == l)
        }),
        ("floating", DeValue::Float(f)) => {
            literal.is_none_or(|l| f.as_str().parse::<f64>().ok() == l.parse::<f64>().ok())
        }
        ("string", DeValue::String(s)) => literal.is_none_or(|l| s.as_ref() == l),
        ("boolean", DeValue::Boolean(b)) => literal.is_none_or(|l| b.to_string() == l),
        ("sequence", DeValue::Array(_)) | ("map", DeValue::Table(_)) => true,
        _ => false,
    };
    let mut hits = table.iter().filter(|(_, v)| matches(v.get_ref()));
    let (k, v) = hits.next()?;
    // Two candidates: no guess; the table's own position stays.
    if hits.next().is_some() {
        return None;
    }
    Some((k.get_ref().to_string(), v.span().start))
}

/// The node at `path`, if it exists.
fn lookup<'d, 'i>(doc: &'d DeTable<'i>, path: &FieldPath) -> Option<&'d DeValue<'i>> {
    let mut node: Option<&DeValue<'_>> = None;
    for (i, seg) in path.0.iter().enumerate() {
        node = Some(match (i, seg, node) {
            (0, Seg::Key(k), _) => doc.get(k.as_str())?.get_ref(),
            (_, Seg::Key(k), Some(DeValue::Table(t))) => t.get(k.as_str())?.get_ref(),
            (_, Seg::Index(n), Some(DeValue::Array(a))) => a.get(*n)?.get_ref(),
            _ => return None,
        });
    }
    node
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
