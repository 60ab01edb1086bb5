//! Compiled matchers: one condition over one observation field, evaluated without allocating.
//!
//! A condition names its subject (`port`, `protocol`, `transport` or a key of
//! [`medsurface_model::fields::FIELDS`], optionally one member of a JSON object such as a
//! header) and one test. Tests were checked against the field's type when the signature was
//! loaded, so evaluation never has to guess: a string test reads a string (or any string of a
//! list), an integer test reads an integer.

use medsurface_model::fields::FieldType;
use medsurface_model::Observation;
use regex::Regex;
use serde_json::Value;

/// What a condition reads.
#[derive(Debug, Clone)]
pub(crate) enum Subject {
    Port,
    Protocol,
    Transport,
    Detail {
        name: &'static str,
        ty: FieldType,
        /// A member of a JSON object field (matched case-insensitively, as header names are).
        key: Option<String>,
    },
}

impl Subject {
    pub(crate) fn name(&self) -> String {
        match self {
            Subject::Port => "port".into(),
            Subject::Protocol => "protocol".into(),
            Subject::Transport => "transport".into(),
            Subject::Detail {
                name, key: None, ..
            } => (*name).into(),
            Subject::Detail {
                name, key: Some(k), ..
            } => format!("{name}[{k}]"),
        }
    }
}

/// A value a field holds, borrowed from the observation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Got<'a> {
    Int(i64),
    Str(&'a str),
    Json(&'a Value),
}

/// A scalar in a signature file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Want {
    Int(i64),
    Bool(bool),
    /// Lower-cased when the test is case-insensitive.
    Str(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Equals {
        want: Want,
        case_sensitive: bool,
    },
    In {
        want: Vec<Want>,
        case_sensitive: bool,
    },
    /// `contains` and `prefix` of ASCII text: a direct byte search (ASCII case folding unless
    /// case-sensitive). Faster than a regex call for the short strings titles are.
    Literal(Literal),
    /// `contains` and `prefix` of non-ASCII text: an escaped literal regex (`(?i)` unless
    /// case-sensitive).
    Pattern(Regex),
    Regex(Regex),
    Exists(bool),
}

impl Test {
    /// Relative cost: cheap tests run first so that most signatures fail before any regex.
    pub(crate) fn cost(&self) -> u8 {
        match self {
            Test::Equals { .. } | Test::In { .. } | Test::Exists(_) => 0,
            Test::Literal(_) | Test::Pattern(_) => 1,
            Test::Regex(_) => 2,
        }
    }
}

/// One condition with the text that describes it in evidence.
#[derive(Debug, Clone)]
pub(crate) struct Cond {
    pub(crate) subject: Subject,
    pub(crate) test: Test,
    pub(crate) rule: String,
    /// How much this condition narrows a match (see `signatures/README.md`, "Choosing").
    pub(crate) weight: u32,
}

/// A top-level matcher: one condition, or a group of which one must hold.
#[derive(Debug, Clone)]
pub(crate) enum Matcher {
    One(Cond),
    Any(Vec<Cond>),
}

impl Matcher {
    pub(crate) fn cost(&self) -> u8 {
        match self {
            Matcher::One(c) => c.test.cost(),
            Matcher::Any(cs) => cs.iter().map(|c| c.test.cost()).max().unwrap_or(0),
        }
    }

    pub(crate) fn weight(&self) -> u32 {
        match self {
            Matcher::One(c) => c.weight,
            Matcher::Any(cs) => cs.iter().map(|c| c.weight).min().unwrap_or(0),
        }
    }

    /// The condition that holds (the first of an `any` group that does), if any.
    pub(crate) fn holding<'s>(&'s self, obs: &Observation) -> Option<&'s Cond> {
        match self {
            Matcher::One(c) => c.holds(obs).then_some(c),
            Matcher::Any(cs) => cs.iter().find(|c| c.holds(obs)),
        }
    }
}

/// Reads a subject from an observation; `None` when absent (or JSON null).
pub(crate) fn read<'a>(subject: &Subject, obs: &'a Observation) -> Option<Got<'a>> {
    match subject {
        Subject::Port => Some(Got::Int(i64::from(obs.port))),
        Subject::Protocol => obs.protocol.as_deref().map(Got::Str),
        Subject::Transport => Some(Got::Str(obs.transport.as_str())),
        Subject::Detail { name, key, .. } => {
            let v = obs.details.get(*name)?;
            let v = match key {
                None => v,
                Some(k) => v
                    .as_object()?
                    .iter()
                    .find(|(name, _)| name.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v)?,
            };
            match v {
                Value::Null => None,
                Value::String(s) => Some(Got::Str(s)),
                Value::Number(n) => n.as_i64().map(Got::Int).or(Some(Got::Json(v))),
                other => Some(Got::Json(other)),
            }
        }
    }
}

impl Cond {
    pub(crate) fn holds(&self, obs: &Observation) -> bool {
        let got = read(&self.subject, obs);
        if let Test::Exists(want) = self.test {
            return got.is_some() == want;
        }
        match got {
            None => false,
            Some(Got::Int(i)) => self.test_int(i),
            Some(Got::Str(s)) => self.test_str(s),
            Some(Got::Json(Value::Bool(b))) => self.test_bool(*b),
            // A list of strings holds when one of them does.
            Some(Got::Json(Value::Array(items))) => items
                .iter()
                .any(|item| item.as_str().is_some_and(|s| self.test_str(s))),
            Some(Got::Json(_)) => false,
        }
    }

    fn test_int(&self, got: i64) -> bool {
        match &self.test {
            Test::Equals {
                want: Want::Int(w), ..
            } => *w == got,
            Test::In { want, .. } => want.contains(&Want::Int(got)),
            _ => false,
        }
    }

    fn test_bool(&self, got: bool) -> bool {
        matches!(&self.test, Test::Equals { want: Want::Bool(w), .. } if *w == got)
    }

    fn test_str(&self, got: &str) -> bool {
        match &self.test {
            Test::Equals {
                want: Want::Str(w),
                case_sensitive,
            } => str_eq(w, got, *case_sensitive),
            Test::In {
                want,
                case_sensitive,
            } => want
                .iter()
                .any(|w| matches!(w, Want::Str(w) if str_eq(w, got, *case_sensitive))),
            Test::Literal(lit) => lit.is_in(got),
            Test::Pattern(re) | Test::Regex(re) => re.is_match(got),
            _ => false,
        }
    }
}

/// `want` is already lower-cased when the comparison is case-insensitive (ASCII folding).
fn str_eq(want: &str, got: &str, case_sensitive: bool) -> bool {
    if case_sensitive {
        want == got
    } else {
        want.eq_ignore_ascii_case(got)
    }
}

/// An ASCII literal searched for in a string.
#[derive(Debug, Clone)]
pub(crate) struct Literal {
    /// Lower-cased when the search is case-insensitive.
    needle: Vec<u8>,
    case_sensitive: bool,
    /// Only at the start of the string (`prefix`).
    anchored: bool,
    /// The unanchored search, built once: aho-corasick's vectorised prefilters scan a page
    /// body many times faster than a byte-by-byte loop (it was most of an import's time).
    searcher: Option<aho_corasick::AhoCorasick>,
}

impl Literal {
    /// `None` when `text` is not ASCII (the caller falls back to a regex) or empty.
    pub(crate) fn new(text: &str, case_sensitive: bool, anchored: bool) -> Option<Literal> {
        if text.is_empty() || !text.is_ascii() {
            return None;
        }
        let needle = if case_sensitive {
            text.as_bytes().to_vec()
        } else {
            text.to_ascii_lowercase().into_bytes()
        };
        let searcher = if anchored {
            None
        } else {
            aho_corasick::AhoCorasick::builder()
                .ascii_case_insensitive(!case_sensitive)
                .build([&needle])
                .ok()
        };
        Some(Literal {
            needle,
            case_sensitive,
            anchored,
            searcher,
        })
    }

    pub(crate) fn is_in(&self, hay: &str) -> bool {
        let (hay, n) = (hay.as_bytes(), self.needle.as_slice());
        if hay.len() < n.len() {
            return false;
        }
        let same = |window: &[u8]| {
            if self.case_sensitive {
                window == n
            } else {
                window.eq_ignore_ascii_case(n)
            }
        };
        if self.anchored {
            return same(&hay[..n.len()]);
        }
        if let Some(searcher) = &self.searcher {
            return searcher.is_match(hay);
        }
        let first = n[0];
        let last_start = hay.len() - n.len();
        (0..=last_start).any(|i| {
            let b = hay[i];
            let hit = if self.case_sensitive {
                b == first
            } else {
                b.to_ascii_lowercase() == first
            };
            hit && same(&hay[i..i + n.len()])
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Literal;

    #[test]
    fn literal_search_folds_ascii_case_and_anchors() {
        let any_case = Literal::new("Orthanc", false, false).unwrap();
        assert!(any_case.is_in("the ORTHANC explorer"));
        assert!(any_case.is_in("orthanc"));
        assert!(!any_case.is_in("orthan"));
        assert!(!any_case.is_in(""));
        let exact = Literal::new("Orthanc", true, false).unwrap();
        assert!(!exact.is_in("the ORTHANC explorer"));
        assert!(exact.is_in("xOrthanc"));
        let prefix = Literal::new("OFFIS_DCMTK_", true, true).unwrap();
        assert!(prefix.is_in("OFFIS_DCMTK_367"));
        assert!(!prefix.is_in("X OFFIS_DCMTK_367"));
        assert!(Literal::new("Ärzte", false, false).is_none());
        assert!(Literal::new("", false, false).is_none());
    }
}
