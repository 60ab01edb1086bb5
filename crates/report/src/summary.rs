//! The numbers every format shows: counts per category, the country ranking of exposed
//! imaging services (the research's figure), organisation types, severities and the DREAD score
//! distribution.
//!
//! Computed once from the services and shared by HTML, Markdown and JSON, so the formats can
//! never disagree. A service is one (address, port, transport): repeated records count once.
//! Services flagged `likely-honeypot` are left out of every headline number unless the report
//! asks for them, and the number left out is part of the summary so the report can say so.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::IpAddr;

use medsurface_model::{Service, Severity, Transport};
use serde::Serialize;

use crate::text::{clean, LABEL_CHARS};

/// The flag the assessment sets on services that are probably honeypots.
pub const HONEYPOT_FLAG: &str = "likely-honeypot";
/// How many countries the country ranking shows (the research's figure is a top 20).
pub const TOP_COUNTRIES: usize = 20;
/// Label of services without a value for a grouping field.
pub const UNKNOWN: &str = "unknown";
/// The organisation type that the research counts separately.
pub const UNIVERSITY: &str = "university";

/// One group and its number of distinct services.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub services: u64,
}

/// Services per severity band; `unrated` counts services without a DREAD rating.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SeverityCounts {
    pub critical: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
    pub unrated: u64,
}

/// The headline numbers of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Distinct services in the input, honeypots included.
    pub services_total: u64,
    /// Distinct services the headline numbers count.
    pub services_counted: u64,
    /// Distinct services flagged `likely-honeypot`.
    pub honeypots_flagged: u64,
    /// How many of those were left out of the headline numbers (0 when they are included).
    pub honeypots_excluded: u64,
    pub honeypots_included: bool,
    /// Distinct addresses among the counted services.
    pub hosts: u64,
    /// Counted services per category, largest first.
    pub by_category: Vec<Count>,
    /// Counted DICOM/imaging services per country, largest first, at most [`TOP_COUNTRIES`].
    pub imaging_by_country: Vec<Count>,
    /// Counted DICOM/imaging services in all.
    pub imaging_services: u64,
    /// Countries with at least one counted DICOM/imaging service.
    pub imaging_countries: u64,
    /// Counted services per organisation type, largest first.
    pub org_types: Vec<Count>,
    /// Counted services owned by universities.
    pub university_services: u64,
    /// Distinct organisations (by name) of type university among the counted services.
    pub university_orgs: u64,
    pub severity: SeverityCounts,
    /// Counted rated services per DREAD score bucket: index i holds scores in [i, i+1), the
    /// last bucket also holds 10.
    pub dread_histogram: [u64; 10],
    /// Counted services with at least one known vulnerability / one known exploited.
    pub vulnerable_services: u64,
    pub known_exploited_services: u64,
}

/// Identity of a service: one per (address, port, transport).
pub(crate) type Key = (IpAddr, u16, Transport);

pub(crate) fn key(s: &Service) -> Key {
    (s.ip, s.port, s.transport)
}

/// Whether the assessment flagged the service as a likely honeypot.
pub fn is_honeypot(s: &Service) -> bool {
    s.flags.iter().any(|f| f == HONEYPOT_FLAG)
}

/// Whether a service counts as DICOM/imaging for the country ranking.
pub fn is_imaging(s: &Service) -> bool {
    s.category.as_deref() == Some("imaging")
        || s.protocol.as_deref() == Some("dicom")
        || s.protocol.as_deref() == Some("dicomweb")
}

/// The services a report's headline numbers and findings show: distinct (first record of each
/// key wins), honeypots left out unless `include_honeypots`.
pub(crate) fn counted(services: &[Service], include_honeypots: bool) -> Vec<&Service> {
    let mut seen = HashSet::new();
    services
        .iter()
        .filter(|s| seen.insert(key(s)))
        .filter(|s| include_honeypots || !is_honeypot(s))
        .collect()
}

impl Summary {
    pub fn compute(services: &[Service], include_honeypots: bool) -> Summary {
        let mut seen = HashSet::new();
        let distinct: Vec<&Service> = services.iter().filter(|s| seen.insert(key(s))).collect();
        let honeypots_flagged = distinct.iter().filter(|s| is_honeypot(s)).count() as u64;
        let counted: Vec<&Service> = distinct
            .iter()
            .copied()
            .filter(|s| include_honeypots || !is_honeypot(s))
            .collect();

        let mut categories = BTreeMap::new();
        let mut countries = BTreeMap::new();
        let mut org_types = BTreeMap::new();
        let mut universities = BTreeSet::new();
        let mut hosts = BTreeSet::new();
        let mut severity = SeverityCounts::default();
        let mut dread_histogram = [0u64; 10];
        let mut imaging_services = 0;
        let mut university_services = 0;
        let mut vulnerable_services = 0;
        let mut known_exploited_services = 0;
        for s in &counted {
            hosts.insert(s.ip);
            *categories.entry(label(s.category.as_deref())).or_insert(0) += 1;
            let org_type = label(s.org_type.as_deref());
            if org_type == UNIVERSITY {
                university_services += 1;
                universities.insert(label(s.org.as_deref()));
            }
            *org_types.entry(org_type).or_insert(0) += 1;
            if is_imaging(s) {
                imaging_services += 1;
                *countries.entry(label(s.country.as_deref())).or_insert(0) += 1;
            }
            match &s.dread {
                None => severity.unrated += 1,
                Some(d) => {
                    match d.severity {
                        Severity::Critical => severity.critical += 1,
                        Severity::High => severity.high += 1,
                        Severity::Medium => severity.medium += 1,
                        Severity::Low => severity.low += 1,
                    }
                    dread_histogram[bucket(d.score)] += 1;
                }
            }
            if !s.vulnerabilities.is_empty() {
                vulnerable_services += 1;
            }
            if s.vulnerabilities.iter().any(|v| v.known_exploited) {
                known_exploited_services += 1;
            }
        }
        let imaging_countries = countries.keys().filter(|c| *c != UNKNOWN).count() as u64;
        let mut imaging_by_country = ranked(countries);
        imaging_by_country.truncate(TOP_COUNTRIES);
        Summary {
            services_total: distinct.len() as u64,
            services_counted: counted.len() as u64,
            honeypots_flagged,
            honeypots_excluded: if include_honeypots {
                0
            } else {
                honeypots_flagged
            },
            honeypots_included: include_honeypots,
            hosts: hosts.len() as u64,
            by_category: ranked(categories),
            imaging_by_country,
            imaging_services,
            imaging_countries,
            org_types: ranked(org_types),
            university_services,
            university_orgs: universities.iter().filter(|o| *o != UNKNOWN).count() as u64,
            severity,
            dread_histogram,
            vulnerable_services,
            known_exploited_services,
        }
    }

    /// The histogram as chart rows (`"0–1"` … `"9–10"`).
    pub fn dread_rows(&self) -> Vec<(String, u64)> {
        self.dread_histogram
            .iter()
            .enumerate()
            .map(|(i, n)| (format!("{i}–{}", i + 1), *n))
            .collect()
    }
}

/// The bucket of a DREAD score; out-of-range and NaN scores are clamped.
fn bucket(score: f32) -> usize {
    if score.is_nan() || score < 0.0 {
        0
    } else {
        (score.floor() as usize).min(9)
    }
}

/// A grouping value as shown: cleaned, bounded, `unknown` when missing or empty.
fn label(v: Option<&str>) -> String {
    let s = v.map(|v| clean(v, LABEL_CHARS * 2)).unwrap_or_default();
    if s.is_empty() {
        UNKNOWN.to_string()
    } else {
        s
    }
}

/// Groups largest first; ties by name, so the order is stable.
fn ranked(groups: BTreeMap<String, u64>) -> Vec<Count> {
    let mut v: Vec<Count> = groups
        .into_iter()
        .map(|(name, services)| Count { name, services })
        .collect();
    v.sort_by(|a, b| {
        b.services
            .cmp(&a.services)
            .then_with(|| a.name.cmp(&b.name))
    });
    v
}

impl Count {
    pub(crate) fn rows(counts: &[Count]) -> Vec<(String, u64)> {
        counts
            .iter()
            .map(|c| (c.name.clone(), c.services))
            .collect()
    }
}
