//! CPE 2.3 formatted strings (`cpe:2.3:part:vendor:product:version:update:edition:language:
//! sw_edition:target_sw:target_hw:other`), and the matching NVD applies to them: `*` (ANY)
//! matches everything, `-` (NA) only NA or ANY, and `*`/`?` inside a criteria value are
//! wildcards. Values compare case-insensitively after unescaping (`\:` → `:`). CPE 2.2 URIs
//! (`cpe:/a:vendor:product:version`) are read too, since older SBOMs carry them.

/// One CPE name: eleven attribute values (part, vendor, product, version, …), unescaped and
/// lower-cased; `*` is ANY and `-` is NA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpe {
    pub attrs: [String; 11],
}

/// Attribute positions.
pub const PART: usize = 0;
pub const VENDOR: usize = 1;
pub const PRODUCT: usize = 2;
pub const VERSION: usize = 3;
pub const UPDATE: usize = 4;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a CPE 2.3 name ({reason}): {input}")]
pub struct CpeError {
    pub input: String,
    pub reason: &'static str,
}

impl Cpe {
    pub fn parse(input: &str) -> Result<Cpe, CpeError> {
        let err = |reason| CpeError {
            input: crate::clip(input, 200),
            reason,
        };
        let s = input.trim();
        let lower = s.to_ascii_lowercase();
        let fields: Vec<String> = if let Some(rest) = lower.strip_prefix("cpe:2.3:") {
            // Split on unescaped colons, keeping escapes for the wildcard test, then unescape.
            let mut out = Vec::new();
            let mut cur = String::new();
            let mut chars = rest.chars();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => {
                        let n = chars.next().ok_or_else(|| err("trailing backslash"))?;
                        cur.push('\\');
                        cur.push(n);
                    }
                    ':' => out.push(std::mem::take(&mut cur)),
                    c => cur.push(c),
                }
            }
            out.push(cur);
            if out.len() != 11 {
                return Err(err("a CPE 2.3 name has 13 colon-separated fields"));
            }
            out
        } else if let Some(rest) = lower.strip_prefix("cpe:/") {
            let mut out: Vec<String> = rest.split(':').map(|x| x.replace('%', "\\%")).collect();
            if out.len() > 7 {
                return Err(err("a CPE 2.2 URI has at most 7 components"));
            }
            for v in out.iter_mut() {
                if v.is_empty() {
                    *v = "*".into();
                }
            }
            out.resize(11, "*".into());
            out
        } else {
            return Err(err("does not start with cpe:2.3: or cpe:/"));
        };
        if !matches!(fields[PART].as_str(), "a" | "o" | "h" | "*") {
            return Err(err("part must be a, o or h"));
        }
        if fields[VENDOR].is_empty() || fields[PRODUCT].is_empty() {
            return Err(err("empty vendor or product"));
        }
        let attrs: [String; 11] = fields
            .try_into()
            .map_err(|_| err("a CPE 2.3 name has 13 colon-separated fields"))?;
        Ok(Cpe { attrs })
    }

    pub fn vendor(&self) -> String {
        unescape(&self.attrs[VENDOR])
    }

    pub fn product(&self) -> String {
        unescape(&self.attrs[PRODUCT])
    }

    /// The version attribute when it names one version (not ANY or NA).
    pub fn version(&self) -> Option<String> {
        let v = &self.attrs[VERSION];
        (v != "*" && v != "-" && !v.is_empty()).then(|| unescape(v))
    }

    /// Whether this criteria name matches `target` in every attribute except those in `skip`
    /// (the caller compares versions itself when it knows the scheme).
    pub fn matches(&self, target: &Cpe, skip: &[usize]) -> bool {
        (0..11)
            .filter(|i| !skip.contains(i))
            .all(|i| attr_matches(&self.attrs[i], &target.attrs[i]))
    }
}

fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// CPE name matching of one attribute: criteria ANY matches all; target ANY (unknown) is
/// accepted too, since an SBOM that does not say is not evidence of a mismatch.
fn attr_matches(criteria: &str, target: &str) -> bool {
    if criteria == "*" || target == "*" || criteria.is_empty() {
        return true;
    }
    if criteria == "-" || target == "-" {
        return criteria == target;
    }
    if criteria.contains(['*', '?']) && !criteria.contains("\\*") && !criteria.contains("\\?") {
        return glob(criteria.as_bytes(), unescape(target).as_bytes());
    }
    unescape(criteria) == unescape(target)
}

/// `*` any run, `?` one character.
fn glob(p: &[u8], t: &[u8]) -> bool {
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The CPE vendor or product spelling of a name: lower case, spaces as underscores.
pub fn cpe_token(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join("_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_match() {
        let c = Cpe::parse("cpe:2.3:a:python:requests:*:*:*:*:*:*:*:*").unwrap();
        let t = Cpe::parse("cpe:2.3:a:python:requests:2.19.0:*:*:*:*:*:*:*").unwrap();
        assert!(c.matches(&t, &[]));
        assert_eq!(t.version().as_deref(), Some("2.19.0"));
        assert_eq!(c.version(), None);
        let other = Cpe::parse("cpe:2.3:a:python:urllib3:1.23:*:*:*:*:*:*:*").unwrap();
        assert!(!c.matches(&other, &[]));
        // Escaped colon in a value, and case folding.
        let e = Cpe::parse(r"cpe:2.3:a:Example:dicom\:server:1.0:*:*:*:*:*:*:*").unwrap();
        assert_eq!(e.product(), "dicom:server");
        assert_eq!(e.vendor(), "example");
        // NA matches only NA (or an unknown target).
        let na = Cpe::parse("cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*").unwrap();
        let sp1 = Cpe::parse("cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*").unwrap();
        let v = Cpe::parse("cpe:2.3:o:microsoft:windows_7:6.1:sp1:*:*:*:*:*:*").unwrap();
        assert!(na.matches(&sp1, &[]));
        assert!(!na.matches(&v, &[]));
        // Wildcards inside a criteria value.
        let w = Cpe::parse("cpe:2.3:a:orthanc-server:orth?nc*:*:*:*:*:*:*:*:*").unwrap();
        let o = Cpe::parse("cpe:2.3:a:orthanc-server:orthanc:1.10.1:*:*:*:*:*:*:*").unwrap();
        assert!(w.matches(&o, &[]));
        // CPE 2.2 URI.
        let u = Cpe::parse("cpe:/a:openssl:openssl:1.0.2k").unwrap();
        assert_eq!(u.version().as_deref(), Some("1.0.2k"));
        assert_eq!(
            cpe_token(" Philips  IntelliSpace PACS "),
            "philips_intellispace_pacs"
        );
    }

    #[test]
    fn malformed_cpes() {
        for bad in [
            "",
            "cpe:2.3:a:x",
            "cpe:2.3:z:v:p:1:*:*:*:*:*:*:*",
            "cpe:2.3:a::p:1:*:*:*:*:*:*:*",
            "cpe:2.3:a:v:p:1:*:*:*:*:*:*:*:*:*",
            "x:2.3:a:v:p",
        ] {
            assert!(Cpe::parse(bad).is_err(), "{bad}");
        }
    }
}
