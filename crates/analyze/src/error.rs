//! The one error type of signature loading: which file, which line, what was wrong.
//!
//! The kind is an enum so that callers and tests tell failures apart by type, never by the text
//! of a message (house-style habit 5); the message is for people.

use std::fmt;

/// What was wrong with a signature file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The file could not be read.
    Read(String),
    /// Not valid TOML, a key the format does not know, or a value of the wrong type.
    Syntax(String),
    /// A matcher or example names a field that no probe or importer fills.
    UnknownField(String),
    /// An operator that cannot apply to the field's type (e.g. `regex` on an integer).
    OperatorMismatch(String),
    /// A matcher with no operator or with more than one.
    Operator(String),
    BadRegex(String),
    BadCategory(String),
    BadConfidence(String),
    /// The id (file stem) is not lower-case letters, digits and `-`.
    BadId(String),
    /// The same id in two files (the other file is named).
    DuplicateId(String),
    /// A required list is empty (references, matchers, examples) or a reference is not a URL.
    Missing(String),
}

/// A signature file that cannot be loaded.
pub type SignatureError = medsurface_model::located::Located<ErrorKind>;

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Read(m) => write!(f, "cannot read: {m}"),
            ErrorKind::Syntax(m) => write!(f, "{m}"),
            ErrorKind::UnknownField(name) => {
                write!(f, "unknown field `{name}`: a field no probe fills (see model::fields::FIELDS)")
            }
            ErrorKind::OperatorMismatch(m) => write!(f, "operator does not fit the field: {m}"),
            ErrorKind::Operator(m) => write!(f, "bad matcher: {m}"),
            ErrorKind::BadRegex(m) => write!(f, "invalid regex: {m}"),
            ErrorKind::BadCategory(c) => write!(
                f,
                "unknown category `{c}` (one of imaging, emr, pharmacy, scheduling, admin-console, interface, database, medical-device, other)"
            ),
            ErrorKind::BadConfidence(c) => {
                write!(f, "unknown confidence `{c}` (one of low, medium, high)")
            }
            ErrorKind::BadId(id) => write!(
                f,
                "bad signature id `{id}` (the file stem: lower-case letters, digits and '-')"
            ),
            ErrorKind::DuplicateId(other) => write!(f, "duplicate signature id, also in {other}"),
            ErrorKind::Missing(m) => write!(f, "{m}"),
        }
    }
}

pub(crate) use medsurface_model::located::line_of;
