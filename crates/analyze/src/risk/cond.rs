//! Conditions over [`Facts`] and reason templates: the small language shared by the rubric
//! (`risk/dread.toml`) and the honeypot identities (`knowledge/honeypots.toml`).
//!
//! A condition names one fact and exactly one operator, or groups others (`all`, `any`, `not`):
//!
//! | operator | fact types | holds when |
//! |---|---|---|
//! | `equals = V` | str, int, num, bool, str-list | the value equals V (strings: ASCII case folded; lists: an element equals V) |
//! | `in = [V, …]` | str, int, num, str-list | the value equals one of them |
//! | `contains = "s"` | str, str-list | the string contains s (case folded); a list has an element equal to s |
//! | `exists = true/false` | any | the fact is present (and not null) / absent |
//! | `absent = true` | any | the fact is absent (same as `exists = false`) |
//! | `gt`, `ge`, `lt`, `le` = N | int, num | numeric comparison |
//! | `all = [c, …]`, `any = [c, …]`, `not = c` | — | groups |
//!
//! Conditions are checked against a [`Vocabulary`] when the file loads: a fact the vocabulary
//! does not know, an operator that does not fit the fact's type or a value of the wrong type is
//! an error with the line. Evaluation allocates nothing.
//!
//! A reason template cites facts as `{key}`; rendering bounds each value to
//! [`CITE_CAP`] printable bytes ([`medsurface_model::text::printable`]), so peer text can never
//! bring control sequences or bulk into a report. `{{` and `}}` stand for literal braces.

use medsurface_model::text::printable;
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use super::error::{FileCtx, RiskError, RiskErrorKind};
use super::facts::{FactRef, FactSource, FactType, Vocabulary};

/// Bytes of a cited fact value kept in a rendered reason.
pub const CITE_CAP: usize = 64;

/// A condition as written in a file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCond {
    fact: Option<Spanned<String>>,
    equals: Option<toml::Value>,
    #[serde(rename = "in")]
    in_list: Option<Vec<toml::Value>>,
    contains: Option<String>,
    exists: Option<bool>,
    absent: Option<bool>,
    gt: Option<f64>,
    ge: Option<f64>,
    lt: Option<f64>,
    le: Option<f64>,
    all: Option<Vec<Spanned<RawCond>>>,
    any: Option<Vec<Spanned<RawCond>>>,
    not: Option<Box<Spanned<RawCond>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

/// A compiled condition.
#[derive(Debug, Clone)]
pub(crate) enum Cond {
    Equals(String, Value),
    In(String, Vec<Value>),
    Contains(String, Needle),
    Exists(String, bool),
    Compare(String, Cmp, f64),
    All(Vec<Cond>),
    Any(Vec<Cond>),
    Not(Box<Cond>),
}

fn to_json(v: &toml::Value) -> Option<Value> {
    match v {
        toml::Value::String(s) => Some(Value::String(s.clone())),
        toml::Value::Integer(i) => Some(Value::from(*i)),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number),
        toml::Value::Boolean(b) => Some(Value::Bool(*b)),
        _ => None,
    }
}

/// Whether a literal fits a fact type for `equals` / `in`.
fn literal_fits(ty: FactType, v: &Value) -> bool {
    match ty {
        FactType::Str | FactType::StrList => v.is_string(),
        FactType::Int => v.is_i64() || v.is_u64(),
        FactType::Num => v.is_number(),
        FactType::Bool => v.is_boolean(),
        FactType::Json => false,
    }
}

fn type_name(ty: FactType) -> &'static str {
    match ty {
        FactType::Str => "a string",
        FactType::Int => "an integer",
        FactType::Num => "a number",
        FactType::Bool => "a boolean",
        FactType::StrList => "a list of strings",
        FactType::Json => "a JSON value",
    }
}

/// Compiles a list of conditions that must all hold.
pub(crate) fn compile_all(
    cx: &FileCtx<'_>,
    vocab: &Vocabulary,
    raw: &[Spanned<RawCond>],
) -> Result<Vec<Cond>, RiskError> {
    raw.iter().map(|c| compile(cx, vocab, c)).collect()
}

fn compile(
    cx: &FileCtx<'_>,
    vocab: &Vocabulary,
    raw: &Spanned<RawCond>,
) -> Result<Cond, RiskError> {
    let at = raw.span().start;
    let c = raw.get_ref();
    let bad = |m: String| cx.err(at, RiskErrorKind::BadCondition(m));
    let ops = [
        c.equals.is_some(),
        c.in_list.is_some(),
        c.contains.is_some(),
        c.exists.is_some(),
        c.absent.is_some(),
        c.gt.is_some(),
        c.ge.is_some(),
        c.lt.is_some(),
        c.le.is_some(),
        c.all.is_some(),
        c.any.is_some(),
        c.not.is_some(),
    ]
    .iter()
    .filter(|x| **x)
    .count();
    if ops != 1 {
        return Err(bad(format!(
            "{ops} operators; exactly one of equals, in, contains, exists, absent, gt, ge, lt, le, all, any, not"
        )));
    }
    let group = c.all.is_some() || c.any.is_some() || c.not.is_some();
    if group {
        if c.fact.is_some() {
            return Err(bad("`all`, `any` and `not` take no `fact`".into()));
        }
        if let Some(list) = &c.all {
            return Ok(Cond::All(compile_all(cx, vocab, list)?));
        }
        if let Some(list) = &c.any {
            if list.is_empty() {
                return Err(bad("`any` with no condition never holds".into()));
            }
            return Ok(Cond::Any(compile_all(cx, vocab, list)?));
        }
        let inner = c.not.as_deref().expect("counted above");
        return Ok(Cond::Not(Box::new(compile(cx, vocab, inner)?)));
    }
    let Some(fact) = &c.fact else {
        return Err(bad("missing `fact`".into()));
    };
    let key = fact.get_ref().clone();
    let Some(ty) = vocab.get(&key) else {
        return Err(cx.err(fact.span().start, RiskErrorKind::UnknownFact(key)));
    };
    let mismatch = |op: &str| {
        bad(format!(
            "`{op}` does not apply to `{key}`, {}",
            type_name(ty)
        ))
    };
    if let Some(b) = c.exists {
        return Ok(Cond::Exists(key, b));
    }
    if let Some(b) = c.absent {
        return Ok(Cond::Exists(key, !b));
    }
    if let Some(v) = &c.equals {
        let v = to_json(v).filter(|v| literal_fits(ty, v));
        return match v {
            Some(v) => Ok(Cond::Equals(key, v)),
            None => Err(bad(format!(
                "`equals` value must be {} for `{key}`",
                type_name(ty)
            ))),
        };
    }
    if let Some(list) = &c.in_list {
        if ty == FactType::Bool || ty == FactType::Json {
            return Err(mismatch("in"));
        }
        if list.is_empty() {
            return Err(bad("`in` with an empty list never holds".into()));
        }
        let mut out = Vec::with_capacity(list.len());
        for v in list {
            match to_json(v).filter(|v| literal_fits(ty, v)) {
                Some(v) => out.push(v),
                None => {
                    return Err(bad(format!(
                        "`in` values must be {} for `{key}`",
                        type_name(ty)
                    )))
                }
            }
        }
        return Ok(Cond::In(key, out));
    }
    if let Some(s) = &c.contains {
        if !matches!(ty, FactType::Str | FactType::StrList) {
            return Err(mismatch("contains"));
        }
        let needle = Needle::new(s).map_err(|e| bad(format!("`contains`: {e}")))?;
        return Ok(Cond::Contains(key, needle));
    }
    let (cmp, n) = match (c.gt, c.ge, c.lt, c.le) {
        (Some(n), _, _, _) => (Cmp::Gt, n),
        (_, Some(n), _, _) => (Cmp::Ge, n),
        (_, _, Some(n), _) => (Cmp::Lt, n),
        (_, _, _, Some(n)) => (Cmp::Le, n),
        _ => unreachable!("one operator counted above"),
    };
    if !matches!(ty, FactType::Int | FactType::Num) {
        return Err(mismatch("gt/ge/lt/le"));
    }
    Ok(Cond::Compare(key, cmp, n))
}

fn str_eq(a: &str, want: &Value) -> bool {
    want.as_str().is_some_and(|b| a.eq_ignore_ascii_case(b))
}

fn value_eq(fact: FactRef<'_>, want: &Value) -> bool {
    match fact {
        FactRef::Str(a) => str_eq(a, want),
        FactRef::Int(i) => want.as_f64() == Some(i as f64),
        FactRef::Num(x) => want.as_f64() == Some(x),
        FactRef::Bool(b) => want.as_bool() == Some(b),
        FactRef::List(items) => items.iter().any(|i| str_eq(i, want)),
        FactRef::Json(v) => match (v, want) {
            (Value::String(a), _) => str_eq(a, want),
            (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
            (Value::Array(items), Value::String(_)) => items
                .iter()
                .any(|i| i.as_str().is_some_and(|i| str_eq(i, want))),
            (a, b) => a == b,
        },
    }
}

/// The operand of `contains`: a case-insensitive substring search built once at load
/// (aho-corasick), and the text itself for list elements.
#[derive(Debug, Clone)]
pub(crate) struct Needle {
    text: String,
    finder: aho_corasick::AhoCorasick,
}

impl Needle {
    pub(crate) fn new(text: &str) -> Result<Needle, aho_corasick::BuildError> {
        let finder = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build([text])?;
        Ok(Needle {
            text: text.to_string(),
            finder,
        })
    }

    fn in_str(&self, hay: &str) -> bool {
        self.text.is_empty() || self.finder.is_match(hay)
    }
}

fn fact_contains(fact: FactRef<'_>, needle: &Needle) -> bool {
    match fact {
        FactRef::Str(h) => needle.in_str(h),
        FactRef::List(items) => items.iter().any(|i| i.eq_ignore_ascii_case(&needle.text)),
        FactRef::Json(Value::String(h)) => needle.in_str(h),
        FactRef::Json(Value::Array(items)) => items.iter().any(|i| {
            i.as_str()
                .is_some_and(|i| i.eq_ignore_ascii_case(&needle.text))
        }),
        _ => false,
    }
}

impl Cond {
    /// Whether the condition holds for these facts.
    pub(crate) fn holds(&self, facts: &dyn FactSource) -> bool {
        match self {
            Cond::Exists(k, want) => facts.fact(k).is_some() == *want,
            Cond::Equals(k, v) => facts.fact(k).is_some_and(|f| value_eq(f, v)),
            Cond::In(k, vs) => facts
                .fact(k)
                .is_some_and(|f| vs.iter().any(|v| value_eq(f, v))),
            Cond::Contains(k, s) => facts.fact(k).is_some_and(|f| fact_contains(f, s)),
            Cond::Compare(k, cmp, n) => {
                facts
                    .fact(k)
                    .and_then(|f| f.as_f64())
                    .is_some_and(|x| match cmp {
                        Cmp::Gt => x > *n,
                        Cmp::Ge => x >= *n,
                        Cmp::Lt => x < *n,
                        Cmp::Le => x <= *n,
                    })
            }
            Cond::All(cs) => cs.iter().all(|c| c.holds(facts)),
            Cond::Any(cs) => cs.iter().any(|c| c.holds(facts)),
            Cond::Not(c) => !c.holds(facts),
        }
    }

    /// Every fact key the condition names (for documentation and tests).
    pub(crate) fn keys<'s>(&'s self, out: &mut Vec<&'s str>) {
        match self {
            Cond::Equals(k, _)
            | Cond::In(k, _)
            | Cond::Contains(k, _)
            | Cond::Exists(k, _)
            | Cond::Compare(k, _, _) => out.push(k),
            Cond::All(cs) | Cond::Any(cs) => cs.iter().for_each(|c| c.keys(out)),
            Cond::Not(c) => c.keys(out),
        }
    }
}

/// One piece of a reason template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Fact(String),
}

/// A compiled reason template: text with `{fact}` citations.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses a template; every cited key must be in the vocabulary.
    pub(crate) fn parse(
        cx: &FileCtx<'_>,
        at: usize,
        vocab: &Vocabulary,
        text: &str,
    ) -> Result<Template, RiskError> {
        let bad = |m: String| cx.err(at, RiskErrorKind::BadTemplate(m));
        if text.trim().is_empty() {
            return Err(cx.err(at, RiskErrorKind::Missing("empty reason".into())));
        }
        let mut pieces = Vec::new();
        let mut buf = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    buf.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    buf.push('}');
                }
                '{' => {
                    let mut key = String::new();
                    loop {
                        match chars.next() {
                            Some('}') => break,
                            Some('{') | None => {
                                return Err(bad(format!("unclosed `{{` in {text:?}")))
                            }
                            Some(c) => key.push(c),
                        }
                    }
                    let key = key.trim().to_string();
                    if key.is_empty() {
                        return Err(bad("empty `{}` placeholder".into()));
                    }
                    if !vocab.contains(&key) {
                        return Err(cx.err(at, RiskErrorKind::UnknownFact(key)));
                    }
                    if !buf.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut buf)));
                    }
                    pieces.push(Piece::Fact(key));
                }
                '}' => return Err(bad(format!("lone `}}` in {text:?} (write `}}}}`)"))),
                c => buf.push(c),
            }
        }
        if !buf.is_empty() {
            pieces.push(Piece::Text(buf));
        }
        Ok(Template { pieces })
    }

    /// The sentence for these facts. Cited values are bounded and made printable; a missing
    /// fact reads `unknown`.
    pub fn render(&self, facts: &dyn FactSource) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Fact(k) => cite(&mut out, facts.fact(k)),
            }
        }
        out
    }
}

fn cite(out: &mut String, v: Option<FactRef<'_>>) {
    let list = |out: &mut String, items: &mut dyn Iterator<Item = String>, n: usize| {
        let mut text = String::new();
        for (i, item) in items.take(8).enumerate() {
            if i > 0 {
                text.push_str(", ");
            }
            text.push_str(&item);
        }
        if n > 8 {
            text.push_str(", …");
        }
        out.push_str(&printable(text.as_bytes(), CITE_CAP));
    };
    match v {
        None | Some(FactRef::Json(Value::Null)) => out.push_str("unknown"),
        Some(FactRef::Str(s)) => out.push_str(&printable(s.as_bytes(), CITE_CAP)),
        Some(FactRef::Json(Value::String(s))) => out.push_str(&printable(s.as_bytes(), CITE_CAP)),
        Some(FactRef::Bool(b)) | Some(FactRef::Json(&Value::Bool(b))) => {
            out.push_str(if b { "yes" } else { "no" })
        }
        Some(FactRef::Int(i)) => out.push_str(&i.to_string()),
        Some(FactRef::Num(x)) => out.push_str(&x.to_string()),
        Some(FactRef::Json(Value::Number(n))) => out.push_str(&n.to_string()),
        Some(FactRef::List(items)) => list(out, &mut items.iter().cloned(), items.len()),
        Some(FactRef::Json(Value::Array(items))) => list(
            out,
            &mut items.iter().map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            items.len(),
        ),
        Some(FactRef::Json(Value::Object(_))) => out.push_str("(object)"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::risk::facts::Facts;

    fn cx(text: &str) -> FileCtx<'_> {
        FileCtx {
            file: "t.toml",
            text,
        }
    }

    fn vocab() -> Vocabulary {
        Vocabulary::new()
            .with("a.s", FactType::Str)
            .with("a.n", FactType::Int)
            .with("a.l", FactType::StrList)
            .with("a.j", FactType::Json)
    }

    #[test]
    fn templates_escape_braces_cite_facts_and_bound_values() {
        let c = cx("");
        let t = Template::parse(&c, 0, &vocab(), "{{literal}} {a.s} and {a.n}, {a.l}").unwrap();
        let mut f = Facts::new();
        f.insert("a.s", "x\u{1b}[2Jy".repeat(40));
        f.insert("a.n", 7);
        f.insert("a.l", json!(["one", "two"]));
        let r = t.render(&f);
        assert!(r.starts_with("{literal} x\\x1b[2Jy"), "{r}");
        assert!(r.ends_with(" and 7, one, two"), "{r}");
        assert!(!r.chars().any(char::is_control));
        assert_eq!(
            t.render(&Facts::new()),
            "{literal} unknown and unknown, unknown"
        );
        assert!(Template::parse(&c, 0, &vocab(), "open {a.s").is_err());
        assert!(Template::parse(&c, 0, &vocab(), "lone } brace").is_err());
        assert!(Template::parse(&c, 0, &vocab(), "{}").is_err());
        assert!(matches!(
            Template::parse(&c, 0, &vocab(), "{a.x}").unwrap_err().kind,
            RiskErrorKind::UnknownFact(_)
        ));
    }

    #[test]
    fn operators_on_each_fact_type() {
        let mut f = Facts::new();
        f.insert("a.s", "Orthanc Explorer");
        f.insert("a.n", 4242);
        f.insert("a.l", json!(["medical", "Honeypot"]));
        let needle = |t: &str| Needle::new(t).unwrap();
        let s = |k: &str| Cond::Contains(k.into(), needle("honeypot"));
        assert!(s("a.l").holds(&f));
        assert!(!s("a.s").holds(&f));
        assert!(Cond::Contains("a.s".into(), needle("EXPLORER")).holds(&f));
        assert!(!Cond::Contains("a.s".into(), needle("explorers")).holds(&f));
        assert!(Cond::Equals("a.s".into(), json!("orthanc explorer")).holds(&f));
        assert!(Cond::Equals("a.l".into(), json!("MEDICAL")).holds(&f));
        assert!(Cond::In("a.n".into(), vec![json!(104), json!(4242)]).holds(&f));
        assert!(Cond::Compare("a.n".into(), Cmp::Ge, 4242.0).holds(&f));
        assert!(!Cond::Compare("a.n".into(), Cmp::Gt, 4242.0).holds(&f));
        assert!(!Cond::Compare("a.s".into(), Cmp::Gt, 0.0).holds(&f));
        assert!(Cond::Exists("a.j".into(), false).holds(&f));
        assert!(!Cond::Not(Box::new(Cond::Exists("a.s".into(), true))).holds(&f));
        // JSON null is absent.
        f.insert("a.j", serde_json::Value::Null);
        assert!(Cond::Exists("a.j".into(), false).holds(&f));
    }
}
