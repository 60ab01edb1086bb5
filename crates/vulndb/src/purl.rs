//! Package URLs (purl spec: `pkg:type/namespace/name@version?qualifiers#subpath`), parsed into
//! the (ecosystem, name, version) triple that OSV advisories are keyed by.
//!
//! Parsing follows the spec's "how to parse" steps: subpath from the right on `#`, qualifiers on
//! `?`, version on `@`, then type, namespace segments and name, each percent-decoded. Names are
//! normalised the way each ecosystem compares them (PyPI: PEP 503), so `pkg:pypi/Jinja2` finds
//! advisories filed under `jinja2`.

use std::fmt;

/// A parsed package URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Purl {
    /// Lower-case type (`pypi`, `npm`, `maven`, `deb`, …).
    pub ty: String,
    /// Percent-decoded namespace segments joined with `/` (`@angular`, `org.apache.logging.log4j`,
    /// `debian`), if any.
    pub namespace: Option<String>,
    pub name: String,
    pub version: Option<String>,
    /// Percent-decoded `key=value` pairs, keys lower-cased, in the order given.
    pub qualifiers: Vec<(String, String)>,
    pub subpath: Option<String>,
}

/// Why a string is not a package URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a package URL ({reason}): {input}")]
pub struct PurlError {
    pub input: String,
    pub reason: &'static str,
}

fn decode(s: &str) -> Result<String, &'static str> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or("truncated percent-encoding")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "bad percent-encoding")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad percent-encoding")?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-encoding is not UTF-8")
}

impl Purl {
    pub fn parse(input: &str) -> Result<Purl, PurlError> {
        let err = |reason| PurlError {
            input: crate::clip(input, 200),
            reason,
        };
        let s = input.trim();
        let rest = s
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("pkg:"))
            .map(|_| &s[4..])
            .ok_or_else(|| err("does not start with pkg:"))?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.rsplit_once('#') {
            Some((r, sp)) => {
                let segs: Result<Vec<String>, _> = sp
                    .split('/')
                    .filter(|x| !x.is_empty() && *x != "." && *x != "..")
                    .map(decode)
                    .collect();
                let segs = segs.map_err(err)?;
                (r, (!segs.is_empty()).then(|| segs.join("/")))
            }
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.rsplit_once('?') {
            Some((r, q)) => {
                let mut out = Vec::new();
                for pair in q.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair
                        .split_once('=')
                        .ok_or_else(|| err("qualifier without ="))?;
                    let v = decode(v).map_err(err)?;
                    if !v.is_empty() {
                        out.push((k.to_ascii_lowercase(), v));
                    }
                }
                (r, out)
            }
            None => (rest, Vec::new()),
        };
        let rest = rest.trim_end_matches('/');
        let (rest, version) = match rest.rsplit_once('@') {
            // `@` inside the last segment only: `pkg:npm/%40scope/x` encodes the scope's `@`, but
            // tolerate an unencoded `@scope/name` (no version) too.
            Some((r, v)) if !v.contains('/') && !r.is_empty() && !r.ends_with('/') => {
                (r, Some(decode(v).map_err(err)?).filter(|v| !v.is_empty()))
            }
            _ => (rest, None),
        };
        let (ty, path) = rest.split_once('/').ok_or_else(|| err("no type/name"))?;
        let ty = ty.to_ascii_lowercase();
        if ty.is_empty()
            || !ty
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b".+-".contains(&c))
        {
            return Err(err("bad type"));
        }
        let segs: Vec<&str> = path.split('/').filter(|x| !x.is_empty()).collect();
        let (name, ns) = segs.split_last().ok_or_else(|| err("no name"))?;
        let name = decode(name).map_err(err)?;
        if name.is_empty() {
            return Err(err("no name"));
        }
        let ns: Result<Vec<String>, _> = ns.iter().map(|x| decode(x)).collect();
        let ns = ns.map_err(err)?;
        Ok(Purl {
            ty,
            namespace: (!ns.is_empty()).then(|| ns.join("/")),
            name,
            version,
            qualifiers,
            subpath,
        })
    }

    /// The OSV ecosystem of this purl's type, when there is one (`pypi` → `PyPI`, `deb` with
    /// namespace `ubuntu` → `Ubuntu`, …).
    pub fn ecosystem(&self) -> Option<&'static str> {
        let ns = self.namespace.as_deref().unwrap_or("").to_ascii_lowercase();
        Some(match self.ty.as_str() {
            "pypi" => "PyPI",
            "npm" => "npm",
            "cargo" => "crates.io",
            "golang" => "Go",
            "maven" => "Maven",
            "gem" => "RubyGems",
            "nuget" => "NuGet",
            "composer" => "Packagist",
            "hex" => "Hex",
            "pub" => "Pub",
            "swift" => "SwiftURL",
            "cran" => "CRAN",
            "hackage" => "Hackage",
            "deb" if ns == "ubuntu" => "Ubuntu",
            "deb" => "Debian",
            "apk" if ns == "wolfi" => "Wolfi",
            "apk" => "Alpine",
            "rpm" if ns == "redhat" => "Red Hat",
            "rpm" if ns == "rocky" || ns == "rocky-linux" => "Rocky Linux",
            "rpm" if ns == "almalinux" => "AlmaLinux",
            "rpm" if ns == "suse" => "SUSE",
            "rpm" if ns == "opensuse" => "openSUSE",
            _ => return None,
        })
    }

    /// The package name as OSV records it for this ecosystem: `group:artifact` for Maven,
    /// `@scope/name` for npm, `namespace/name` for Go, Packagist and Swift, the bare name for
    /// distributions (the namespace there is the distribution).
    pub fn osv_name(&self) -> String {
        match (self.ty.as_str(), self.namespace.as_deref()) {
            ("maven", Some(ns)) => format!("{ns}:{}", self.name),
            ("deb" | "apk" | "rpm", _) => self.name.clone(),
            (_, Some(ns)) => format!("{ns}/{}", self.name),
            (_, None) => self.name.clone(),
        }
    }
}

impl fmt::Display for Purl {
    /// The purl without qualifiers and subpath: `pkg:type/namespace/name@version`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            write!(f, "{ns}/")?;
        }
        write!(f, "{}", self.name)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        Ok(())
    }
}

/// A package name as an ecosystem compares it: PyPI folds case and runs of `-`, `_`, `.` (PEP
/// 503); npm, Go, Maven and distributions are compared as written except for case where the
/// ecosystem is case-insensitive in practice (NuGet, Packagist, Debian, RubyGems).
pub fn normalize_name(ecosystem: &str, name: &str) -> String {
    let eco = ecosystem
        .split(':')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    match eco.as_str() {
        "pypi" => {
            let mut out = String::with_capacity(name.len());
            let mut sep = false;
            for c in name.trim().chars() {
                if matches!(c, '-' | '_' | '.') {
                    sep = true;
                } else {
                    if sep && !out.is_empty() {
                        out.push('-');
                    }
                    sep = false;
                    out.extend(c.to_lowercase());
                }
            }
            out
        }
        "npm" | "go" | "maven" | "crates.io" | "hex" | "pub" | "swifturl" => {
            name.trim().to_string()
        }
        _ => name.trim().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purl_spec_examples() {
        let p =
            Purl::parse("pkg:pypi/Jinja2@2.10?vcs_url=git%2Bhttps://example.invalid/x#src/jinja2")
                .unwrap();
        assert_eq!(p.ty, "pypi");
        assert_eq!(p.name, "Jinja2");
        assert_eq!(p.version.as_deref(), Some("2.10"));
        assert_eq!(
            p.qualifiers,
            vec![("vcs_url".into(), "git+https://example.invalid/x".into())]
        );
        assert_eq!(p.subpath.as_deref(), Some("src/jinja2"));
        assert_eq!(p.ecosystem(), Some("PyPI"));

        let p = Purl::parse("pkg:npm/%40angular/core@12.0.0").unwrap();
        assert_eq!(p.namespace.as_deref(), Some("@angular"));
        assert_eq!(p.osv_name(), "@angular/core");

        let p =
            Purl::parse("pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1?type=jar").unwrap();
        assert_eq!(p.osv_name(), "org.apache.logging.log4j:log4j-core");
        assert_eq!(p.ecosystem(), Some("Maven"));

        let p =
            Purl::parse("pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?arch=amd64&distro=debian-11")
                .unwrap();
        assert_eq!(p.version.as_deref(), Some("1.1.1n-0+deb11u3"));
        assert_eq!(p.osv_name(), "openssl");
        assert_eq!(p.ecosystem(), Some("Debian"));
        assert_eq!(p.to_string(), "pkg:deb/debian/openssl@1.1.1n-0+deb11u3");

        let p = Purl::parse("pkg:golang/github.com/gorilla/websocket@v1.4.0#examples").unwrap();
        assert_eq!(p.osv_name(), "github.com/gorilla/websocket");
        assert_eq!(p.ecosystem(), Some("Go"));

        let p = Purl::parse("PKG:PyPI/requests").unwrap();
        assert_eq!((p.ty.as_str(), p.version), ("pypi", None));

        let p = Purl::parse("pkg:foo/bar@1.0").unwrap();
        assert_eq!(p.ecosystem(), None);
    }

    #[test]
    fn malformed_purls_are_errors() {
        for bad in [
            "",
            "pypi/requests@1",
            "pkg:",
            "pkg:pypi",
            "pkg:pypi/",
            "pkg:pypi/x@1%2",
            "pkg:pypi/x@1%zz",
            "pkg:py pi/x",
        ] {
            assert!(Purl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pep503_names() {
        assert_eq!(normalize_name("PyPI", "Jinja2"), "jinja2");
        assert_eq!(normalize_name("PyPI", "zope.interface"), "zope-interface");
        assert_eq!(normalize_name("PyPI", "Foo__Bar-.baz"), "foo-bar-baz");
        assert_eq!(normalize_name("npm", "@Scope/X"), "@Scope/X");
        assert_eq!(normalize_name("Debian:12", "OpenSSL"), "openssl");
    }
}
