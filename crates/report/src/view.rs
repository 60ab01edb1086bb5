//! The report as plain, already cleaned values: what the HTML and Markdown templates render.
//!
//! Templates only ever see this model, never a `Service`, so there is exactly one place where
//! peer text is cleaned and bounded, and the templates' own escaping (HTML autoescape, the
//! Markdown formatter) comes on top of it.

use std::collections::BTreeMap;

use medsurface_model::{Factor, Service};
use serde::Serialize;

use crate::remediation::Remediation;
use crate::summary::{counted, is_honeypot, Summary, HONEYPOT_FLAG};
use crate::text::{clean, clean_opt, CELL_CHARS};
use crate::{ReportError, ReportInput};

const NAME_CHARS: usize = 80;
const REASON_CHARS: usize = 300;
/// At most this many items (vulnerabilities, flags, reasons) per finding cell.
const LIST_ITEMS: usize = 12;

#[derive(Debug, Serialize)]
pub struct View {
    pub title: String,
    pub generated_at: String,
    pub scope: String,
    pub summary: Summary,
    pub findings: Vec<Finding>,
    pub findings_total: usize,
    pub honeypots: Vec<Finding>,
    pub categories: Vec<CategoryView>,
    pub flags: Vec<FlagView>,
    pub supply: Option<Vec<Vendor>>,
    pub method: MethodView,
}

#[derive(Debug, Serialize)]
pub struct Finding {
    pub rank: usize,
    pub address: String,
    pub hostname: Option<String>,
    pub product: String,
    pub category: String,
    pub category_id: &'static str,
    pub protocol: Option<String>,
    pub country: Option<String>,
    pub org: Option<String>,
    pub org_type: Option<String>,
    pub source: &'static str,
    pub seen_at: String,
    /// `"7.4"`, or `None` when unrated.
    pub score: Option<String>,
    /// A severity band, or `unrated`.
    pub severity: &'static str,
    pub factors: Vec<FactorView>,
    pub vulnerabilities: Vec<VulnView>,
    pub flags: Vec<String>,
    pub honeypot: Option<HoneypotView>,
}

#[derive(Debug, Serialize)]
pub struct FactorView {
    pub name: &'static str,
    pub label: &'static str,
    pub value: u8,
    pub rule: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VulnView {
    pub id: String,
    pub cvss: Option<String>,
    pub known_exploited: bool,
    pub source: String,
    pub summary: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HoneypotView {
    /// Likelihood in percent.
    pub likelihood: u32,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct CategoryView {
    pub id: &'static str,
    pub title: String,
    pub services: u64,
    pub advice: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct FlagView {
    pub flag: String,
    pub services: u64,
    pub advice: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct Vendor {
    pub vendor: String,
    pub in_register: bool,
    pub tier: String,
    pub score: Option<String>,
    pub access: Vec<String>,
    pub exposed_services: u64,
    pub vulnerable_components: u64,
    pub mds2_gaps: Vec<String>,
    pub next_review: Option<String>,
    pub review_overdue: bool,
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct MethodView {
    pub rubric: String,
    pub formula: String,
    pub sources: Vec<String>,
    pub tool_version: String,
}

impl View {
    pub fn build(input: &ReportInput, summary: &Summary) -> Result<View, ReportError> {
        let remediation = Remediation::builtin()?;
        let mut shown = counted(&input.services, input.include_honeypots);
        sort_by_risk(&mut shown);
        let findings_total = shown.len();
        let limit = input.findings_limit.unwrap_or(usize::MAX);
        let findings: Vec<Finding> = shown
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, s)| finding(i + 1, s, &remediation))
            .collect();

        // Honeypots left out of the headline numbers are still listed, with their reasons.
        let mut honeypots: Vec<&Service> = if input.include_honeypots {
            Vec::new()
        } else {
            counted(&input.services, true)
                .into_iter()
                .filter(|s| is_honeypot(s))
                .collect()
        };
        sort_by_risk(&mut honeypots);
        let honeypots = honeypots
            .iter()
            .take(limit)
            .enumerate()
            .map(|(i, s)| finding(i + 1, s, &remediation))
            .collect();

        // Advice for the categories and flags that occur among the shown services.
        let mut per_category: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut per_flag: BTreeMap<String, u64> = BTreeMap::new();
        for s in &shown {
            let (id, _) = remediation.for_category(s.category.as_deref());
            *per_category.entry(category_id(id)).or_default() += 1;
            for f in &s.flags {
                *per_flag.entry(f.clone()).or_default() += 1;
            }
        }
        if summary.honeypots_excluded > 0 {
            per_flag.insert(HONEYPOT_FLAG.to_string(), summary.honeypots_excluded);
        }
        let mut categories: Vec<CategoryView> = per_category
            .into_iter()
            .map(|(id, services)| {
                let (_, a) = remediation.for_category(Some(id));
                CategoryView {
                    id,
                    title: a.title.clone(),
                    services,
                    advice: a.advice.clone(),
                }
            })
            .collect();
        categories.sort_by(|a, b| b.services.cmp(&a.services).then(a.id.cmp(b.id)));
        let mut flags: Vec<FlagView> = per_flag
            .into_iter()
            .filter_map(|(flag, services)| {
                remediation.for_flag(&flag).map(|a| FlagView {
                    flag: clean(&flag, NAME_CHARS),
                    services,
                    advice: a.advice.clone(),
                })
            })
            .collect();
        flags.sort_by(|a, b| b.services.cmp(&a.services).then(a.flag.cmp(&b.flag)));

        Ok(View {
            title: clean(&input.title, CELL_CHARS),
            generated_at: input.generated_at.to_string(),
            scope: clean(&input.scope, CELL_CHARS),
            summary: summary.clone(),
            findings,
            findings_total,
            honeypots,
            categories,
            flags,
            supply: input
                .supply
                .as_ref()
                .map(|v| v.iter().map(vendor).collect()),
            method: MethodView {
                rubric: clean(&input.method.rubric, CELL_CHARS),
                formula: clean(&input.method.formula, 1000),
                sources: cleaned_list(&input.method.sources, CELL_CHARS, 50),
                tool_version: clean(&input.method.tool_version, NAME_CHARS),
            },
        })
    }
}

/// Highest risk first: score, then severity, then KEV count; unrated last; ties by address.
pub(crate) fn sort_by_risk(services: &mut [&Service]) {
    services.sort_by(|a, b| {
        let rank = |s: &Service| {
            s.dread.as_ref().map(|d| {
                (
                    1u8,
                    if d.score.is_nan() { 0.0 } else { d.score },
                    d.severity,
                )
            })
        };
        let kev = |s: &Service| {
            s.vulnerabilities
                .iter()
                .filter(|v| v.known_exploited)
                .count()
        };
        let (ra, rb) = (rank(a), rank(b));
        let by_score = match (ra, rb) {
            (Some((_, sa, va)), Some((_, sb, vb))) => sb.total_cmp(&sa).then(vb.cmp(&va)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        by_score
            .then_with(|| kev(b).cmp(&kev(a)))
            .then_with(|| (a.ip, a.port).cmp(&(b.ip, b.port)))
    });
}

fn finding(rank: usize, s: &Service, remediation: &Remediation) -> Finding {
    let vendor = clean_opt(s.vendor.as_deref(), NAME_CHARS);
    let name = clean_opt(s.product.as_deref(), NAME_CHARS);
    // "Orthanc Orthanc" reads badly: the vendor is left out when the product name starts with it.
    let vendor = vendor.filter(|v| !name.as_ref().is_some_and(|p| p.starts_with(v.as_str())));
    let product = [vendor, name, clean_opt(s.version.as_deref(), NAME_CHARS)]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    let (id, _) = remediation.for_category(s.category.as_deref());
    let factors = s
        .dread
        .as_ref()
        .map(|d| {
            Factor::ALL
                .into_iter()
                .map(|f| {
                    let ev = d.evidence.get(f.as_str());
                    FactorView {
                        name: f.as_str(),
                        label: label(f),
                        value: d.get(f),
                        rule: ev.map(|e| clean(&e.rule, NAME_CHARS)),
                        reason: ev.map(|e| clean(&e.reason, REASON_CHARS)),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let mut vulns: Vec<&medsurface_model::VulnerabilityRef> = s.vulnerabilities.iter().collect();
    // Known exploited first, then by CVSS.
    vulns.sort_by(|a, b| {
        b.known_exploited
            .cmp(&a.known_exploited)
            .then(b.cvss.unwrap_or(0.0).total_cmp(&a.cvss.unwrap_or(0.0)))
    });
    Finding {
        rank,
        address: match s.ip {
            std::net::IpAddr::V6(ip) => format!("[{ip}]:{}/{}", s.port, s.transport.as_str()),
            ip => format!("{ip}:{}/{}", s.port, s.transport.as_str()),
        },
        hostname: clean_opt(s.hostname.as_deref(), NAME_CHARS),
        product: if product.is_empty() {
            "unidentified".to_string()
        } else {
            product
        },
        category: clean_opt(s.category.as_deref(), NAME_CHARS)
            .unwrap_or_else(|| "unclassified".into()),
        category_id: category_id(id),
        protocol: clean_opt(s.protocol.as_deref(), NAME_CHARS),
        country: clean_opt(s.country.as_deref(), NAME_CHARS),
        org: clean_opt(s.org.as_deref(), NAME_CHARS),
        org_type: clean_opt(s.org_type.as_deref(), NAME_CHARS),
        source: s.source.as_str(),
        seen_at: s.seen_at.to_string(),
        score: s.dread.as_ref().map(|d| format!("{:.1}", d.score)),
        severity: s
            .dread
            .as_ref()
            .map(|d| d.severity.as_str())
            .unwrap_or("unrated"),
        factors,
        vulnerabilities: vulns
            .iter()
            .take(LIST_ITEMS)
            .map(|v| VulnView {
                id: clean(&v.id, NAME_CHARS),
                cvss: v.cvss.map(|c| format!("{c:.1}")),
                known_exploited: v.known_exploited,
                source: clean(&v.source, NAME_CHARS),
                summary: clean_opt(v.summary.as_deref(), REASON_CHARS),
            })
            .collect(),
        flags: cleaned_list(&s.flags, NAME_CHARS, LIST_ITEMS),
        honeypot: s.honeypot.as_ref().map(|h| HoneypotView {
            likelihood: (h.likelihood.clamp(0.0, 1.0) * 100.0).round() as u32,
            reasons: cleaned_list(&h.reasons, REASON_CHARS, LIST_ITEMS),
        }),
    }
}

fn vendor(v: &medsurface_model::supply::VendorSummary) -> Vendor {
    Vendor {
        vendor: clean(&v.vendor, NAME_CHARS),
        in_register: v.in_register,
        tier: clean(&v.tier, NAME_CHARS),
        score: v.dread.as_ref().map(|d| format!("{:.1}", d.score)),
        access: cleaned_list(&v.access, CELL_CHARS, LIST_ITEMS),
        exposed_services: v.exposed_services,
        vulnerable_components: v.vulnerable_components,
        mds2_gaps: cleaned_list(&v.mds2_gaps, CELL_CHARS, LIST_ITEMS),
        next_review: clean_opt(v.next_review.as_deref(), NAME_CHARS),
        review_overdue: v.review_overdue,
        notes: cleaned_list(&v.notes, CELL_CHARS, LIST_ITEMS),
    }
}

fn cleaned_list(items: &[String], max: usize, count: usize) -> Vec<String> {
    items
        .iter()
        .map(|s| clean(s, max))
        .filter(|s| !s.is_empty())
        .take(count)
        .collect()
}

fn label(f: Factor) -> &'static str {
    match f {
        Factor::Damage => "Damage",
        Factor::Reproducibility => "Reproducibility",
        Factor::Exploitability => "Exploitability",
        Factor::AffectedUsers => "Affected users",
        Factor::Discoverability => "Discoverability",
    }
}

/// The static id of a category (validated names only), for anchors.
fn category_id(name: &str) -> &'static str {
    medsurface_model::classify::Category::parse(name)
        .unwrap_or(medsurface_model::classify::Category::Other)
        .as_str()
}
