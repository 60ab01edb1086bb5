//! Errors of enrichment: a database that cannot be opened or is not the kind asked for, a lookup
//! that hit corrupt data, and an organisation-type rules file that does not load.
//!
//! Kinds are enum variants so that callers and tests tell failures apart by type, never by the
//! text of a message (house-style habit 5). Every message names the file it is about.

use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;

/// Which of the two MaxMind databases an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbRole {
    /// A GeoIP2/GeoLite2 City or Country database (country and city).
    Geo,
    /// A GeoLite2 ASN (or GeoIP2 ISP) database (AS number and organisation).
    Asn,
}

impl DbRole {
    /// What a database in this role must be, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            DbRole::Geo => "a GeoIP2/GeoLite2 City or Country database",
            DbRole::Asn => "a GeoLite2 ASN or GeoIP2 ISP database",
        }
    }
}

/// A MaxMind database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum EnrichError {
    /// The file could not be read, or is not a MaxMind DB file (truncated, corrupt metadata).
    #[error("{}: cannot open as {}: {source}", path.display(), role.expected())]
    Open {
        path: PathBuf,
        role: DbRole,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// A valid MaxMind DB file of another kind (an ASN database given as the GeoIP database…).
    #[error(
        "{}: database type `{database_type}` is not {}",
        path.display(),
        role.expected()
    )]
    WrongDatabase {
        path: PathBuf,
        role: DbRole,
        /// The `database_type` of the file's metadata.
        database_type: String,
    },
    /// A lookup walked into corrupt data (the message carries the byte offset).
    #[error("{}: looking up {ip}: {source}", path.display())]
    Lookup {
        path: PathBuf,
        ip: IpAddr,
        #[source]
        source: maxminddb::MaxMindDbError,
    },
    /// The organisation-type rules did not load.
    #[error("{0}")]
    Rules(Box<OrgRulesError>),
}

/// What was wrong with an organisation-type rules file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OrgRulesErrorKind {
    /// Not valid TOML, a key the format does not know, or a value of the wrong type.
    Syntax(String),
    /// A type that is not one of university, hospital, cloud, isp, government, other.
    UnknownType(String),
    /// A name or host pattern that is empty or uses characters the syntax does not allow.
    BadPattern(String),
    /// The same rule id twice (the line of the first is named).
    DuplicateId(String),
    /// A required value is empty or missing (note, source, every rule needs a pattern).
    Missing(String),
    /// `precedence` does not name every type exactly once.
    Precedence(String),
}

/// An organisation-type rules file that cannot be loaded: which file, which line, what.
pub type OrgRulesError = medsurface_model::located::Located<OrgRulesErrorKind>;

impl fmt::Display for OrgRulesErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OrgRulesErrorKind::Syntax(m) => write!(f, "{m}"),
            OrgRulesErrorKind::UnknownType(t) => write!(
                f,
                "unknown organisation type `{t}` (one of university, hospital, cloud, isp, government, other)"
            ),
            OrgRulesErrorKind::BadPattern(m) => write!(f, "bad pattern: {m}"),
            OrgRulesErrorKind::DuplicateId(m) => write!(f, "duplicate rule id: {m}"),
            OrgRulesErrorKind::Missing(m) => write!(f, "{m}"),
            OrgRulesErrorKind::Precedence(m) => write!(f, "bad precedence: {m}"),
        }
    }
}
