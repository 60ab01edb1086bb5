//! The one error type of the assessment data files (rubric, known vulnerabilities, honeypot
//! identities): which file, which line, what was wrong.
//!
//! Same shape as [`crate::SignatureError`]: the kind is an enum so callers and tests tell
//! failures apart by type, the message is for people.

use std::fmt;

/// What was wrong with an assessment data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RiskErrorKind {
    /// The file could not be read.
    Read(String),
    /// Not valid TOML, a key the format does not know, or a value of the wrong type.
    Syntax(String),
    /// A condition or reason template names a fact that is not in the vocabulary.
    UnknownFact(String),
    /// A factor name that is not one of the five DREAD factors.
    UnknownFactor(String),
    /// A factor value above 10, a likelihood outside 0–1, a CVSS outside 0–10, a bad threshold.
    OutOfRange(String),
    /// The same id twice (the line of the first one is given).
    DuplicateId { id: String, first_line: usize },
    /// A condition with no operator, more than one, or one that does not fit the fact's type.
    BadCondition(String),
    /// A reason template with an unclosed `{` or an empty placeholder.
    BadTemplate(String),
    /// A required value is missing or empty (ids, reasons, sources, the baseline rule).
    Missing(String),
    /// A version range that cannot be read.
    BadRange(String),
}

/// An assessment data file that cannot be loaded.
pub type RiskError = medsurface_model::located::Located<RiskErrorKind>;

impl fmt::Display for RiskErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RiskErrorKind::Read(m) => write!(f, "cannot read: {m}"),
            RiskErrorKind::Syntax(m) => write!(f, "{m}"),
            RiskErrorKind::UnknownFact(k) => {
                write!(f, "unknown fact `{k}`: not in the vocabulary this file is checked against")
            }
            RiskErrorKind::UnknownFactor(n) => write!(
                f,
                "unknown factor `{n}` (one of damage, reproducibility, exploitability, affected_users, discoverability)"
            ),
            RiskErrorKind::OutOfRange(m) => write!(f, "out of range: {m}"),
            RiskErrorKind::DuplicateId { id, first_line } => {
                write!(f, "duplicate id `{id}`, first defined on line {first_line}")
            }
            RiskErrorKind::BadCondition(m) => write!(f, "bad condition: {m}"),
            RiskErrorKind::BadTemplate(m) => write!(f, "bad reason template: {m}"),
            RiskErrorKind::Missing(m) => write!(f, "{m}"),
            RiskErrorKind::BadRange(m) => write!(f, "bad version range: {m}"),
        }
    }
}

/// Error builder for one file.
pub(crate) struct FileCtx<'a> {
    pub(crate) file: &'a str,
    pub(crate) text: &'a str,
}

impl FileCtx<'_> {
    pub(crate) fn err(&self, offset: usize, kind: RiskErrorKind) -> RiskError {
        RiskError {
            file: self.file.to_string(),
            line: crate::error::line_of(self.text, offset),
            kind,
        }
    }

    /// An error about the whole file (line 0).
    pub(crate) fn whole(&self, kind: RiskErrorKind) -> RiskError {
        RiskError {
            file: self.file.to_string(),
            line: 0,
            kind,
        }
    }

    pub(crate) fn line(&self, offset: usize) -> usize {
        crate::error::line_of(self.text, offset)
    }

    /// Parses the whole file, mapping TOML and serde errors to a line.
    pub(crate) fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, RiskError> {
        toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            self.err(
                offset,
                RiskErrorKind::Syntax(e.message().trim().to_string()),
            )
        })
    }
}

/// Reads a file for a loader.
pub(crate) fn read(path: &std::path::Path) -> Result<String, RiskError> {
    std::fs::read_to_string(path).map_err(|e| RiskError {
        file: path.display().to_string(),
        line: 0,
        kind: RiskErrorKind::Read(e.to_string()),
    })
}
