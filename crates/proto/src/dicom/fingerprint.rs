//! Naming a DICOM implementation from its Implementation Class UID and Version Name, with the
//! table in `knowledge/dicom-implementations.toml`.
//!
//! The table is data, loaded strictly: an unknown key, a malformed UID root, a duplicate id, an
//! entry without a public source or without an example is an error naming the file and line.
//! Every example must be identified, by the whole table, as its own entry with the expected
//! version — so an entry that another one shadows fails when the table is loaded, not silently
//! at scan time (the weakness house-style.md warns about in nuclei's matchers).
//!
//! The table shipped in the repository is compiled in ([`Fingerprints::builtin`]); another file
//! can be loaded with [`Fingerprints::from_toml`].

use std::collections::HashSet;
use std::sync::OnceLock;

use serde::Deserialize;
use toml::Spanned;

/// The shipped table, compiled in so the binary needs no data directory.
pub const BUILTIN_TOML: &str = include_str!("../../../../knowledge/dicom-implementations.toml");

/// The name the shipped table is reported under in errors.
pub const BUILTIN_ORIGIN: &str = "knowledge/dicom-implementations.toml";

/// What an entry identifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A library many products embed: the product on top is not known.
    Toolkit,
    Product,
    /// An organisation's UID root: the vendor is known, the product is not.
    Vendor,
}

/// Where the version comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum VersionFrom {
    #[default]
    None,
    VersionName,
    UidSuffix,
}

/// How the captured text becomes a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum VersionFormat {
    #[default]
    AsIs,
    Digits,
    Underscores,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    implementation: Vec<Spanned<RawEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    kind: Kind,
    vendor: String,
    product: Option<String>,
    uid_root: Option<String>,
    #[serde(default)]
    version_names: Vec<String>,
    #[serde(default)]
    version_from: VersionFrom,
    #[serde(default)]
    version_format: VersionFormat,
    source: String,
    note: Option<String>,
    #[serde(default)]
    examples: Vec<RawExample>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawExample {
    uid: Option<String>,
    version_name: Option<String>,
    version: Option<String>,
}

/// A loaded, validated entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: String,
    pub kind: Kind,
    pub vendor: String,
    pub product: Option<String>,
    pub uid_root: Option<String>,
    pub version_names: Vec<String>,
    pub source: String,
    pub note: Option<String>,
    version_from: VersionFrom,
    version_format: VersionFormat,
}

/// What the table says about one implementation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identification {
    /// The entry id (`dicom.fingerprint`).
    pub id: String,
    pub kind: Kind,
    pub vendor: String,
    pub product: Option<String>,
    pub version: Option<String>,
}

/// A knowledge file could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KnowledgeError {
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}:{line}: {subject}: {problem}")]
    Invalid {
        file: String,
        line: usize,
        subject: String,
        problem: String,
    },
}

/// The validated table.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    entries: Vec<Entry>,
}

impl Fingerprints {
    /// The shipped table (parsed once). It is validated by this crate's tests, so an error here
    /// means the binary was built from a broken tree; callers report it as a run error.
    pub fn builtin() -> Result<&'static Fingerprints, &'static KnowledgeError> {
        static TABLE: OnceLock<Result<Fingerprints, KnowledgeError>> = OnceLock::new();
        TABLE
            .get_or_init(|| Fingerprints::from_toml(BUILTIN_TOML, BUILTIN_ORIGIN))
            .as_ref()
    }

    /// Parses and validates a table; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Fingerprints, KnowledgeError> {
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e.span().map_or((0, 0), |s| line_col(text, s.start));
            KnowledgeError::Syntax {
                file: origin.to_string(),
                line,
                column,
                message: e.message().to_string(),
            }
        })?;
        let mut entries = Vec::with_capacity(raw.implementation.len());
        let mut examples = Vec::new();
        let mut seen = HashSet::new();
        for spanned in raw.implementation {
            let line = line_col(text, spanned.span().start).0;
            let raw = spanned.into_inner();
            let invalid = |problem: String| KnowledgeError::Invalid {
                file: origin.to_string(),
                line,
                subject: format!("implementation {:?}", raw.id),
                problem,
            };
            validate(&raw).map_err(invalid)?;
            if !seen.insert(raw.id.clone()) {
                return Err(invalid("duplicate id".into()));
            }
            examples.push((line, raw.id.clone(), raw.examples.clone()));
            entries.push(Entry {
                id: raw.id,
                kind: raw.kind,
                vendor: raw.vendor,
                product: raw.product,
                uid_root: raw.uid_root,
                version_names: raw.version_names,
                source: raw.source,
                note: raw.note,
                version_from: raw.version_from,
                version_format: raw.version_format,
            });
        }
        let table = Fingerprints { entries };
        for (line, id, examples) in examples {
            for ex in examples {
                let got = table.identify(ex.uid.as_deref(), ex.version_name.as_deref());
                let ok = got
                    .as_ref()
                    .is_some_and(|g| g.id == id && g.version == ex.version);
                if !ok {
                    return Err(KnowledgeError::Invalid {
                        file: origin.to_string(),
                        line,
                        subject: format!("implementation {id:?}"),
                        problem: format!(
                            "example uid={:?} version_name={:?} is identified as {:?} version {:?}, expected this entry with version {:?}",
                            ex.uid,
                            ex.version_name,
                            got.as_ref().map(|g| g.id.as_str()),
                            got.as_ref().and_then(|g| g.version.as_deref()),
                            ex.version
                        ),
                    });
                }
            }
        }
        Ok(table)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Names the implementation behind an implementation class UID and version name. Among the
    /// entries that apply, the longest UID root wins, then a matching version name.
    pub fn identify(
        &self,
        uid: Option<&str>,
        version_name: Option<&str>,
    ) -> Option<Identification> {
        let mut best: Option<(usize, &Entry, Option<&str>)> = None;
        for entry in &self.entries {
            let root_len = match (&entry.uid_root, uid) {
                (Some(root), Some(uid)) if uid_under(uid, root) => Some(root.split('.').count()),
                (Some(_), _) => continue,
                (None, _) => None,
            };
            let captured = version_name.and_then(|vn| {
                entry
                    .version_names
                    .iter()
                    .find_map(|pattern| glob_capture(pattern, vn))
            });
            let name_matched = captured.is_some();
            if root_len.is_none() && !name_matched {
                continue;
            }
            let score = root_len.unwrap_or(0) * 4 + usize::from(name_matched) * 2;
            if best.as_ref().is_none_or(|(s, _, _)| score > *s) {
                best = Some((score, entry, captured.flatten()));
            }
        }
        let (_, entry, captured) = best?;
        let version = match entry.version_from {
            VersionFrom::None => None,
            VersionFrom::VersionName => {
                captured.and_then(|c| format_version(c, entry.version_format))
            }
            VersionFrom::UidSuffix => match (&entry.uid_root, uid) {
                (Some(root), Some(uid)) => uid
                    .strip_prefix(root.as_str())
                    .and_then(|rest| rest.strip_prefix('.'))
                    .filter(|rest| is_uid(rest))
                    .map(str::to_string),
                _ => None,
            },
        };
        Some(Identification {
            id: entry.id.clone(),
            kind: entry.kind,
            vendor: entry.vendor.clone(),
            product: entry.product.clone(),
            version,
        })
    }
}

fn validate(e: &RawEntry) -> Result<(), String> {
    if e.id.is_empty()
        || !e
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || e.id.starts_with('-')
    {
        return Err("id must be lower-case letters, digits and '-'".into());
    }
    if e.vendor.trim().is_empty() {
        return Err("vendor must not be empty".into());
    }
    if e.product.as_deref().is_some_and(|p| p.trim().is_empty()) {
        return Err("product must not be empty when given".into());
    }
    if e.kind != Kind::Vendor && e.product.is_none() {
        return Err("a toolkit or product entry needs a product".into());
    }
    let source = e.source.trim();
    if !(source.starts_with("https://") || source.starts_with("http://")) || source.len() < 12 {
        return Err("source must be a public http(s) URL".into());
    }
    if let Some(root) = &e.uid_root {
        if !is_uid(root) || root.len() > 64 || root.split('.').count() < 2 {
            return Err(format!("uid_root {root:?} is not a valid UID"));
        }
    }
    for pattern in &e.version_names {
        let stars = pattern.matches('*').count();
        if pattern.is_empty() || stars > 1 || pattern.len() - stars > 16 {
            return Err(format!(
                "version name pattern {pattern:?} must be 1-16 characters with at most one '*'"
            ));
        }
        if e.version_from == VersionFrom::VersionName && stars == 0 {
            return Err(format!(
                "version_from = version-name needs a '*' in every pattern ({pattern:?} has none)"
            ));
        }
    }
    if e.uid_root.is_none() && e.version_names.is_empty() {
        return Err("needs a uid_root or version_names".into());
    }
    if e.version_from == VersionFrom::UidSuffix && e.uid_root.is_none() {
        return Err("version_from = uid-suffix needs a uid_root".into());
    }
    if e.version_from == VersionFrom::VersionName && e.version_names.is_empty() {
        return Err("version_from = version-name needs version_names".into());
    }
    if e.examples.is_empty() {
        return Err("needs at least one example".into());
    }
    if e.examples
        .iter()
        .any(|x| x.uid.is_none() && x.version_name.is_none())
    {
        return Err("an example needs a uid or a version_name".into());
    }
    Ok(())
}

/// A UID: dot-separated numeric components, no leading zero unless the component is `0`.
fn is_uid(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|c| {
            !c.is_empty()
                && c.bytes().all(|b| b.is_ascii_digit())
                && (c == "0" || !c.starts_with('0'))
        })
}

fn uid_under(uid: &str, root: &str) -> bool {
    uid == root
        || uid
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// `Some(Some(text))`: matched, `*` captured `text`; `Some(None)`: matched a pattern without a
/// `*`; `None`: no match.
fn glob_capture<'a>(pattern: &str, s: &'a str) -> Option<Option<&'a str>> {
    match pattern.split_once('*') {
        None => (pattern == s).then_some(None),
        Some((prefix, suffix)) => {
            let rest = s.strip_prefix(prefix)?;
            let mid = rest.strip_suffix(suffix)?;
            (s.len() >= prefix.len() + suffix.len()).then_some(Some(mid))
        }
    }
}

fn format_version(captured: &str, format: VersionFormat) -> Option<String> {
    let c = captured.trim();
    if c.is_empty() {
        return None;
    }
    match format {
        VersionFormat::AsIs => Some(c.to_string()),
        VersionFormat::Digits => {
            if !c.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            Some(match c.len() {
                1 => c.to_string(),
                2 => format!("{}.{}", &c[..1], &c[1..]),
                _ => format!("{}.{}.{}", &c[..1], &c[1..2], &c[2..]),
            })
        }
        VersionFormat::Underscores => c
            .split('_')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| c.replace('_', ".")),
    }
}

/// 1-based line and column of byte `offset`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn builtin() -> &'static Fingerprints {
        match Fingerprints::builtin() {
            Ok(t) => t,
            Err(e) => panic!("shipped table is invalid: {e}"),
        }
    }

    #[test]
    fn shipped_table_loads_and_has_at_least_thirty_five_entries() {
        let t = builtin();
        assert!(t.entries().len() >= 35, "{}", t.entries().len());
        for e in t.entries() {
            assert!(e.source.starts_with("http"), "{}", e.id);
        }
    }

    #[test]
    fn identifies_the_peers_of_the_test_lab() {
        let t = builtin();
        let dcmtk = t
            .identify(Some("1.2.276.0.7230010.3.0.3.6.7"), Some("OFFIS_DCMTK_367"))
            .unwrap();
        assert_eq!(
            (dcmtk.id.as_str(), dcmtk.product.as_deref()),
            ("dcmtk", Some("DCMTK"))
        );
        assert_eq!(dcmtk.version.as_deref(), Some("3.6.7"));
        let py = t
            .identify(
                Some("1.2.826.0.1.3680043.9.3811.3.0.4"),
                Some("PYNETDICOM_304"),
            )
            .unwrap();
        assert_eq!(
            (py.id.as_str(), py.version.as_deref()),
            ("pynetdicom", Some("3.0.4"))
        );
        // A vendor root without a known product names the vendor only.
        let ge = t.identify(Some("1.2.840.113619.6.999"), None).unwrap();
        assert_eq!(
            (ge.id.as_str(), ge.kind, ge.product),
            ("ge-healthcare", Kind::Vendor, None)
        );
        // A more specific entry under the same root wins when its name matches.
        let logiq = t
            .identify(Some("1.2.840.113619.6.323"), Some("LOGIQS8_1"))
            .unwrap();
        assert_eq!(logiq.id, "ge-logiq");
        // Nothing known: nothing claimed. A root is matched on component boundaries only.
        assert_eq!(t.identify(Some("1.2.3.4"), Some("SOMETHING")), None);
        assert_eq!(t.identify(Some("1.2.840.1136190"), None), None);
        assert_eq!(t.identify(None, None), None);
    }

    #[test]
    fn names_siemens_canon_merge_and_centricity() {
        let t = builtin();
        // The CT's own class UID names the product; another UID under the root, the vendor only.
        let ct = t
            .identify(Some("1.3.12.2.1107.5.1.4"), Some("SIEMENS_S7VA44A"))
            .unwrap();
        assert_eq!(
            (ct.id.as_str(), ct.vendor.as_str(), ct.kind),
            ("siemens-ct", "Siemens Healthineers", Kind::Product)
        );
        let mr = t.identify(Some("1.3.12.2.1107.5.2"), None).unwrap();
        assert_eq!(
            (mr.id.as_str(), mr.vendor.as_str(), mr.kind, mr.product),
            ("siemens", "Siemens Healthineers", Kind::Vendor, None)
        );
        // Siemens' root is matched on component boundaries: 1.3.12.2.1107.51 is not under it.
        assert_eq!(t.identify(Some("1.3.12.2.1107.51.1"), None), None);
        let canon = t
            .identify(Some("1.2.392.200036.9116.2.6.1.48"), Some("TM_NX_1.0"))
            .unwrap();
        assert_eq!(
            (canon.id.as_str(), canon.kind),
            ("canon-medical", Kind::Vendor)
        );
        // Fujifilm's JIRA arc next to Toshiba's is not Canon.
        assert_eq!(t.identify(Some("1.2.392.200036.9125.1.1.2"), None), None);
        let merge = t
            .identify(Some("2.16.840.1"), Some("MergeCOM3_5_11_0"))
            .unwrap();
        assert_eq!(
            (merge.id.as_str(), merge.kind, merge.version.as_deref()),
            ("mergecom3", Kind::Toolkit, Some("5.11.0"))
        );
        let centricity = t
            .identify(Some("1.2.840.113619.6.94"), Some("CENTRICITY_4.0"))
            .unwrap();
        assert_eq!(
            (centricity.id.as_str(), centricity.version.as_deref()),
            ("ge-centricity", Some("4.0"))
        );
        // The same GE class UID with another name stays the GE vendor root.
        let aw = t
            .identify(Some("1.2.840.113619.6.94"), Some("AW_4.7"))
            .unwrap();
        assert_eq!(aw.id, "ge-healthcare");
    }

    #[test]
    fn unknown_keys_are_errors_with_file_and_line() {
        let text = "[[implementation]]\nid = \"x\"\nkind = \"toolkit\"\nvendor = \"v\"\nproduct = \"p\"\nuid_root = \"1.2.3\"\nsource = \"https://example.org/x\"\nexamples = [{ uid = \"1.2.3\" }]\nvesion_names = [\"X*\"]\n";
        let err = Fingerprints::from_toml(text, "t.toml").unwrap_err();
        let KnowledgeError::Syntax {
            file,
            line,
            message,
            ..
        } = &err
        else {
            panic!("{err}")
        };
        assert_eq!((file.as_str(), *line), ("t.toml", 9), "{err}");
        assert!(message.contains("vesion_names"), "{message}");
        let typo_in_example = text
            .replace("vesion_names = [\"X*\"]\n", "")
            .replace("{ uid = ", "{ uuid = ");
        let err = Fingerprints::from_toml(&typo_in_example, "t.toml").unwrap_err();
        assert!(
            matches!(err, KnowledgeError::Syntax { line: 8, .. }),
            "{err}"
        );
    }

    fn entry(id: &str, extra: &str) -> String {
        format!(
            "[[implementation]]\nid = \"{id}\"\nkind = \"toolkit\"\nvendor = \"v\"\nproduct = \"p\"\nsource = \"https://example.org/{id}\"\n{extra}\n"
        )
    }

    #[test]
    fn invariants_are_enforced_with_the_entry_line() {
        let ok = entry(
            "a",
            "uid_root = \"1.2.3\"\nexamples = [{ uid = \"1.2.3.4\" }]",
        );
        Fingerprints::from_toml(&ok, "t").unwrap();
        let cases = [
            (format!("{ok}{ok}"), "duplicate id"),
            (
                entry(
                    "Bad_Id",
                    "uid_root = \"1.2\"\nexamples = [{ uid = \"1.2\" }]",
                ),
                "id must",
            ),
            (
                entry("b", "uid_root = \"1.02.3\"\nexamples = [{ uid = \"1.2\" }]"),
                "not a valid UID",
            ),
            (
                entry("b", "uid_root = \"1.2.3\"\nexamples = []"),
                "at least one example",
            ),
            (
                entry("b", "examples = [{ uid = \"1.2\" }]"),
                "uid_root or version_names",
            ),
            (
                entry(
                    "b",
                    "version_names = [\"A*B*\"]\nexamples = [{ version_name = \"AB\" }]",
                ),
                "at most one",
            ),
            (
                entry(
                    "b",
                    "uid_root = \"1.2.3\"\nexamples = [{ uid = \"1.2.3\", version = \"9\" }]",
                ),
                "expected this entry",
            ),
            (
                ok.replace("https://example.org/a", "see the vendor"),
                "public http(s) URL",
            ),
        ];
        for (text, expected) in cases {
            let err = Fingerprints::from_toml(&text, "t.toml").unwrap_err();
            assert!(err.to_string().contains(expected), "{err} / {expected}");
            assert!(err.to_string().starts_with("t.toml:"), "{err}");
        }
        // The line of the second (duplicate) entry is reported.
        let err = Fingerprints::from_toml(&format!("{ok}{ok}"), "t.toml").unwrap_err();
        assert!(
            matches!(err, KnowledgeError::Invalid { line: 9, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn a_shadowed_entry_fails_its_example() {
        let general = entry(
            "general",
            "uid_root = \"1.2.3\"\nexamples = [{ uid = \"1.2.3.9\" }]",
        );
        let shadowed = entry(
            "shadowed",
            "uid_root = \"1.2.3\"\nexamples = [{ uid = \"1.2.3.7\" }]",
        );
        let err = Fingerprints::from_toml(&format!("{general}{shadowed}"), "t").unwrap_err();
        assert!(
            err.to_string().contains("identified as Some(\"general\")"),
            "{err}"
        );
    }

    #[test]
    fn version_formats() {
        assert_eq!(
            format_version("367", VersionFormat::Digits).as_deref(),
            Some("3.6.7")
        );
        assert_eq!(
            format_version("3610", VersionFormat::Digits).as_deref(),
            Some("3.6.10")
        );
        assert_eq!(format_version("3a", VersionFormat::Digits), None);
        assert_eq!(
            format_version("1_12_3", VersionFormat::Underscores).as_deref(),
            Some("1.12.3")
        );
        assert_eq!(format_version("1__2", VersionFormat::Underscores), None);
        assert_eq!(glob_capture("A*Z", "AZ"), Some(Some("")));
        assert_eq!(glob_capture("AB*BA", "ABA"), None);
        assert_eq!(glob_capture("X", "X"), Some(None));
    }
}
