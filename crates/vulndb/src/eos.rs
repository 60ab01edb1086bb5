//! End of support: which components no longer get security fixes, from a small data file
//! (`knowledge/end-of-support.toml`, built in; users may load their own in the same format).
//!
//! An entry names a product, how components are recognised (exact names or `*` globs, CPE
//! `vendor:product` pairs, purl `type/name`s), an optional version prefix (`2.7` matches
//! `2.7.18` but not `2.70`), the date support ended and the public source that says so. Loading
//! is strict: unknown keys, bad dates and entries that could never match are errors with the
//! line (TOML) or the entry's index.

use std::path::Path;

use jiff::civil::Date;
use serde::{Deserialize, Serialize};

use crate::sbom::Component;
use crate::Error;

const BUILTIN: &str = include_str!("../../../knowledge/end-of-support.toml");

/// The end-of-support entry that names a component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EosFinding {
    /// The product as the entry names it ("Python 2.7").
    pub product: String,
    /// The day support ended (or ends).
    pub end_of_support: Date,
    /// Whether that day is on or before the date asked about.
    pub past: bool,
    /// The public source of the date.
    pub source: String,
    pub note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    product: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    name: String,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    cpe: Vec<String>,
    #[serde(default)]
    purl: Vec<String>,
    version_prefix: Option<String>,
    end_of_support: String,
    source: String,
    note: Option<String>,
}

#[derive(Debug)]
struct Product {
    name: String,
    names: Vec<String>,
    cpe: Vec<(String, String)>,
    purl: Vec<String>,
    version_prefix: Option<String>,
    date: Date,
    source: String,
    note: Option<String>,
}

/// A list of end-of-support entries.
#[derive(Debug)]
pub struct EndOfSupport {
    products: Vec<Product>,
}

impl EndOfSupport {
    /// The list shipped in `knowledge/end-of-support.toml`.
    pub fn builtin() -> EndOfSupport {
        // The file is tested (tests below); a broken one fails the build's tests, not users.
        EndOfSupport::parse(Path::new("knowledge/end-of-support.toml"), BUILTIN).unwrap_or(
            EndOfSupport {
                products: Vec::new(),
            },
        )
    }

    pub fn load(path: &Path) -> Result<EndOfSupport, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        EndOfSupport::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<EndOfSupport, Error> {
        let f: File = toml::from_str(text).map_err(|e| Error::ParseToml {
            path: path.to_path_buf(),
            message: e.to_string().trim_end().to_string(),
        })?;
        let mut products = Vec::new();
        for (i, e) in f.product.into_iter().enumerate() {
            let at = format!("product[{i}] ({})", e.name);
            let date: Date = e.end_of_support.parse().map_err(|err| {
                Error::invalid(
                    path,
                    format!("{at}.end_of_support"),
                    format!("not a YYYY-MM-DD date: {err}"),
                )
            })?;
            if e.names.is_empty() && e.cpe.is_empty() && e.purl.is_empty() {
                return Err(Error::invalid(
                    path,
                    &at,
                    "needs names, cpe or purl to match anything",
                ));
            }
            if !e.source.starts_with("https://") {
                return Err(Error::invalid(
                    path,
                    format!("{at}.source"),
                    "a source is an https:// URL",
                ));
            }
            let mut cpe = Vec::new();
            for c in &e.cpe {
                let (v, p) = c.split_once(':').ok_or_else(|| {
                    Error::invalid(
                        path,
                        format!("{at}.cpe"),
                        format!("{c:?} is not vendor:product"),
                    )
                })?;
                cpe.push((v.to_lowercase(), p.to_lowercase()));
            }
            products.push(Product {
                name: e.name,
                names: e.names.iter().map(|n| n.to_lowercase()).collect(),
                cpe,
                purl: e.purl.iter().map(|p| p.to_lowercase()).collect(),
                version_prefix: e.version_prefix,
                date,
                source: e.source,
                note: e.note,
            });
        }
        Ok(EndOfSupport { products })
    }

    pub fn len(&self) -> usize {
        self.products.len()
    }

    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }

    /// The first entry naming `component` (by name, CPE or purl, and version prefix), with
    /// whether its date is on or before `as_of`.
    pub fn check(&self, component: &Component, as_of: Date) -> Option<EosFinding> {
        let name = component.name.to_lowercase();
        let cpe = component
            .cpe
            .as_deref()
            .and_then(|c| crate::cpe::Cpe::parse(c).ok());
        let purl = component
            .purl
            .as_deref()
            .and_then(|p| crate::purl::Purl::parse(p).ok());
        let version = component
            .version
            .clone()
            .or_else(|| purl.as_ref().and_then(|p| p.version.clone()))
            .or_else(|| cpe.as_ref().and_then(|c| c.version()));
        self.products.iter().find_map(|p| {
            let by_name = p.names.iter().any(|n| glob(n, &name));
            let by_cpe = cpe.as_ref().is_some_and(|c| {
                p.cpe
                    .iter()
                    .any(|(v, pr)| *v == c.vendor() && *pr == c.product())
            });
            let by_purl = purl.as_ref().is_some_and(|u| {
                let key = format!("{}/{}", u.ty, u.name.to_lowercase());
                p.purl.contains(&key)
            });
            if !(by_name || by_cpe || by_purl) {
                return None;
            }
            if let Some(prefix) = &p.version_prefix {
                let v = version.as_deref()?;
                let v = v.trim().trim_start_matches(['v', 'V']);
                let rest = v.strip_prefix(prefix.as_str())?;
                if rest.starts_with(|c: char| c.is_ascii_digit()) {
                    return None;
                }
            }
            Some(EosFinding {
                product: p.name.clone(),
                end_of_support: p.date,
                past: p.date <= as_of,
                source: p.source.clone(),
                note: p.note.clone(),
            })
        })
    }
}

/// Case-folded glob with `*` only.
fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let mut rest = text;
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(k) => rest = &rest[k + part.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comp(name: &str, version: Option<&str>, purl: Option<&str>, cpe: Option<&str>) -> Component {
        Component {
            name: name.into(),
            version: version.map(str::to_string),
            purl: purl.map(str::to_string),
            cpe: cpe.map(str::to_string),
            supplier: None,
            ecosystem: None,
            path: "components[0]".into(),
        }
    }

    #[test]
    fn builtin_list_loads_and_is_sound() {
        let e = EndOfSupport::parse(Path::new("knowledge/end-of-support.toml"), BUILTIN).unwrap();
        assert!(e.len() >= 10, "{}", e.len());
        let mut names: Vec<&str> = e.products.iter().map(|p| p.name.as_str()).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "duplicate product names");
    }

    #[test]
    fn matches_by_name_cpe_purl_and_prefix() {
        let e = EndOfSupport::builtin();
        let d = |s: &str| s.parse::<Date>().unwrap();
        let py = e
            .check(&comp("Python", Some("2.7.18"), None, None), d("2026-11-28"))
            .unwrap();
        assert_eq!(py.product, "Python 2.7");
        assert!(py.past);
        assert_eq!(py.end_of_support, d("2020-01-01"));
        assert!(e
            .check(&comp("python", Some("3.12.1"), None, None), d("2026-11-28"))
            .is_none());
        assert!(e
            .check(&comp("python", Some("2.70"), None, None), d("2026-11-28"))
            .is_none());
        assert!(e
            .check(&comp("python", None, None, None), d("2026-11-28"))
            .is_none());
        let ssl = e
            .check(
                &comp(
                    "libssl",
                    None,
                    None,
                    Some("cpe:2.3:a:openssl:openssl:1.0.2u:*:*:*:*:*:*:*"),
                ),
                d("2026-11-28"),
            )
            .unwrap();
        assert_eq!(ssl.product, "OpenSSL 1.0.2");
        let jq = e
            .check(
                &comp(
                    "jquery",
                    Some("1.12.4"),
                    Some("pkg:npm/jquery@1.12.4"),
                    None,
                ),
                d("2026-11-28"),
            )
            .unwrap();
        assert_eq!(jq.product, "jQuery 1.x");
        assert!(e
            .check(
                &comp("jquery", Some("3.7.1"), Some("pkg:npm/jquery@3.7.1"), None),
                d("2026-11-28")
            )
            .is_none());
        let xpe = e
            .check(
                &comp("Windows XP Embedded SP3", None, None, None),
                d("2015-01-01"),
            )
            .unwrap();
        assert!(!xpe.past, "support ended 2016-01-12, after 2015-01-01");
        let w7 = e
            .check(
                &comp(
                    "Microsoft Windows 7 Professional",
                    Some("6.1.7601"),
                    None,
                    None,
                ),
                d("2026-11-28"),
            )
            .unwrap();
        assert_eq!(w7.product, "Windows 7");
    }

    #[test]
    fn strict_loading() {
        let p = Path::new("eos.toml");
        let err = EndOfSupport::parse(p, "[[product]]\nname = \"X\"\nnames = [\"x\"]\nend_of_support = \"2020-01-01\"\nsource = \"https://example.invalid\"\ncolour = 1\n").unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("eos.toml") && msg.contains("line 6") && msg.contains("colour"),
            "{msg}"
        );
        let err = EndOfSupport::parse(p, "[[product]]\nname = \"X\"\nnames = [\"x\"]\nend_of_support = \"2020-13-01\"\nsource = \"https://example.invalid\"\n").unwrap_err();
        assert!(
            err.to_string().contains("product[0] (X).end_of_support"),
            "{err}"
        );
        let err = EndOfSupport::parse(p, "[[product]]\nname = \"X\"\nend_of_support = \"2020-01-01\"\nsource = \"https://example.invalid\"\n").unwrap_err();
        assert!(err.to_string().contains("needs names"), "{err}");
    }
}
