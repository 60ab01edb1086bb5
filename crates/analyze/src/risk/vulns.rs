//! Known vulnerabilities of the products the signatures name: the curated file
//! `knowledge/vulns.toml` (compiled into the binary) plus any advisories a caller adds (the NVD
//! and KEV importers of `crates/vulndb`, wired by the binary).
//!
//! Everything is an [`Advisory`]: vendor and product exactly as the signatures spell them,
//! affected ranges with OSV semantics ([`Range`], [`Scheme`]), and the [`VulnerabilityRef`] to
//! attach. Matching is by (vendor, product) through an index, then by version:
//!
//! - a version inside a range → the vulnerability is attached with its advisory's source
//!   (`medsurface` for the curated file);
//! - no version, or one the scheme cannot read → nothing is claimed; [`Matched::version_unknown`]
//!   says that the product has advisories, and the assessor sets the flag
//!   `version-unknown-vulns-possible`.
//!
//! Merging with what a source already attached (Shodan's `vulns`): one entry per id. The
//! `source` field lists every source that linked it, sorted and joined with `,` (for example
//! `medsurface,shodan`); CVSS, summary and reference are taken from the first source that has
//! them, curated data first; `known_exploited` is true when any source says so. An id that only
//! Shodan gave is enriched (CVSS, KEV status, summary) when an advisory has the same id, without
//! adding a source: the link is still Shodan's.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use medsurface_model::version::{Range, Scheme};
use medsurface_model::{Service, VulnerabilityRef};
use serde::Deserialize;
use toml::Spanned;

use super::error::{read, FileCtx, RiskError, RiskErrorKind};

/// The shipped vulnerability file, as named in errors.
pub const BUILTIN_VULNS_NAME: &str = "knowledge/vulns.toml";
/// The shipped vulnerability file's text.
pub const BUILTIN_VULNS: &str = include_str!("../../../../knowledge/vulns.toml");

/// The source name of links made from the curated file.
pub const CURATED_SOURCE: &str = "medsurface";

/// One product's exposure to one vulnerability.
#[derive(Debug, Clone, PartialEq)]
pub struct Advisory {
    /// Vendor as the signatures spell it.
    pub vendor: String,
    /// Product as the signatures spell it.
    pub product: String,
    pub scheme: Scheme,
    /// Affected ranges; a version in any of them is affected.
    pub ranges: Vec<Range>,
    /// What to attach; its `source` names where the link comes from.
    pub vuln: VulnerabilityRef,
    /// Where the entry was written (file:line), for messages; empty for added advisories.
    pub origin: String,
}

impl Advisory {
    /// Whether `version` is affected: `None` when the scheme cannot read it.
    pub fn affects(&self, version: &str) -> Option<bool> {
        let mut unreadable = false;
        for r in &self.ranges {
            match r.contains(self.scheme, version) {
                Some(true) => return Some(true),
                Some(false) => {}
                None => unreadable = true,
            }
        }
        if unreadable {
            None
        } else {
            Some(false)
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    vuln: Vec<Spanned<RawVuln>>,
    #[serde(default)]
    default_credentials: Vec<Spanned<RawDefaultCredentials>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefaultCredentials {
    vendor: String,
    product: String,
    source: Spanned<String>,
    note: String,
}

/// A product that ships with documented default credentials. The assessor flags its login
/// page `default-credentials-page`; nothing ever tries the credentials.
#[derive(Debug, Clone, PartialEq)]
pub struct DefaultCredentials {
    pub vendor: String,
    pub product: String,
    pub source: String,
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVuln {
    id: Spanned<String>,
    vendor: String,
    product: String,
    affected: Spanned<Vec<Range>>,
    #[serde(default)]
    cvss: Option<Spanned<f64>>,
    known_exploited: bool,
    summary: Spanned<String>,
    reference: Spanned<String>,
    source: Spanned<String>,
    #[serde(default)]
    note: Option<String>,
}

/// The advisories in force, indexed by (vendor, product) and by id.
#[derive(Debug, Clone, Default)]
pub struct KnownVulns {
    advisories: Vec<Advisory>,
    by_product: HashMap<(String, String), Vec<usize>>,
    by_id: HashMap<String, usize>,
    default_credentials: Vec<DefaultCredentials>,
}

/// What matching found for one service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matched {
    pub vulns: Vec<VulnerabilityRef>,
    /// The product has advisories but the service's version is unknown or unreadable.
    pub version_unknown: bool,
}

fn is_url(s: &str) -> bool {
    s.starts_with("https://") || s.starts_with("http://")
}

fn valid_cve(id: &str) -> bool {
    let Some(rest) = id.strip_prefix("CVE-") else {
        return false;
    };
    let Some((year, num)) = rest.split_once('-') else {
        return false;
    };
    year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && num.len() >= 4
        && num.bytes().all(|b| b.is_ascii_digit())
}

fn bound_ok(v: &Option<String>) -> bool {
    v.as_deref()
        .is_none_or(|v| v == "0" || Scheme::Generic.compare(v, v).is_some())
}

impl KnownVulns {
    /// No advisories.
    pub fn empty() -> KnownVulns {
        KnownVulns::default()
    }

    /// The shipped file.
    pub fn builtin() -> Result<KnownVulns, RiskError> {
        KnownVulns::parse(BUILTIN_VULNS_NAME, BUILTIN_VULNS)
    }

    /// A vulnerability file of the same format (replacing the shipped one; combine with
    /// [`KnownVulns::extend`]).
    pub fn load(path: &Path) -> Result<KnownVulns, RiskError> {
        let text = read(path)?;
        KnownVulns::parse(&path.display().to_string(), &text)
    }

    /// Parses and validates a vulnerability file. `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<KnownVulns, RiskError> {
        let cx = FileCtx { file, text };
        let raw: RawFile = cx.parse()?;
        let mut seen: BTreeMap<(String, String, String), usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(raw.vuln.len());
        for spanned in &raw.vuln {
            let at = spanned.span().start;
            let v = spanned.get_ref();
            let id = v.id.get_ref().trim().to_string();
            if !valid_cve(&id) {
                return Err(cx.err(
                    v.id.span().start,
                    RiskErrorKind::Syntax(format!("id `{id}` is not a CVE id (CVE-YYYY-NNNN…)")),
                ));
            }
            for (what, s) in [("vendor", &v.vendor), ("product", &v.product)] {
                if s.trim().is_empty() {
                    return Err(cx.err(at, RiskErrorKind::Missing(format!("{what} is empty"))));
                }
            }
            let key = (id.clone(), v.vendor.clone(), v.product.clone());
            if let Some(first) = seen.get(&key) {
                return Err(cx.err(
                    v.id.span().start,
                    RiskErrorKind::DuplicateId {
                        id: format!("{id} for {} / {}", v.vendor, v.product),
                        first_line: *first,
                    },
                ));
            }
            seen.insert(key, cx.line(v.id.span().start));
            let ranges = v.affected.get_ref();
            let ranges_at = v.affected.span().start;
            if ranges.is_empty() {
                return Err(cx.err(
                    ranges_at,
                    RiskErrorKind::Missing("affected: at least one range".into()),
                ));
            }
            for r in ranges {
                if r.fixed.is_some() && r.last_affected.is_some() {
                    return Err(cx.err(
                        ranges_at,
                        RiskErrorKind::BadRange("both `fixed` and `last_affected`".into()),
                    ));
                }
                if !(bound_ok(&r.introduced) && bound_ok(&r.fixed) && bound_ok(&r.last_affected)) {
                    return Err(cx.err(
                        ranges_at,
                        RiskErrorKind::BadRange(format!(
                            "a bound is not a readable version: {r:?}"
                        )),
                    ));
                }
            }
            if let Some(c) = &v.cvss {
                let cvss = *c.get_ref();
                if !(0.0..=10.0).contains(&cvss) {
                    return Err(cx.err(
                        c.span().start,
                        RiskErrorKind::OutOfRange(format!("cvss = {cvss}: CVSS is 0–10")),
                    ));
                }
            }
            let summary = v.summary.get_ref().trim();
            if summary.is_empty() || summary.contains('\n') || summary.len() > 240 {
                return Err(cx.err(
                    v.summary.span().start,
                    RiskErrorKind::Missing("summary: one line, 1–240 characters".into()),
                ));
            }
            for s in [&v.reference, &v.source] {
                if !is_url(s.get_ref()) {
                    return Err(cx.err(
                        s.span().start,
                        RiskErrorKind::Missing(format!("`{}` is not an http(s) URL", s.get_ref())),
                    ));
                }
            }
            let _ = &v.note;
            out.push(Advisory {
                vendor: v.vendor.clone(),
                product: v.product.clone(),
                scheme: Scheme::Generic,
                ranges: ranges.clone(),
                vuln: VulnerabilityRef {
                    id,
                    source: CURATED_SOURCE.to_string(),
                    cvss: v.cvss.as_ref().map(|c| *c.get_ref() as f32),
                    known_exploited: v.known_exploited,
                    summary: Some(summary.to_string()),
                    reference: Some(v.reference.get_ref().clone()),
                },
                origin: format!("{file}:{}", cx.line(at)),
            });
        }
        let mut k = KnownVulns::default();
        for spanned in &raw.default_credentials {
            let d = spanned.get_ref();
            if !is_url(d.source.get_ref()) {
                return Err(cx.err(
                    d.source.span().start,
                    RiskErrorKind::Missing(format!(
                        "`{}` is not an http(s) URL",
                        d.source.get_ref()
                    )),
                ));
            }
            if d.vendor.trim().is_empty() || d.product.trim().is_empty() || d.note.trim().is_empty()
            {
                return Err(cx.err(
                    spanned.span().start,
                    RiskErrorKind::Missing("vendor, product and note are required".into()),
                ));
            }
            k.default_credentials.push(DefaultCredentials {
                vendor: d.vendor.clone(),
                product: d.product.clone(),
                source: d.source.get_ref().clone(),
                note: d.note.trim().to_string(),
            });
        }
        k.extend(out);
        Ok(k)
    }

    /// Adds advisories (from the NVD / KEV / OSV importers or a user file).
    pub fn extend(&mut self, advisories: impl IntoIterator<Item = Advisory>) {
        for a in advisories {
            let i = self.advisories.len();
            self.by_product
                .entry((a.vendor.clone(), a.product.clone()))
                .or_default()
                .push(i);
            self.by_id.entry(a.vuln.id.clone()).or_insert(i);
            self.advisories.push(a);
        }
    }

    /// Marks ids as known exploited (a KEV catalogue read by the caller).
    pub fn mark_known_exploited<'i>(&mut self, ids: impl IntoIterator<Item = &'i str>) {
        let ids: std::collections::HashSet<&str> = ids.into_iter().collect();
        for a in &mut self.advisories {
            if ids.contains(a.vuln.id.as_str()) {
                a.vuln.known_exploited = true;
            }
        }
    }

    /// Products with documented default credentials.
    pub fn default_credentials(&self) -> &[DefaultCredentials] {
        &self.default_credentials
    }

    /// The default-credentials entry of a product, if any.
    pub fn default_credentials_for(
        &self,
        vendor: &str,
        product: &str,
    ) -> Option<&DefaultCredentials> {
        self.default_credentials
            .iter()
            .find(|d| d.vendor == vendor && d.product == product)
    }

    pub fn advisories(&self) -> &[Advisory] {
        &self.advisories
    }

    pub fn len(&self) -> usize {
        self.advisories.len()
    }

    pub fn is_empty(&self) -> bool {
        self.advisories.is_empty()
    }

    /// The first advisory with that id.
    pub fn by_id(&self, id: &str) -> Option<&Advisory> {
        self.by_id.get(id).map(|i| &self.advisories[*i])
    }

    /// The advisories of one product whose ranges contain the service's version.
    pub fn match_service(&self, s: &Service) -> Matched {
        let (Some(vendor), Some(product)) = (&s.vendor, &s.product) else {
            return Matched::default();
        };
        // Allocation-free lookup would need a borrowed key type; one small key per service.
        let Some(idx) = self.by_product.get(&(vendor.clone(), product.clone())) else {
            return Matched::default();
        };
        let mut m = Matched::default();
        let Some(version) = s.version.as_deref().filter(|v| !v.trim().is_empty()) else {
            m.version_unknown = true;
            return m;
        };
        for &i in idx {
            let a = &self.advisories[i];
            match a.affects(version) {
                Some(true) => m.vulns.push(a.vuln.clone()),
                Some(false) => {}
                None => m.version_unknown = true,
            }
        }
        m
    }
}

/// [`KnownVulns::match_service`] with the shipped file only.
pub fn match_vulns(known: &KnownVulns, s: &Service) -> Vec<VulnerabilityRef> {
    known.match_service(s).vulns
}

/// Merges `found` into `existing`, one entry per id (policy in the module docs), enriching
/// ids that only other sources gave from `known`. The result is sorted by id.
pub fn merge_vulns(
    existing: &mut Vec<VulnerabilityRef>,
    found: Vec<VulnerabilityRef>,
    known: &KnownVulns,
) {
    if existing.is_empty() && found.is_empty() {
        return;
    }
    if existing.is_empty() {
        // Fast path (the common case): only advisory links, already complete; one per id.
        let mut found = found;
        found.sort_by(|a, b| a.id.cmp(&b.id));
        found.dedup_by(|b, a| {
            if a.id == b.id {
                a.known_exploited |= b.known_exploited;
                true
            } else {
                false
            }
        });
        *existing = found;
        return;
    }
    let mut by_id: BTreeMap<String, VulnerabilityRef> = BTreeMap::new();
    // Curated / advisory links first so their details win.
    for v in found.into_iter().chain(existing.drain(..)) {
        match by_id.get_mut(&v.id) {
            None => {
                by_id.insert(v.id.clone(), v);
            }
            Some(cur) => {
                let mut sources: Vec<&str> = cur.source.split(',').collect();
                sources.extend(v.source.split(','));
                sources.sort_unstable();
                sources.dedup();
                cur.source = sources.join(",");
                cur.cvss = cur.cvss.or(v.cvss);
                cur.summary = cur.summary.take().or(v.summary);
                cur.reference = cur.reference.take().or(v.reference);
                cur.known_exploited |= v.known_exploited;
            }
        }
    }
    for v in by_id.values_mut() {
        if let Some(a) = known.by_id(&v.id) {
            v.cvss = v.cvss.or(a.vuln.cvss);
            v.known_exploited |= a.vuln.known_exploited;
            if v.summary.is_none() {
                v.summary = a.vuln.summary.clone();
            }
            if v.reference.is_none() {
                v.reference = a.vuln.reference.clone();
            }
        }
    }
    existing.extend(by_id.into_values());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(id: &str, source: &str, cvss: Option<f32>, kev: bool) -> VulnerabilityRef {
        VulnerabilityRef {
            id: id.into(),
            source: source.into(),
            cvss,
            known_exploited: kev,
            summary: None,
            reference: None,
        }
    }

    #[test]
    fn merge_keeps_one_entry_per_id_with_every_source() {
        let mut existing = vec![
            v("CVE-2020-0002", "shodan", None, false),
            v("CVE-2020-0001", "shodan", None, false),
        ];
        let found = vec![v("CVE-2020-0001", "medsurface", Some(9.8), true)];
        merge_vulns(&mut existing, found, &KnownVulns::empty());
        assert_eq!(existing.len(), 2);
        assert_eq!(existing[0].id, "CVE-2020-0001");
        assert_eq!(existing[0].source, "medsurface,shodan");
        assert_eq!(existing[0].cvss, Some(9.8));
        assert!(existing[0].known_exploited);
        assert_eq!(existing[1].source, "shodan");
        // Again: nothing changes.
        let again = existing.clone();
        merge_vulns(
            &mut existing,
            vec![v("CVE-2020-0001", "medsurface", Some(9.8), true)],
            &KnownVulns::empty(),
        );
        assert_eq!(existing, again);
    }

    #[test]
    fn kev_marks_apply_to_every_advisory_of_an_id() {
        let mut k = KnownVulns::builtin().unwrap();
        assert!(!k.by_id("CVE-2025-0896").unwrap().vuln.known_exploited);
        k.mark_known_exploited(["CVE-2025-0896"]);
        assert!(k.by_id("CVE-2025-0896").unwrap().vuln.known_exploited);
    }
}
