//! [`VulnDb`]: OSV, NVD CVE 2.0 and CISA KEV data loaded from the user's files, and the queries
//! the supply-chain and assessment stages ask of it.
//!
//! Loading sniffs each file (the first 64 KiB of its text) for its format, so a directory can
//! hold any mix; `.json.gz` files are decompressed on the fly and `.zip` archives (OSV's
//! per-ecosystem `all.zip`) are read member by member. NVD feeds and OSV arrays are read as streams: each record is deserialized into a
//! compact struct and the rest of the text is skipped, so a 100 MB yearly NVD feed costs the
//! memory of its CPE criteria, not of its JSON. KEV only marks CVEs as known exploited (and
//! answers vendor/product queries for CVEs no loaded NVD record describes).
//!
//! What a match means: OSV ranges are evaluated with the ecosystem's version order
//! (`Scheme::for_ecosystem`); NVD `cpeMatch` entries with `vulnerable: true` are evaluated with
//! their `versionStart*`/`versionEnd*` bounds in the generic dotted order. NVD's AND
//! configurations ("vulnerable app running on platform X") are not evaluated: a vulnerable
//! criteria alone is enough, which can over-report and never under-reports.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use medsurface_model::version::{Range, Scheme};
use medsurface_model::VulnerabilityRef;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer as _, Serialize};

use crate::cpe::{self, Cpe};
use crate::purl::{normalize_name, Purl, PurlError};
use crate::Error;

/// One advisory that applies to the queried package or product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advisory {
    /// What reports show: id, source (`osv`, `nvd` or `kev`), CVSS base score, whether CISA
    /// lists it as known exploited, summary, reference URL.
    pub vulnerability: VulnerabilityRef,
    /// Other ids of the same vulnerability (CVE ↔ GHSA, …).
    pub aliases: Vec<String>,
    /// Why it matched.
    pub evidence: MatchEvidence,
}

/// Why an advisory matched: the package or CPE criteria, the version asked about, and the range
/// that contains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatchEvidence {
    /// The OSV package (`PyPI/requests`) or the NVD criteria (`cpe:2.3:a:python:requests:*:…`),
    /// or the KEV vendor/product.
    pub matched: String,
    /// The version asked about, as given.
    pub version: Option<String>,
    /// The affected range containing it, OSV-style, when the source states one that way
    /// (an NVD `versionStartExcluding` has no OSV form and leaves this `None`).
    pub range: Option<Range>,
    /// The range in the source's words, e.g. `introduced 0, fixed 2.20.0` or
    /// `versionStartIncluding 2.8.0, versionEndExcluding 2.8.3`.
    pub detail: String,
    /// The version order used.
    pub scheme: Scheme,
    /// `false` when no version was compared: the query had no version, or the source (KEV)
    /// has no version data. Such an advisory means "this product is affected in some version".
    pub version_checked: bool,
}

/// What one [`VulnDb::load`] call read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub files: usize,
    pub osv_advisories: usize,
    pub nvd_cves: usize,
    pub kev_entries: usize,
    /// Files in a directory that were not `.json` / `.json.gz` / `.zip` and were left alone.
    pub skipped: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Osv,
    Nvd,
}

#[derive(Debug)]
struct Record {
    id: String,
    aliases: Vec<String>,
    summary: Option<String>,
    reference: Option<String>,
    cvss: Option<f32>,
    source: Source,
}

#[derive(Debug)]
struct OsvAffected {
    record: usize,
    /// The ecosystem as written (`Debian:12`).
    ecosystem: String,
    name: String,
    scheme: Option<Scheme>,
    /// (range type, ranges) — SEMVER ranges always use the semver order.
    ranges: Vec<(Scheme, Range)>,
    versions: Vec<String>,
}

#[derive(Debug)]
struct NvdMatch {
    record: usize,
    criteria: Cpe,
    criteria_text: String,
    start_incl: Option<String>,
    start_excl: Option<String>,
    end_incl: Option<String>,
    end_excl: Option<String>,
}

#[derive(Debug, Clone)]
struct KevEntry {
    cve: String,
    vendor: String,
    product: String,
    name: Option<String>,
    description: Option<String>,
    info: KevInfo,
}

/// What CISA KEV says about one CVE beyond "known exploited".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KevInfo {
    /// `vendorProject` and `product` as the catalogue writes them.
    pub vendor_project: String,
    pub product: String,
    /// `dateAdded` and `dueDate` (YYYY-MM-DD), as written.
    pub date_added: Option<String>,
    pub due_date: Option<String>,
    /// `knownRansomwareCampaignUse` is `Known`.
    pub known_ransomware_use: bool,
    pub required_action: Option<String>,
}

/// How much a [`VulnDb`] holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub osv_advisories: usize,
    pub nvd_cves: usize,
    pub kev_entries: usize,
}

/// Offline vulnerability data: load files with [`VulnDb::load`], then query.
#[derive(Debug, Default)]
pub struct VulnDb {
    records: Vec<Record>,
    /// (lower-case base ecosystem, normalised name) → affected entries.
    osv: HashMap<(String, String), Vec<OsvAffected>>,
    /// (vendor, product) → NVD criteria; criteria with wildcards in vendor or product go to
    /// `nvd_wild` and are scanned.
    nvd: HashMap<(String, String), Vec<NvdMatch>>,
    nvd_wild: Vec<NvdMatch>,
    /// NVD record index by CVE id.
    nvd_ids: HashMap<String, usize>,
    kev: HashMap<String, KevEntry>,
    kev_by_product: HashMap<(String, String), Vec<String>>,
}

impl VulnDb {
    pub fn new() -> VulnDb {
        VulnDb::default()
    }

    /// Loads a file or, recursively, a directory of `.json` / `.json.gz` / `.zip` files, each
    /// of which may be an OSV advisory (or an array of them), an NVD CVE JSON 2.0 feed or the
    /// CISA KEV catalogue (a `.zip` holds such `.json` files, as OSV's `all.zip` does). Stops at the first bad file, naming it; what was loaded before stays.
    pub fn load(&mut self, path: &Path) -> Result<LoadReport, Error> {
        let mut report = LoadReport::default();
        let meta = std::fs::metadata(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        if meta.is_dir() {
            let mut files = Vec::new();
            walk(path, &mut files)?;
            files.sort();
            for f in files {
                let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("");
                if name.ends_with(".json") || name.ends_with(".json.gz") || name.ends_with(".zip") {
                    self.load_file(&f, &mut report)?;
                } else {
                    report.skipped.push(f);
                }
            }
        } else {
            self.load_file(path, &mut report)?;
        }
        Ok(report)
    }

    fn load_file(&mut self, path: &Path, report: &mut LoadReport) -> Result<(), Error> {
        let read_err = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(read_err)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ext.eq_ignore_ascii_case("zip") {
            return self.load_zip(path, file, report);
        }
        let reader: Box<dyn Read> = if ext == "gz" {
            Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(file)))
        } else {
            Box::new(BufReader::new(file))
        };
        self.load_stream(path, reader, report)
    }

    /// An archive of feed files (OSV's per-ecosystem `all.zip`): each `.json` member is loaded
    /// as a file of its own, named `archive.zip!member.json` in errors.
    fn load_zip(
        &mut self,
        path: &Path,
        file: std::fs::File,
        report: &mut LoadReport,
    ) -> Result<(), Error> {
        let bad = |m: String| Error::Read {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, m),
        };
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|e| bad(e.to_string()))?;
        for i in 0..zip.len() {
            let member = zip.by_index(i).map_err(|e| bad(e.to_string()))?;
            if !member.is_file() || !member.name().ends_with(".json") {
                continue;
            }
            let name = PathBuf::from(format!("{}!{}", path.display(), member.name()));
            self.load_stream(&name, Box::new(member), report)?;
        }
        Ok(())
    }

    fn load_stream(
        &mut self,
        path: &Path,
        mut reader: Box<dyn Read + '_>,
        report: &mut LoadReport,
    ) -> Result<(), Error> {
        let read_err = |source| Error::Read {
            path: path.to_path_buf(),
            source,
        };
        let mut head = Vec::with_capacity(64 * 1024);
        (&mut reader)
            .take(64 * 1024)
            .read_to_end(&mut head)
            .map_err(read_err)?;
        let kind = sniff(&head).map_err(|m| Error::invalid(path, "start of file", m))?;
        let stream = BufReader::new(std::io::Cursor::new(head).chain(reader));
        let mut de = serde_json::Deserializer::from_reader(stream);
        report.files += 1;
        match kind {
            Kind::Nvd => {
                let before = self.records.len();
                (&mut de)
                    .deserialize_map(NvdFeed { db: self })
                    .map_err(|e| Error::json(path, &e))?;
                report.nvd_cves += self.records.len() - before;
            }
            Kind::Kev => {
                let cat = KevCatalog::deserialize(&mut de).map_err(|e| Error::json(path, &e))?;
                report.kev_entries += cat.vulnerabilities.len();
                for v in cat.vulnerabilities {
                    self.add_kev(v);
                }
            }
            Kind::Osv => {
                let before = self.records.len();
                (&mut de)
                    .deserialize_any(OsvDoc { db: self })
                    .map_err(|e| Error::json(path, &e))?;
                report.osv_advisories += self.records.len() - before;
            }
        }
        de.end().map_err(|e| Error::json(path, &e))?;
        Ok(())
    }

    fn add_kev(&mut self, v: KevRaw) {
        let vendor = cpe::cpe_token(&v.vendor_project);
        let product = cpe::cpe_token(&v.product);
        let cve = v.cve_id.trim().to_ascii_uppercase();
        self.kev_by_product
            .entry((vendor.clone(), product.clone()))
            .or_default()
            .push(cve.clone());
        let info = KevInfo {
            vendor_project: v.vendor_project,
            product: v.product,
            date_added: v.date_added,
            due_date: v.due_date,
            known_ransomware_use: v
                .known_ransomware_campaign_use
                .is_some_and(|k| k.eq_ignore_ascii_case("known")),
            required_action: v.required_action,
        };
        self.kev.insert(
            cve.clone(),
            KevEntry {
                cve,
                vendor,
                product,
                name: v.vulnerability_name,
                description: v.short_description,
                info,
            },
        );
    }

    /// Whether CISA lists `id` (or one of `aliases`) as known exploited.
    pub fn is_known_exploited(&self, id: &str, aliases: &[String]) -> bool {
        std::iter::once(id)
            .chain(aliases.iter().map(String::as_str))
            .any(|i| self.kev.contains_key(&i.to_ascii_uppercase()))
    }

    /// The KEV catalogue's entry for a CVE, if CISA lists it.
    pub fn kev(&self, cve: &str) -> Option<&KevInfo> {
        self.kev
            .get(&cve.trim().to_ascii_uppercase())
            .map(|k| &k.info)
    }

    /// How many OSV advisories, NVD CVE records and KEV entries are loaded.
    pub fn stats(&self) -> DbStats {
        let osv = self
            .records
            .iter()
            .filter(|r| r.source == Source::Osv)
            .count();
        DbStats {
            osv_advisories: osv,
            nvd_cves: self.records.len() - osv,
            kev_entries: self.kev.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.kev.is_empty()
    }

    fn vuln_ref(&self, r: &Record) -> VulnerabilityRef {
        // A CVSS score from NVD's record of an alias when the advisory has none of its own.
        let cvss = r.cvss.or_else(|| {
            r.aliases
                .iter()
                .filter_map(|a| self.nvd_ids.get(&a.to_ascii_uppercase()))
                .find_map(|&i| self.records[i].cvss)
        });
        VulnerabilityRef {
            id: r.id.clone(),
            source: match r.source {
                Source::Osv => "osv",
                Source::Nvd => "nvd",
            }
            .to_string(),
            cvss,
            known_exploited: self.is_known_exploited(&r.id, &r.aliases),
            summary: r.summary.clone(),
            reference: r.reference.clone(),
        }
    }

    /// OSV advisories affecting `version` of package `name` in `ecosystem` (an OSV ecosystem
    /// name such as `PyPI`, `npm`, `Maven`, `Debian:12`). Versions the ecosystem's order cannot
    /// read match only an exact entry of an advisory's `versions` list.
    pub fn advisories_for_package(
        &self,
        ecosystem: &str,
        name: &str,
        version: &str,
    ) -> Vec<Advisory> {
        let base = ecosystem
            .split(':')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let key = (base, normalize_name(ecosystem, name));
        let mut out = Vec::new();
        let Some(entries) = self.osv.get(&key) else {
            return out;
        };
        let wanted_release = ecosystem.split_once(':').map(|(_, r)| r.trim());
        for a in entries {
            // `Debian:12` asks about Debian 12; an advisory for `Debian:11` does not apply. A
            // query without a release takes advisories of any release.
            if let (Some(want), Some((_, have))) = (wanted_release, a.ecosystem.split_once(':')) {
                if !want.eq_ignore_ascii_case(have.trim()) {
                    continue;
                }
            }
            if let Some(ev) = osv_evidence(a, version) {
                let r = &self.records[a.record];
                out.push(Advisory {
                    vulnerability: self.vuln_ref(r),
                    aliases: r.aliases.clone(),
                    evidence: ev,
                });
            }
        }
        dedup_sort(out)
    }

    /// OSV advisories for a package URL (`pkg:pypi/requests@2.19.0`). A purl without a version
    /// or of a type with no OSV ecosystem matches nothing.
    pub fn advisories_for_purl(&self, purl: &str) -> Result<Vec<Advisory>, PurlError> {
        let p = Purl::parse(purl)?;
        let (Some(eco), Some(version)) = (p.ecosystem(), p.version.as_deref()) else {
            return Ok(Vec::new());
        };
        Ok(self.advisories_for_package(eco, &p.osv_name(), version))
    }

    /// NVD CVEs whose vulnerable `cpeMatch` criteria match `cpe23` (a CPE 2.3 name or 2.2 URI).
    /// The version compared is `version` when given, else the CPE's own version attribute; with
    /// neither, criteria match with `version_checked: false`.
    pub fn advisories_for_cpe(
        &self,
        cpe23: &str,
        version: Option<&str>,
    ) -> Result<Vec<Advisory>, cpe::CpeError> {
        let target = Cpe::parse(cpe23)?;
        let version = version.map(str::to_string).or_else(|| target.version());
        let key = (target.vendor(), target.product());
        let candidates = self
            .nvd
            .get(&key)
            .into_iter()
            .flatten()
            .chain(self.nvd_wild.iter());
        let mut out = Vec::new();
        for m in candidates {
            if !m.criteria.matches(&target, &[cpe::VERSION]) {
                continue;
            }
            if let Some(ev) = nvd_evidence(m, version.as_deref()) {
                let r = &self.records[m.record];
                out.push(Advisory {
                    vulnerability: self.vuln_ref(r),
                    aliases: r.aliases.clone(),
                    evidence: ev,
                });
            }
        }
        Ok(dedup_sort(out))
    }

    /// Advisories for a product named the way signatures name it (`vendor`, `product`, e.g.
    /// `"Orthanc"`, `"Orthanc"`): both are turned into CPE tokens (lower case, spaces →
    /// underscores) and matched against NVD criteria `cpe:2.3:*:vendor:product:…` of any part,
    /// with `version` compared to their bounds in the generic dotted order. CVEs that CISA KEV
    /// lists for the same vendor/product and that no loaded NVD record describes are added with
    /// `source = "kev"` and `version_checked = false` (KEV has no versions). With
    /// `version = None`, every vulnerable criteria for the product is returned unchecked.
    ///
    /// This is the assessment stage's entry point; it is deliberately simple: no alias tables,
    /// so a signature whose vendor is spelled differently from NVD's CPE vendor finds nothing.
    pub fn advisories_for_product(
        &self,
        vendor: &str,
        product: &str,
        version: Option<&str>,
    ) -> Vec<Advisory> {
        let (v, p) = (cpe::cpe_token(vendor), cpe::cpe_token(product));
        let esc = |s: &str| s.replace(':', "\\:");
        let cpe23 = format!("cpe:2.3:*:{}:{}:*:*:*:*:*:*:*:*", esc(&v), esc(&p));
        let mut out = self.advisories_for_cpe(&cpe23, version).unwrap_or_default();
        for cve in self.kev_by_product.get(&(v, p)).into_iter().flatten() {
            if self.nvd_ids.contains_key(cve) {
                continue;
            }
            let k = &self.kev[cve];
            out.push(Advisory {
                vulnerability: VulnerabilityRef {
                    id: k.cve.clone(),
                    source: "kev".into(),
                    cvss: None,
                    known_exploited: true,
                    summary: k.name.clone().or_else(|| k.description.clone()),
                    reference: Some(format!("https://nvd.nist.gov/vuln/detail/{}", k.cve)),
                },
                aliases: Vec::new(),
                evidence: MatchEvidence {
                    matched: format!("{}:{}", k.vendor, k.product),
                    version: version.map(str::to_string),
                    range: None,
                    detail:
                        "listed in CISA KEV for this vendor and product; KEV has no version data"
                            .into(),
                    scheme: Scheme::Generic,
                    version_checked: false,
                },
            });
        }
        dedup_sort(out)
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    for e in entries {
        let e = e.map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        let p = e.path();
        let ft = e.file_type().map_err(|source| Error::Read {
            path: p.clone(),
            source,
        })?;
        if ft.is_dir() {
            walk(&p, out)?;
        } else if ft.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

fn dedup_sort(mut v: Vec<Advisory>) -> Vec<Advisory> {
    v.sort_by(|a, b| a.vulnerability.id.cmp(&b.vulnerability.id));
    let mut seen = BTreeSet::new();
    v.retain(|a| seen.insert(a.vulnerability.id.clone()));
    v
}

fn osv_evidence(a: &OsvAffected, version: &str) -> Option<MatchEvidence> {
    let matched = format!("{}/{}", a.ecosystem, a.name);
    let ev = |range: Option<Range>, detail: String, scheme: Scheme| MatchEvidence {
        matched: matched.clone(),
        version: Some(version.to_string()),
        range,
        detail,
        scheme,
        version_checked: true,
    };
    let scheme = a.scheme.unwrap_or(Scheme::Generic);
    if a.versions.iter().any(|v| {
        v == version
            || a.scheme.and_then(|s| s.compare(v, version)) == Some(std::cmp::Ordering::Equal)
    }) {
        return Some(ev(
            None,
            format!("{version} is listed among the affected versions"),
            scheme,
        ));
    }
    for (s, r) in &a.ranges {
        if r.contains(*s, version) == Some(true) {
            return Some(ev(Some(r.clone()), describe_range(r), *s));
        }
    }
    None
}

fn describe_range(r: &Range) -> String {
    let mut parts = vec![format!(
        "introduced {}",
        r.introduced.as_deref().unwrap_or("0")
    )];
    if let Some(f) = &r.fixed {
        parts.push(format!("fixed {f}"));
    }
    if let Some(l) = &r.last_affected {
        parts.push(format!("last_affected {l}"));
    }
    if r.fixed.is_none() && r.last_affected.is_none() {
        parts.push("no fix".into());
    }
    parts.join(", ")
}

fn nvd_evidence(m: &NvdMatch, version: Option<&str>) -> Option<MatchEvidence> {
    use std::cmp::Ordering::*;
    let s = Scheme::Generic;
    let mut detail = Vec::new();
    let bounded = m.start_incl.is_some()
        || m.start_excl.is_some()
        || m.end_incl.is_some()
        || m.end_excl.is_some();
    for (name, b) in [
        ("versionStartIncluding", &m.start_incl),
        ("versionStartExcluding", &m.start_excl),
        ("versionEndIncluding", &m.end_incl),
        ("versionEndExcluding", &m.end_excl),
    ] {
        if let Some(b) = b {
            detail.push(format!("{name} {b}"));
        }
    }
    let crit_version = m.criteria.version();
    let range = if m.start_excl.is_some() {
        None
    } else if bounded {
        Some(Range {
            introduced: m.start_incl.clone(),
            fixed: m.end_excl.clone(),
            last_affected: m.end_incl.clone(),
        })
    } else {
        crit_version.as_ref().map(|v| Range {
            introduced: Some(v.clone()),
            fixed: None,
            last_affected: Some(v.clone()),
        })
    };
    let base = |detail: String, checked: bool| MatchEvidence {
        matched: m.criteria_text.clone(),
        version: version.map(str::to_string),
        range: range.clone(),
        detail,
        scheme: s,
        version_checked: checked,
    };
    let Some(v) = version else {
        let d = if detail.is_empty() {
            "criteria without version bounds".to_string()
        } else {
            detail.join(", ")
        };
        return Some(base(d, false));
    };
    if let Some(cv) = &crit_version {
        // A criteria naming one version: equal versions only (its update attribute was already
        // matched with the rest of the name).
        return (s.compare(v, cv)? == Equal)
            .then(|| base(format!("criteria names version {cv}"), true));
    }
    if !bounded {
        return Some(base("all versions (criteria version is *)".into(), true));
    }
    if let Some(b) = &m.start_incl {
        if s.compare(v, b)? == Less {
            return None;
        }
    }
    if let Some(b) = &m.start_excl {
        if s.compare(v, b)? != Greater {
            return None;
        }
    }
    if let Some(b) = &m.end_incl {
        if s.compare(v, b)? == Greater {
            return None;
        }
    }
    if let Some(b) = &m.end_excl {
        if s.compare(v, b)? != Less {
            return None;
        }
    }
    Some(base(detail.join(", "), true))
}

// ---------------------------------------------------------------------------------------------
// Format sniffing

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Osv,
    Nvd,
    Kev,
}

fn sniff(head: &[u8]) -> Result<Kind, String> {
    let text = String::from_utf8_lossy(head);
    let has = |s: &str| text.contains(s);
    let first = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .next();
    if !matches!(first, Some('{') | Some('[')) {
        return Err("not JSON text (expected an object or an array)".into());
    }
    if has("\"catalogVersion\"") || has("\"cveID\"") {
        Ok(Kind::Kev)
    } else if has("\"CVE_Items\"") {
        Err(
            "an NVD 1.1 feed (CVE_Items); NVD retired that format: use the CVE JSON 2.0 feeds"
                .into(),
        )
    } else if has("\"bomFormat\"") || has("\"spdxVersion\"") {
        Err("an SBOM, not vulnerability data".into())
    } else if has("\"NVD_CVE\"") || (has("\"vulnerabilities\"") && has("\"cve\"")) {
        Ok(Kind::Nvd)
    } else {
        Ok(Kind::Osv)
    }
}

// ---------------------------------------------------------------------------------------------
// OSV

#[derive(Deserialize)]
struct OsvRaw {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    summary: Option<String>,
    details: Option<String>,
    withdrawn: Option<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
    #[serde(default)]
    affected: Vec<OsvAffectedRaw>,
    #[serde(default)]
    references: Vec<OsvReference>,
}

#[derive(Deserialize)]
struct OsvSeverity {
    #[serde(rename = "type")]
    ty: String,
    score: String,
}

#[derive(Deserialize)]
struct OsvAffectedRaw {
    package: Option<OsvPackage>,
    #[serde(default)]
    ranges: Vec<OsvRangeRaw>,
    #[serde(default)]
    versions: Vec<String>,
    #[serde(default)]
    severity: Vec<OsvSeverity>,
}

#[derive(Deserialize)]
struct OsvPackage {
    ecosystem: String,
    name: String,
}

#[derive(Deserialize)]
struct OsvRangeRaw {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    events: Vec<OsvEvent>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OsvEvent {
    introduced: Option<String>,
    fixed: Option<String>,
    last_affected: Option<String>,
    limit: Option<String>,
}

#[derive(Deserialize)]
struct OsvReference {
    #[serde(rename = "type")]
    ty: Option<String>,
    url: String,
}

/// A top-level OSV document: one advisory object or an array of them.
struct OsvDoc<'a> {
    db: &'a mut VulnDb,
}

impl<'de> Visitor<'de> for OsvDoc<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an OSV advisory object or an array of them")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let raw = OsvRaw::deserialize(de::value::MapAccessDeserializer::new(map))?;
        self.db.add_osv(raw).map_err(de::Error::custom)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<OsvRaw>()? {
            self.db.add_osv(raw).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl VulnDb {
    fn add_osv(&mut self, raw: OsvRaw) -> Result<(), String> {
        if raw.id.trim().is_empty() {
            return Err("OSV advisory with an empty id".into());
        }
        if raw.withdrawn.is_some() {
            return Ok(());
        }
        let cvss = raw
            .severity
            .iter()
            .chain(raw.affected.iter().flat_map(|a| a.severity.iter()))
            .filter(|s| s.ty == "CVSS_V3")
            .find_map(|s| crate::cvss::base_score_v3(&s.score));
        let reference = raw
            .references
            .iter()
            .find(|r| r.ty.as_deref() == Some("ADVISORY"))
            .or_else(|| raw.references.first())
            .map(|r| r.url.clone())
            .or_else(|| Some(format!("https://osv.dev/vulnerability/{}", raw.id)));
        let summary = raw
            .summary
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| {
                raw.details
                    .as_deref()
                    .and_then(|d| d.lines().find(|l| !l.trim().is_empty()))
                    .map(|l| crate::clip(l.trim(), 300))
            });
        let idx = self.records.len();
        for (ai, a) in raw.affected.iter().enumerate() {
            let Some(pkg) = &a.package else { continue };
            let scheme = Scheme::for_ecosystem(&pkg.ecosystem);
            let mut ranges = Vec::new();
            for (ri, r) in a.ranges.iter().enumerate() {
                let s = match r.ty.as_str() {
                    "SEMVER" => Scheme::Semver,
                    "ECOSYSTEM" => match scheme {
                        Some(s) => s,
                        None => continue,
                    },
                    _ => continue, // GIT ranges name commits, not versions
                };
                for (ei, e) in r.events.iter().enumerate() {
                    let n = [&e.introduced, &e.fixed, &e.last_affected, &e.limit]
                        .iter()
                        .filter(|x| x.is_some())
                        .count();
                    if n != 1 {
                        return Err(format!(
                            "{}: affected[{ai}].ranges[{ri}].events[{ei}] must have exactly one of introduced, fixed, last_affected, limit",
                            raw.id
                        ));
                    }
                }
                ranges.extend(events_to_ranges(&r.events, s).into_iter().map(|x| (s, x)));
            }
            let base = pkg
                .ecosystem
                .split(':')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            self.osv
                .entry((base, normalize_name(&pkg.ecosystem, &pkg.name)))
                .or_default()
                .push(OsvAffected {
                    record: idx,
                    ecosystem: pkg.ecosystem.clone(),
                    name: pkg.name.clone(),
                    scheme,
                    ranges,
                    versions: a.versions.clone(),
                });
        }
        self.records.push(Record {
            id: raw.id,
            aliases: raw.aliases,
            summary,
            reference,
            cvss,
            source: Source::Osv,
        });
        Ok(())
    }
}

/// OSV events → ranges: sorted by version when the scheme reads them all (the spec's
/// evaluation sorts them), then each `introduced` opens a range that the next `fixed` or
/// `last_affected` closes; an open range at the end has no fix.
fn events_to_ranges(events: &[OsvEvent], scheme: Scheme) -> Vec<Range> {
    let ver = |e: &OsvEvent| -> Option<String> {
        e.introduced
            .clone()
            .or_else(|| e.fixed.clone())
            .or_else(|| e.last_affected.clone())
            .or_else(|| e.limit.clone())
    };
    let mut evs: Vec<&OsvEvent> = events.iter().collect();
    let readable = evs.iter().all(|e| {
        let v = ver(e).unwrap_or_default();
        v == "0" || scheme.compare(&v, &v).is_some()
    });
    if readable {
        evs.sort_by(|a, b| {
            let (va, vb) = (ver(a).unwrap_or_default(), ver(b).unwrap_or_default());
            match (va == "0", vb == "0") {
                (true, true) => std::cmp::Ordering::Equal,
                (true, false) => std::cmp::Ordering::Less,
                (false, true) => std::cmp::Ordering::Greater,
                _ => scheme
                    .compare(&va, &vb)
                    .unwrap_or(std::cmp::Ordering::Equal),
            }
        });
    }
    let mut out = Vec::new();
    let mut open: Option<String> = None;
    let mut any_open = false;
    for e in evs {
        if let Some(i) = &e.introduced {
            if !any_open {
                open = Some(i.clone());
                any_open = true;
            }
        } else if let Some(f) = &e.fixed {
            out.push(Range {
                introduced: open.take(),
                fixed: Some(f.clone()),
                last_affected: None,
            });
            any_open = false;
        } else if let Some(l) = &e.last_affected {
            out.push(Range {
                introduced: open.take(),
                fixed: None,
                last_affected: Some(l.clone()),
            });
            any_open = false;
        }
    }
    if any_open {
        out.push(Range {
            introduced: open,
            fixed: None,
            last_affected: None,
        });
    }
    out
}

// ---------------------------------------------------------------------------------------------
// NVD CVE JSON 2.0

#[derive(Deserialize)]
struct NvdItem {
    cve: NvdCve,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdCve {
    id: String,
    vuln_status: Option<String>,
    #[serde(default)]
    descriptions: Vec<NvdText>,
    #[serde(default)]
    metrics: NvdMetrics,
    #[serde(default)]
    configurations: Vec<NvdConfiguration>,
    #[serde(default)]
    references: Vec<NvdReference>,
}

#[derive(Deserialize)]
struct NvdText {
    lang: String,
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NvdMetrics {
    #[serde(default)]
    cvss_metric_v31: Vec<NvdMetric>,
    #[serde(default)]
    cvss_metric_v30: Vec<NvdMetric>,
    #[serde(default)]
    cvss_metric_v40: Vec<NvdMetric>,
    #[serde(default)]
    cvss_metric_v2: Vec<NvdMetric>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdMetric {
    #[serde(rename = "type")]
    ty: Option<String>,
    cvss_data: NvdCvssData,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdCvssData {
    base_score: f32,
}

#[derive(Deserialize)]
struct NvdConfiguration {
    #[serde(default)]
    nodes: Vec<NvdNode>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdNode {
    #[serde(default)]
    negate: bool,
    #[serde(default)]
    cpe_match: Vec<NvdCpeMatch>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NvdCpeMatch {
    vulnerable: bool,
    criteria: String,
    version_start_including: Option<String>,
    version_start_excluding: Option<String>,
    version_end_including: Option<String>,
    version_end_excluding: Option<String>,
}

#[derive(Deserialize)]
struct NvdReference {
    url: String,
}

/// The top-level NVD feed object: everything but `vulnerabilities` is skipped.
struct NvdFeed<'a> {
    db: &'a mut VulnDb,
}

impl<'de> Visitor<'de> for NvdFeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an NVD CVE JSON 2.0 object with a vulnerabilities array")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key == "vulnerabilities" {
                map.next_value_seed(NvdVulns { db: &mut *self.db })?;
                seen = true;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !seen {
            return Err(de::Error::missing_field("vulnerabilities"));
        }
        Ok(())
    }
}

struct NvdVulns<'a> {
    db: &'a mut VulnDb,
}

impl<'de> DeserializeSeed<'de> for NvdVulns<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for NvdVulns<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of {\"cve\": {...}} objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(item) = seq.next_element::<NvdItem>()? {
            self.db.add_nvd(item.cve).map_err(de::Error::custom)?;
        }
        Ok(())
    }
}

impl VulnDb {
    fn add_nvd(&mut self, c: NvdCve) -> Result<(), String> {
        if c.vuln_status.as_deref() == Some("Rejected") {
            return Ok(());
        }
        let id = c.id.trim().to_ascii_uppercase();
        if id.is_empty() {
            return Err("CVE record with an empty id".into());
        }
        let pick = |v: &[NvdMetric]| {
            v.iter()
                .find(|m| m.ty.as_deref() == Some("Primary"))
                .or_else(|| v.first())
                .map(|m| m.cvss_data.base_score)
        };
        let m = &c.metrics;
        let cvss = pick(&m.cvss_metric_v31)
            .or_else(|| pick(&m.cvss_metric_v30))
            .or_else(|| pick(&m.cvss_metric_v40))
            .or_else(|| pick(&m.cvss_metric_v2));
        let summary = c
            .descriptions
            .iter()
            .find(|d| d.lang == "en")
            .or_else(|| c.descriptions.first())
            .map(|d| crate::clip(d.value.trim(), 300));
        let idx = self.records.len();
        for (ci, conf) in c.configurations.iter().enumerate() {
            for (ni, node) in conf.nodes.iter().enumerate() {
                if node.negate {
                    continue;
                }
                for (mi, cm) in node.cpe_match.iter().enumerate() {
                    if !cm.vulnerable {
                        continue;
                    }
                    let criteria = Cpe::parse(&cm.criteria).map_err(|e| {
                        format!(
                            "{id}: configurations[{ci}].nodes[{ni}].cpeMatch[{mi}].criteria: {e}"
                        )
                    })?;
                    let m = NvdMatch {
                        record: idx,
                        criteria_text: cm.criteria.clone(),
                        start_incl: cm.version_start_including.clone(),
                        start_excl: cm.version_start_excluding.clone(),
                        end_incl: cm.version_end_including.clone(),
                        end_excl: cm.version_end_excluding.clone(),
                        criteria,
                    };
                    let (v, p) = (m.criteria.vendor(), m.criteria.product());
                    if v.contains(['*', '?']) || p.contains(['*', '?']) {
                        self.nvd_wild.push(m);
                    } else {
                        self.nvd.entry((v, p)).or_default().push(m);
                    }
                }
            }
        }
        self.nvd_ids.insert(id.clone(), idx);
        self.records.push(Record {
            reference: Some(
                c.references
                    .first()
                    .map(|r| r.url.clone())
                    .unwrap_or_else(|| format!("https://nvd.nist.gov/vuln/detail/{id}")),
            ),
            id,
            aliases: Vec::new(),
            summary,
            cvss,
            source: Source::Nvd,
        });
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// CISA KEV

#[derive(Deserialize)]
struct KevCatalog {
    vulnerabilities: Vec<KevRaw>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KevRaw {
    #[serde(rename = "cveID")]
    cve_id: String,
    vendor_project: String,
    product: String,
    vulnerability_name: Option<String>,
    short_description: Option<String>,
    date_added: Option<String>,
    due_date: Option<String>,
    required_action: Option<String>,
    known_ransomware_campaign_use: Option<String>,
}
