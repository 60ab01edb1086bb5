//! `medsurface diff SCAN_A SCAN_B`: what changed between two scans — services that appeared,
//! services that went away, and services whose answer or risk changed — for a weekly cron job
//! or a CI gate (`--fail-on high` exits 1 when a new or changed service is at or above the band).
//!
//! Both scans are read as each saw its services (not the latest sighting), then enriched and
//! assessed by the same stages as reports, so a diff and a report never disagree on a score.

use std::collections::BTreeMap;
use std::net::IpAddr;

use anyhow::Result;
use medsurface_model::{ScanId, Service, Severity};
use medsurface_store::{SqliteStore, Store};
use serde::Serialize;

use crate::cli::DiffArgs;
use crate::exit::Exit;
use crate::scan_cmd::db_path;
use crate::view::View;

/// What happened to one service between the two scans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    New,
    Resolved,
    Changed,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::New => "new",
            ChangeKind::Resolved => "resolved",
            ChangeKind::Changed => "changed",
        }
    }
}

/// One field that differs, as text before and after (`None`: absent).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub field: String,
    pub before: Option<String>,
    pub after: Option<String>,
}

/// One line of the diff.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub change: ChangeKind,
    pub ip: IpAddr,
    pub port: u16,
    pub transport: &'static str,
    /// The record in SCAN_B (or in SCAN_A for a resolved service).
    pub product: Option<String>,
    pub category: Option<String>,
    pub severity_before: Option<Severity>,
    pub severity_after: Option<Severity>,
    pub score_before: Option<f32>,
    pub score_after: Option<f32>,
    /// For `changed`: every field that differs.
    pub fields: Vec<FieldChange>,
}

impl Change {
    /// The severity this change leaves behind: after for new and changed services; a resolved
    /// service leaves none.
    pub fn severity_left(&self) -> Option<Severity> {
        match self.change {
            ChangeKind::Resolved => None,
            _ => self.severity_after,
        }
    }
}

/// Details keys whose change matters to a defender (policy and exposure facts, not timings).
const WATCHED_DETAILS: &[&str] = &[
    "dicom.association",
    "dicom.accepts_any_ae",
    "dicom.accepts_any_calling_ae",
    "dicom.accepted_ae_title",
    "dicom.echo_status",
    "dicom.query_without_auth",
    "dicom.implementation_class_uid",
    "dicom.implementation_version_name",
    "dicom.tls",
    "dicomweb.query_without_auth",
    "fhir.security_declared",
    "fhir.search_without_auth",
    "hl7.ack_code",
    "http.status",
    "http.title",
    "tls.version",
    "tls.cert_self_signed",
    "tls.cert_expired",
    "db.auth_required",
];

type Key = (IpAddr, u16, &'static str);

fn key(s: &Service) -> Key {
    (s.ip, s.port, s.transport.as_str())
}

fn detail(s: &Service, k: &str) -> Option<String> {
    s.details.get(k).map(|v| match v {
        serde_json::Value::String(t) => t.clone(),
        other => other.to_string(),
    })
}

/// Compares two sets of assessed services.
pub fn diff(before: &[Service], after: &[Service]) -> Vec<Change> {
    let a: BTreeMap<Key, &Service> = before.iter().map(|s| (key(s), s)).collect();
    let b: BTreeMap<Key, &Service> = after.iter().map(|s| (key(s), s)).collect();
    let mut out = Vec::new();
    for (k, new) in &b {
        match a.get(k) {
            None => out.push(change(ChangeKind::New, None, Some(new))),
            Some(old) => {
                let fields = field_changes(old, new);
                if !fields.is_empty() {
                    let mut c = change(ChangeKind::Changed, Some(old), Some(new));
                    c.fields = fields;
                    out.push(c);
                }
            }
        }
    }
    for (k, old) in &a {
        if !b.contains_key(k) {
            out.push(change(ChangeKind::Resolved, Some(old), None));
        }
    }
    out.sort_by(|x, y| {
        (x.change, x.ip, x.port, x.transport).cmp(&(y.change, y.ip, y.port, y.transport))
    });
    out
}

fn change(kind: ChangeKind, old: Option<&Service>, new: Option<&Service>) -> Change {
    let shown = new.or(old).expect("a change has a record on one side");
    let sev = |s: Option<&Service>| s.and_then(|s| s.dread.as_ref()).map(|d| d.severity);
    let score = |s: Option<&Service>| s.and_then(|s| s.dread.as_ref()).map(|d| d.score);
    Change {
        change: kind,
        ip: shown.ip,
        port: shown.port,
        transport: shown.transport.as_str(),
        product: shown.product.clone(),
        category: shown.category.clone(),
        severity_before: sev(old),
        severity_after: sev(new),
        score_before: score(old),
        score_after: score(new),
        fields: Vec::new(),
    }
}

fn field_changes(old: &Service, new: &Service) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field: &str, before: Option<String>, after: Option<String>| {
        if before != after {
            out.push(FieldChange {
                field: field.to_owned(),
                before,
                after,
            });
        }
    };
    push("protocol", old.protocol.clone(), new.protocol.clone());
    push("category", old.category.clone(), new.category.clone());
    push("vendor", old.vendor.clone(), new.vendor.clone());
    push("product", old.product.clone(), new.product.clone());
    push("version", old.version.clone(), new.version.clone());
    for k in WATCHED_DETAILS {
        push(k, detail(old, k), detail(new, k));
    }
    let ids = |s: &Service| {
        let mut v: Vec<&str> = s.vulnerabilities.iter().map(|v| v.id.as_str()).collect();
        v.sort_unstable();
        v.dedup();
        (!v.is_empty()).then(|| v.join(" "))
    };
    push("vulnerabilities", ids(old), ids(new));
    let flags = |s: &Service| {
        let mut v = s.flags.clone();
        v.sort_unstable();
        (!v.is_empty()).then(|| v.join(" "))
    };
    push("flags", flags(old), flags(new));
    let sev = |s: &Service| s.dread.as_ref().map(|d| d.severity.as_str().to_owned());
    push("severity", sev(old), sev(new));
    let score = |s: &Service| s.dread.as_ref().map(|d| format!("{:.1}", d.score));
    push("score", score(old), score(new));
    out
}

pub fn run(args: DiffArgs) -> Result<Exit> {
    let db = db_path(args.store.db.clone())?;
    let store = SqliteStore::open(&db)?;
    let view = View::load(&args.view)?;
    let mut before = store.scan_services(ScanId(args.scan_a))?;
    let mut after = store.scan_services(ScanId(args.scan_b))?;
    view.prepare(&mut before);
    view.prepare(&mut after);
    let changes = diff(&before, &after);
    if args.json {
        for c in &changes {
            println!("{}", serde_json::to_string(c)?);
        }
    } else {
        print_table(&changes);
    }
    let count = |k: ChangeKind| changes.iter().filter(|c| c.change == k).count();
    eprintln!(
        "medsurface: scan {} → scan {}: {} new, {} resolved, {} changed ({} services before, {} after)",
        args.scan_a,
        args.scan_b,
        count(ChangeKind::New),
        count(ChangeKind::Resolved),
        count(ChangeKind::Changed),
        before.len(),
        after.len()
    );
    if let Some(band) = args.fail_on {
        let band: Severity = band.into();
        let hits = changes
            .iter()
            .filter(|c| c.severity_left().is_some_and(|s| s >= band))
            .count();
        if hits > 0 {
            eprintln!(
                "medsurface: {hits} new or changed service(s) at or above {} (--fail-on)",
                band.as_str()
            );
            return Ok(Exit::Findings);
        }
    }
    Ok(Exit::Ok)
}

fn print_table(changes: &[Change]) {
    use medsurface_model::text::printable;
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(["change", "service", "product", "risk", "what changed"]);
    for c in changes {
        let risk = match (c.severity_before, c.severity_after) {
            (Some(a), Some(b)) if a != b => format!("{a} → {b}"),
            (_, Some(b)) => b.to_string(),
            (Some(a), None) => format!("was {a}"),
            (None, None) => String::new(),
        };
        let what = c
            .fields
            .iter()
            .map(|f| {
                format!(
                    "{}: {} → {}",
                    f.field,
                    f.before.as_deref().unwrap_or("–"),
                    f.after.as_deref().unwrap_or("–")
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        table.add_row([
            c.change.as_str().to_owned(),
            format!("{}:{}/{}", c.ip, c.port, c.transport),
            c.product.clone().unwrap_or_default(),
            risk,
            printable(what.as_bytes(), 2000),
        ]);
    }
    println!("{table}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use medsurface_model::{Details, Dread, Observation, Source, Transport};

    fn svc(ip: &str, port: u16, severity: Option<Severity>, query: bool) -> Service {
        let mut details = Details::new();
        details.insert("dicom.query_without_auth".into(), query.into());
        let mut s = Service::from_observation(&Observation {
            ip: ip.parse().unwrap(),
            port,
            transport: Transport::Tcp,
            hostname: None,
            protocol: Some("dicom".into()),
            probe: "dicom".into(),
            source: Source::Scan,
            seen_at: "2026-03-01T00:00:00Z".parse().unwrap(),
            details,
        });
        s.dread = severity.map(|severity| Dread {
            severity,
            score: severity as u8 as f32 * 2.5,
            ..Dread::default()
        });
        s
    }

    #[test]
    fn new_resolved_and_changed_services_and_nothing_else() {
        let before = [
            svc("192.0.2.1", 104, Some(Severity::Low), false),
            svc("192.0.2.2", 104, Some(Severity::High), true),
            svc("192.0.2.3", 104, Some(Severity::Medium), false),
        ];
        let after = [
            svc("192.0.2.1", 104, Some(Severity::Critical), true),
            svc("192.0.2.3", 104, Some(Severity::Medium), false),
            svc("192.0.2.10", 104, Some(Severity::High), true),
        ];
        let d = diff(&before, &after);
        let kinds: Vec<(ChangeKind, String)> =
            d.iter().map(|c| (c.change, c.ip.to_string())).collect();
        assert_eq!(
            kinds,
            vec![
                (ChangeKind::New, "192.0.2.10".into()),
                (ChangeKind::Resolved, "192.0.2.2".into()),
                (ChangeKind::Changed, "192.0.2.1".into()),
            ]
        );
        let changed = &d[2];
        let fields: Vec<&str> = changed.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            fields,
            ["dicom.query_without_auth", "severity", "score"],
            "{changed:?}"
        );
        assert_eq!(changed.severity_before, Some(Severity::Low));
        assert_eq!(changed.severity_left(), Some(Severity::Critical));
        assert_eq!(
            d[1].severity_left(),
            None,
            "a resolved service leaves no risk"
        );
    }

    #[test]
    fn identical_scans_have_no_diff() {
        let s = [svc("192.0.2.1", 104, Some(Severity::Low), false)];
        assert!(diff(&s, &s).is_empty());
    }
}
