//! How NVD and CISA KEV spell the products the signatures name, from
//! `knowledge/cpe-names.toml`.
//!
//! Signatures name vendor and product the way people do ("Orthanc project", "Orthanc"); NVD's
//! CPE 2.3 dictionary and CISA's KEV catalogue each have their own spelling
//! (`orthanc-server:orthanc`; KEV's `vendorProject` "NextGen Healthcare" and `product`
//! "Mirth Connect"). Matching feeds the user downloads against services therefore needs a table
//! from one to the other. It is data, not code, so that a product's new CPE can be added with
//! its source and without a rebuild of the logic; the table is small (one entry per signature
//! product with an NVD CPE), so it is kept as a list with a hash index on the human pair.
//!
//! Loading is strict like the signatures' (house-style habit 6): an unknown key, a malformed
//! CPE token, a missing source and the same (vendor, product) twice are errors naming file and
//! line. That every pair is spelled exactly as a shipped signature spells it is checked by a
//! test (`tests/cpe_names.rs`), so no entry can silently never apply.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::error::line_of;

/// The shipped table, compiled into the binary.
pub const BUILTIN_TOML: &str = include_str!("../../../knowledge/cpe-names.toml");
/// How the shipped table is named in errors.
pub const BUILTIN_NAME: &str = "knowledge/cpe-names.toml";

/// Longest CPE token or KEV name accepted (NVD's longest product tokens are well below this).
const MAX_TOKEN: usize = 128;

/// One CPE 2.3 vendor/product pair of a product, as NVD's dictionary writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpeName {
    /// The CPE vendor token, e.g. `orthanc-server`.
    pub vendor: String,
    /// The CPE product token, e.g. `orthanc`.
    pub product: String,
    /// The public page (an NVD CVE record or CPE dictionary entry) that shows this CPE.
    pub source: String,
}

/// How CISA's KEV catalogue names a product (`vendorProject`, `product`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KevName {
    pub vendor_project: String,
    pub product: String,
    /// The public page that shows this spelling (a KEV entry or an NVD record citing it).
    pub source: String,
}

/// The feed names of one signature product.
#[derive(Debug, Clone)]
pub struct ProductNames {
    /// Exactly as in `signatures/*.toml`.
    pub vendor: String,
    pub product: String,
    /// At least one.
    pub cpe: Vec<CpeName>,
    /// Empty when KEV lists nothing for the product.
    pub kev: Vec<KevName>,
    pub note: Option<String>,
    /// 1-based line of the entry in its file.
    pub line: usize,
}

/// The loaded table.
#[derive(Debug, Clone)]
pub struct CpeNames {
    entries: Vec<ProductNames>,
    index: HashMap<(String, String), usize>,
}

/// What was wrong with a CPE names file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpeNamesErrorKind {
    /// The file could not be read.
    Read(String),
    /// Not valid TOML, a key the format does not know, or a value of the wrong type.
    Syntax(String),
    /// A CPE token that is not lower-case letters, digits, `_`, `-` and `.`.
    BadToken(String),
    /// A KEV name that is empty, too long or not one line.
    BadName(String),
    /// The same (vendor, product) twice (the line of the first is named).
    Duplicate(String),
    /// A required value is empty or missing (vendor, product, a CPE, a source URL).
    Missing(String),
}

/// A CPE names file that cannot be loaded: which file, which line, what.
pub type CpeNamesError = medsurface_model::located::Located<CpeNamesErrorKind>;

impl fmt::Display for CpeNamesErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpeNamesErrorKind::Read(m) => write!(f, "cannot read: {m}"),
            CpeNamesErrorKind::Syntax(m) => write!(f, "{m}"),
            CpeNamesErrorKind::BadToken(t) => write!(
                f,
                "bad CPE token `{t}` (lower-case letters, digits, '_', '-' and '.', as NVD writes them)"
            ),
            CpeNamesErrorKind::BadName(m) => write!(f, "bad KEV name: {m}"),
            CpeNamesErrorKind::Duplicate(m) => write!(f, "duplicate product: {m}"),
            CpeNamesErrorKind::Missing(m) => write!(f, "{m}"),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(rename = "product", default)]
    products: Vec<Spanned<RawProduct>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawProduct {
    vendor: Spanned<String>,
    product: Spanned<String>,
    cpe: Spanned<Vec<Spanned<RawCpe>>>,
    #[serde(default)]
    kev: Vec<Spanned<RawKev>>,
    #[serde(default)]
    note: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCpe {
    vendor: Spanned<String>,
    product: Spanned<String>,
    source: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKev {
    vendor_project: Spanned<String>,
    product: Spanned<String>,
    source: Spanned<String>,
}

/// Whether `t` is a CPE 2.3 vendor or product token as NVD writes them for the products we
/// name: lower case, unescaped, and unchanged by `medsurface_vulndb::cpe::cpe_token` (so the
/// feed matcher looks it up as written). Escaped punctuation (`\!`) is not needed by any
/// entry and is refused rather than half-supported.
fn valid_token(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= MAX_TOKEN
        && t.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && t.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.')
        })
}

fn is_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() > "https://".len()
        && !s.chars().any(char::is_whitespace)
}

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
}

impl Ctx<'_> {
    fn err(&self, offset: usize, kind: CpeNamesErrorKind) -> CpeNamesError {
        CpeNamesError {
            file: self.file.to_string(),
            line: line_of(self.text, offset),
            kind,
        }
    }

    fn token(&self, t: &Spanned<String>) -> Result<String, CpeNamesError> {
        if valid_token(t.get_ref()) {
            Ok(t.get_ref().clone())
        } else {
            Err(self.err(
                t.span().start,
                CpeNamesErrorKind::BadToken(t.get_ref().clone()),
            ))
        }
    }

    fn source(&self, s: &Spanned<String>) -> Result<String, CpeNamesError> {
        if is_url(s.get_ref()) {
            Ok(s.get_ref().clone())
        } else {
            Err(self.err(
                s.span().start,
                CpeNamesErrorKind::Missing(format!(
                    "source `{}` is not an http(s) URL",
                    s.get_ref()
                )),
            ))
        }
    }

    fn name(&self, what: &str, s: &Spanned<String>) -> Result<String, CpeNamesError> {
        let v = s.get_ref();
        if v.trim().is_empty() {
            return Err(self.err(
                s.span().start,
                CpeNamesErrorKind::Missing(format!("`{what}` is empty")),
            ));
        }
        if v.len() > MAX_TOKEN || v.chars().any(char::is_control) || v.trim() != v {
            return Err(self.err(
                s.span().start,
                CpeNamesErrorKind::BadName(format!(
                    "`{what}` must be one line without surrounding spaces, at most {MAX_TOKEN} bytes"
                )),
            ));
        }
        Ok(v.clone())
    }
}

impl CpeNames {
    /// The shipped table.
    pub fn builtin() -> Result<CpeNames, CpeNamesError> {
        CpeNames::parse(BUILTIN_NAME, BUILTIN_TOML)
    }

    /// A table from a file.
    pub fn load(path: &Path) -> Result<CpeNames, CpeNamesError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| CpeNamesError {
            file: file.clone(),
            line: 0,
            kind: CpeNamesErrorKind::Read(e.to_string()),
        })?;
        CpeNames::parse(&file, &text)
    }

    /// A table from text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<CpeNames, CpeNamesError> {
        let cx = Ctx { file, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            cx.err(
                offset,
                CpeNamesErrorKind::Syntax(e.message().trim().to_string()),
            )
        })?;
        let mut entries = Vec::with_capacity(raw.products.len());
        let mut index = HashMap::with_capacity(raw.products.len());
        for spanned in raw.products {
            let line = line_of(text, spanned.span().start);
            let p = spanned.into_inner();
            let vendor = cx.name("vendor", &p.vendor)?;
            let product = cx.name("product", &p.product)?;
            if p.cpe.get_ref().is_empty() {
                return Err(cx.err(
                    p.cpe.span().start,
                    CpeNamesErrorKind::Missing(format!(
                        "{vendor} / {product}: `cpe` lists no CPE name (leave out a product NVD has none for)"
                    )),
                ));
            }
            let mut cpe: Vec<CpeName> = Vec::new();
            for c in p.cpe.get_ref() {
                let c = c.get_ref();
                let name = CpeName {
                    vendor: cx.token(&c.vendor)?,
                    product: cx.token(&c.product)?,
                    source: cx.source(&c.source)?,
                };
                if cpe
                    .iter()
                    .any(|o| o.vendor == name.vendor && o.product == name.product)
                {
                    return Err(cx.err(
                        c.vendor.span().start,
                        CpeNamesErrorKind::Duplicate(format!(
                            "CPE {}:{} twice for {vendor} / {product}",
                            name.vendor, name.product
                        )),
                    ));
                }
                cpe.push(name);
            }
            let mut kev: Vec<KevName> = Vec::new();
            for k in &p.kev {
                let k = k.get_ref();
                let name = KevName {
                    vendor_project: cx.name("vendor_project", &k.vendor_project)?,
                    product: cx.name("product", &k.product)?,
                    source: cx.source(&k.source)?,
                };
                if kev
                    .iter()
                    .any(|o| o.vendor_project == name.vendor_project && o.product == name.product)
                {
                    return Err(cx.err(
                        k.vendor_project.span().start,
                        CpeNamesErrorKind::Duplicate(format!(
                            "KEV name {} / {} twice for {vendor} / {product}",
                            name.vendor_project, name.product
                        )),
                    ));
                }
                kev.push(name);
            }
            let key = (vendor.clone(), product.clone());
            if let Some(&first) = index.get(&key) {
                let first: &ProductNames = &entries[first];
                return Err(cx.err(
                    p.vendor.span().start,
                    CpeNamesErrorKind::Duplicate(format!(
                        "{vendor} / {product} is already listed at line {}",
                        first.line
                    )),
                ));
            }
            index.insert(key, entries.len());
            entries.push(ProductNames {
                vendor,
                product,
                cpe,
                kev,
                note: p.note,
                line,
            });
        }
        Ok(CpeNames { entries, index })
    }

    /// The CPE names of a product named as the signatures name it; empty when the table has
    /// none (the caller then falls back to the human names).
    pub fn lookup(&self, vendor: &str, product: &str) -> &[CpeName] {
        self.entry(vendor, product).map_or(&[], |e| &e.cpe)
    }

    /// How CISA KEV names the product; empty when the table says nothing.
    pub fn kev_names(&self, vendor: &str, product: &str) -> &[KevName] {
        self.entry(vendor, product).map_or(&[], |e| &e.kev)
    }

    /// The whole entry of a product.
    pub fn entry(&self, vendor: &str, product: &str) -> Option<&ProductNames> {
        // Allocation per lookup is two short strings; the read side calls this once per
        // service, next to a feed lookup that allocates far more.
        self.index
            .get(&(vendor.to_owned(), product.to_owned()))
            .map(|&i| &self.entries[i])
    }

    /// Every entry, in file order.
    pub fn entries(&self) -> &[ProductNames] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        for ok in [
            "orthanc-server",
            "mirth_connect",
            "dcm4chee-arc-light",
            "a.b",
            "3dslicer",
        ] {
            assert!(valid_token(ok), "{ok}");
        }
        for bad in ["", "Orthanc", "orthanc server", "-x", "a:b", "a\\!b", "é"] {
            assert!(!valid_token(bad), "{bad}");
        }
    }
}
