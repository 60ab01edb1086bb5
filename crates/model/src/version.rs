//! Version ordering and affected-version ranges, shared by the vulnerability knowledge
//! (product versions such as Orthanc `1.10.1`) and the supply-chain stage (SBOM components with
//! ecosystem version schemes).
//!
//! A [`Range`] has OSV's semantics: a version is affected when it is at or above `introduced`
//! and below `fixed` (or at or below `last_affected`). Comparison depends on the [`Scheme`];
//! [`Scheme::Generic`] is the dotted-numeric order that fits product banners. Versions a scheme
//! cannot read compare as `None`, and a range never claims such a version is affected.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// How versions of one ecosystem are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scheme {
    /// Numeric and alphabetic runs compared in turn (`1.10.1` > `1.9.12`; `3.6.7` > `3.6.7rc1`):
    /// the order of product versions in banners.
    #[default]
    Generic,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Generic => "generic",
        }
    }

    /// Orders two versions, or `None` when either cannot be read in this scheme.
    pub fn compare(self, a: &str, b: &str) -> Option<Ordering> {
        match self {
            Scheme::Generic => generic_compare(a, b),
        }
    }
}

/// An affected range, OSV-style. `introduced = None` means "from the first version".
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub introduced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affected: Option<String>,
}

impl Range {
    /// Whether `version` is in the range; `None` when the scheme cannot order it against a bound.
    pub fn contains(&self, scheme: Scheme, version: &str) -> Option<bool> {
        if let Some(lo) = self.introduced.as_deref().filter(|s| *s != "0") {
            if scheme.compare(version, lo)? == Ordering::Less {
                return Some(false);
            }
        } else {
            // Still require the version to be readable at all.
            scheme.compare(version, version)?;
        }
        if let Some(hi) = &self.fixed {
            if scheme.compare(version, hi)? != Ordering::Less {
                return Some(false);
            }
        }
        if let Some(hi) = &self.last_affected {
            if scheme.compare(version, hi)? == Ordering::Greater {
                return Some(false);
            }
        }
        Some(true)
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Run<'a> {
    Num(&'a str),
    Alpha(&'a str),
}

fn runs(v: &str) -> Option<Vec<Run<'_>>> {
    let v = v.trim();
    let v = v.strip_prefix(['v', 'V']).unwrap_or(v);
    if v.is_empty() || !v.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let mut out = Vec::new();
    let bytes = v.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            let digits = v[start..i].trim_start_matches('0');
            out.push(Run::Num(digits));
        } else if c.is_ascii_alphabetic() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_alphabetic() {
                i += 1;
            }
            out.push(Run::Alpha(&v[start..i]));
        } else if matches!(c, b'.' | b'-' | b'_' | b'+' | b'~') {
            i += 1;
        } else {
            return None;
        }
    }
    Some(out)
}

fn generic_compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (runs(a)?, runs(b)?);
    let mut i = 0;
    loop {
        match (a.get(i), b.get(i)) {
            (None, None) => return Some(Ordering::Equal),
            // A trailing alphabetic run is a pre-release (`1.0rc1` < `1.0`); a trailing number
            // is a later version (`1.0.1` > `1.0`).
            (Some(Run::Alpha(_)), None) => return Some(Ordering::Less),
            (None, Some(Run::Alpha(_))) => return Some(Ordering::Greater),
            (Some(Run::Num(n)), None) => {
                return Some(if n.is_empty() && a[i..].iter().all(is_zero) {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                })
            }
            (None, Some(Run::Num(n))) => {
                return Some(if n.is_empty() && b[i..].iter().all(is_zero) {
                    Ordering::Equal
                } else {
                    Ordering::Less
                })
            }
            (Some(Run::Num(x)), Some(Run::Num(y))) => {
                let o = x.len().cmp(&y.len()).then_with(|| x.cmp(y));
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            (Some(Run::Alpha(x)), Some(Run::Alpha(y))) => {
                let o = x.to_ascii_lowercase().cmp(&y.to_ascii_lowercase());
                if o != Ordering::Equal {
                    return Some(o);
                }
            }
            // `1.0a` vs `1.0.1`: the alphabetic run is a pre-release of the shorter version.
            (Some(Run::Alpha(_)), Some(Run::Num(_))) => return Some(Ordering::Less),
            (Some(Run::Num(_)), Some(Run::Alpha(_))) => return Some(Ordering::Greater),
        }
        i += 1;
    }
}

fn is_zero(r: &Run<'_>) -> bool {
    matches!(r, Run::Num(n) if n.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmp(a: &str, b: &str) -> Ordering {
        Scheme::Generic.compare(a, b).unwrap()
    }

    #[test]
    fn generic_order_of_product_versions() {
        assert_eq!(cmp("1.10.1", "1.9.12"), Ordering::Greater);
        assert_eq!(cmp("3.6.7", "3.6.7"), Ordering::Equal);
        assert_eq!(cmp("3.6.7rc1", "3.6.7"), Ordering::Less);
        assert_eq!(cmp("1.0", "1.0.0"), Ordering::Equal);
        assert_eq!(cmp("1.0", "1.0.1"), Ordering::Less);
        assert_eq!(cmp("v2.1", "2.01"), Ordering::Equal);
        assert_eq!(cmp("5.2.1-beta", "5.2.1-alpha"), Ordering::Greater);
        assert_eq!(cmp("4.1.0", "4.1.0.2"), Ordering::Less);
        assert_eq!(Scheme::Generic.compare("latest", "1.0"), None);
        assert_eq!(Scheme::Generic.compare("1.0/2", "1.0"), None);
    }

    #[test]
    fn osv_ranges() {
        let r = Range {
            introduced: Some("1.0".into()),
            fixed: Some("1.12.5".into()),
            last_affected: None,
        };
        assert_eq!(r.contains(Scheme::Generic, "1.10.1"), Some(true));
        assert_eq!(r.contains(Scheme::Generic, "1.12.5"), Some(false));
        assert_eq!(r.contains(Scheme::Generic, "0.9"), Some(false));
        assert_eq!(r.contains(Scheme::Generic, "unknown"), None);
        let r = Range {
            introduced: Some("0".into()),
            fixed: None,
            last_affected: Some("3.6.7".into()),
        };
        assert_eq!(r.contains(Scheme::Generic, "3.6.7"), Some(true));
        assert_eq!(r.contains(Scheme::Generic, "3.6.8"), Some(false));
        assert_eq!(r.contains(Scheme::Generic, "0.1"), Some(true));
    }
}
