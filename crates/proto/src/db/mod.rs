//! Database handshakes and info answers: PostgreSQL, MySQL/MariaDB, Redis, MongoDB and
//! Elasticsearch, one file each, as pure functions over bytes.
//!
//! Each file has the encoders of the few harmless requests medsurface sends (a startup message,
//! `INFO server`, `hello`/`buildInfo`/`listDatabases` with `nameOnly`, `GET /`) and the readers
//! of the answers, shaped like every parser of this crate: a byte slice and a limit in,
//! `Ok(None)` while more bytes are needed, a typed error when the bytes cannot be that protocol
//! or a declared length exceeds the limit. No reader allocates from a length the peer wrote.
//! Nothing here asks for or reads table data: the most a database tells us is its product,
//! version, whether it demanded authentication, and the names of its databases or indices
//! (metadata).
//!
//! The facts of every database end in one [`DbFacts`], written under the `db.*` keys of
//! `medsurface_model::fields` by [`DbFacts::write`], the same writer an importer of database
//! banners would use.

pub mod elasticsearch;
pub mod mongodb;
pub mod mysql;
pub mod postgres;
pub mod redis;

use medsurface_model::text::printable;
use medsurface_model::Details;
use serde_json::Value;

/// The observation keys of the database probes (all listed in `medsurface_model::fields`).
pub mod keys {
    pub const PRODUCT: &str = "db.product";
    pub const VERSION: &str = "db.version";
    pub const AUTH_REQUIRED: &str = "db.auth_required";
    pub const DATABASES: &str = "db.databases";
    /// Every key above.
    pub const ALL: &[&str] = &[PRODUCT, VERSION, AUTH_REQUIRED, DATABASES];
}

/// Most bytes of a version string kept (before escaping).
pub const VERSION_CAP: usize = 96;
/// Most bytes of one database or index name kept (before escaping).
pub const NAME_CAP: usize = 128;
/// Most database or index names kept.
pub const NAMES_CAP: usize = 100;

/// What a database said about itself. `None`: it did not say (nothing is inferred).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbFacts {
    pub product: Option<&'static str>,
    pub version: Option<String>,
    pub auth_required: Option<bool>,
    /// Database or index names listed without authentication, escaped, sorted, at most
    /// [`NAMES_CAP`].
    pub databases: Option<Vec<String>>,
}

impl DbFacts {
    pub fn product(product: &'static str) -> DbFacts {
        DbFacts {
            product: Some(product),
            ..DbFacts::default()
        }
    }

    /// Writes the facts known under the `db.*` keys.
    pub fn write(&self, details: &mut Details) {
        if let Some(p) = self.product {
            details.insert(keys::PRODUCT.into(), Value::from(p));
        }
        if let Some(v) = &self.version {
            details.insert(keys::VERSION.into(), Value::from(v.clone()));
        }
        if let Some(a) = self.auth_required {
            details.insert(keys::AUTH_REQUIRED.into(), Value::Bool(a));
        }
        if let Some(names) = &self.databases {
            details.insert(keys::DATABASES.into(), Value::from(names.clone()));
        }
    }
}

/// A version string a peer sent: capped, escaped, trimmed; `None` when empty.
pub(crate) fn version_text(bytes: &[u8]) -> Option<String> {
    let text = printable(bytes.trim_ascii(), VERSION_CAP);
    (!text.is_empty()).then_some(text)
}

/// Names a peer listed: each capped and escaped, empty ones dropped, sorted, deduplicated, at
/// most [`NAMES_CAP`].
pub(crate) fn name_list<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Vec<String> {
    let mut out: Vec<String> = names
        .into_iter()
        .map(|n| printable(n.trim_ascii(), NAME_CAP))
        .filter(|n| !n.is_empty())
        .take(NAMES_CAP * 4)
        .collect();
    out.sort_unstable();
    out.dedup();
    out.truncate(NAMES_CAP);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_in_the_field_vocabulary() {
        for key in keys::ALL {
            assert!(medsurface_model::fields::field(key).is_some(), "{key}");
        }
    }

    #[test]
    fn facts_write_only_what_is_known() {
        let mut d = Details::new();
        DbFacts::product("Redis").write(&mut d);
        assert_eq!(d.len(), 1);
        let facts = DbFacts {
            product: Some("MongoDB"),
            version: Some("7.0.2".into()),
            auth_required: Some(false),
            databases: Some(vec!["admin".into()]),
        };
        facts.write(&mut d);
        assert_eq!(d["db.databases"], serde_json::json!(["admin"]));
        assert_eq!(d["db.auth_required"], Value::Bool(false));
    }

    #[test]
    fn name_lists_are_bounded_sorted_and_escaped() {
        let many: Vec<Vec<u8>> = (0..1000)
            .map(|i| format!("ix{i:04}").into_bytes())
            .collect();
        let names = name_list(many.iter().map(Vec::as_slice));
        assert_eq!(names.len(), NAMES_CAP);
        assert_eq!(names[0], "ix0000");
        let odd = name_list([&b"b\x1b[31m"[..], b"a", b"", b"a"]);
        assert_eq!(odd, ["a", "b\\x1b[31m"]);
        assert_eq!(version_text(b"  "), None);
        assert_eq!(
            version_text(&[b'9'; 500]).map(|v| v.len()),
            Some(VERSION_CAP)
        );
    }
}
