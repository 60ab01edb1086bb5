//! Vendor risk: facts scored by `risk/vendor-dread.toml` through the assessment's rubric engine,
//! evidence per factor, tiers, review dates against an injected "today", order by risk.

mod common;

use common::*;
use jiff::civil::Date;
use medsurface_model::supply::VendorSummary;
use medsurface_model::Severity;
use medsurface_supply::risk::{facts, Subject, VendorInput};
use medsurface_supply::{
    summaries, DeviceFindings, Inputs, Linker, Register, VendorRubric, VulnSources,
};

const REGISTER: &str = r#"
[[vendor]]
name = "Acme Imaging"
aliases = ["Orthanc project"]
remote_access = ["acme-vpn", "acme-rdp"]
default_credentials = true
patient_data = true
update_rights = true
network_segments = ["imaging", "clinical", "DMZ"]
contract = "expired"
baa = "pending"
last_assessment = "2025-01-10"
review_interval = "12 months"

[[vendor]]
name = "Contoso Badge Systems"
badge_access = true
contract = "active"
baa = "not-required"
last_assessment = "2025-11-01"
review_interval = "2 years"

[[vendor]]
name = "Fabrikam Records"
physical_records = true
contract = "active"
baa = "signed"
"#;

fn date(s: &str) -> Date {
    s.parse().unwrap()
}

fn run(
    register: &Register,
    services: &[medsurface_model::Service],
    today: &str,
) -> Vec<VendorSummary> {
    summaries(
        register,
        &Inputs {
            services,
            vulns: &VulnSources::default(),
            today: date(today),
        },
        &VendorRubric::builtin().expect("shipped vendor rubric"),
    )
    .expect("summaries")
}

fn by_name<'a>(s: &'a [VendorSummary], name: &str) -> &'a VendorSummary {
    s.iter()
        .find(|v| v.vendor == name)
        .unwrap_or_else(|| panic!("no {name} in {s:#?}"))
}

fn demo_services() -> Vec<medsurface_model::Service> {
    vec![
        rated(
            service("192.0.2.10", 4242, Some("Orthanc project"), Some("Orthanc")),
            Severity::Critical,
        ),
        service(
            "192.0.2.10",
            8042,
            Some("Orthanc project"),
            Some("Orthanc Explorer"),
        ),
        service(
            "198.51.100.5",
            104,
            Some("Philips"),
            Some("IntelliSpace PACS"),
        ),
        service(
            "198.51.100.6",
            104,
            Some("philips"),
            Some("IntelliSpace PACS"),
        ),
        service("198.51.100.7", 2575, Some("unknown"), None),
    ]
}

#[test]
fn evidence_cites_the_rubric_rules_and_tiers_follow_the_score() {
    let r = register(REGISTER);
    let out = run(&r, &demo_services(), "2025-06-01");

    let acme = by_name(&out, "Acme Imaging");
    let d = acme.dread.as_ref().unwrap();
    let rule = |f: &str| d.evidence[f].rule.as_str();
    assert_eq!((d.damage, rule("damage")), (9, "patient-data-no-baa"));
    assert!(
        d.evidence["damage"].reason.contains("pending"),
        "{:?}",
        d.evidence["damage"]
    );
    assert_eq!(
        (d.reproducibility, rule("reproducibility")),
        (9, "default-credentials")
    );
    assert_eq!(
        (d.exploitability, rule("exploitability")),
        (9, "exposed-critical")
    );
    assert_eq!(
        (d.affected_users, rule("affected_users")),
        (8, "patient-data-no-baa")
    );
    assert_eq!(
        (d.discoverability, rule("discoverability")),
        (9, "exposed-critical")
    );
    assert_eq!(d.score, 8.8);
    assert_eq!(acme.tier, "critical");
    assert_eq!(acme.exposed_services, 2);
    assert!(acme.in_register);
    assert!(
        acme.access
            .iter()
            .any(|a| a == "2 remote-access accounts (acme-vpn, acme-rdp)"),
        "{:?}",
        acme.access
    );
    assert!(
        acme.notes.iter().any(|n| n == "contract expired"),
        "{:?}",
        acme.notes
    );
    assert!(
        acme.notes
            .iter()
            .any(|n| n.contains("192.0.2.10:4242") && n.contains("rated critical")),
        "{:?}",
        acme.notes
    );
    // Every factor has evidence, and every cited rule is a rule of the shipped rubric.
    let rubric = VendorRubric::builtin().unwrap();
    for s in &out {
        let d = s.dread.as_ref().unwrap();
        assert_eq!(d.evidence.len(), 5, "{}", s.vendor);
        for e in d.evidence.values() {
            assert!(rubric.rule_ids().contains(&e.rule.as_str()), "{}", e.rule);
            assert!(!e.reason.contains("unknown"), "{}: {:?}", s.vendor, e);
        }
        assert_eq!(s.tier, d.severity.as_str());
    }

    // Badge access only: low; the baseline is cited where nothing else applies.
    let badge = by_name(&out, "Contoso Badge Systems");
    let d = badge.dread.as_ref().unwrap();
    assert_eq!(
        (d.damage, d.evidence["damage"].rule.as_str()),
        (4, "badge-access")
    );
    assert_eq!(d.evidence["exploitability"].rule, "baseline");
    assert_eq!(badge.tier, "low");
    assert_eq!(badge.exposed_services, 0);
    assert_eq!(badge.access, ["badge access"]);

    // Exposed services of a maker absent from the register are called out.
    let philips = by_name(&out, "Philips");
    assert!(!philips.in_register);
    assert_eq!(philips.exposed_services, 2);
    let d = philips.dread.as_ref().unwrap();
    assert_eq!(d.evidence["exploitability"].rule, "unregistered-exposure");
    assert!(d.evidence["exploitability"]
        .reason
        .starts_with("Philips is not in the register"));
    assert_eq!(philips.tier, "medium");
    assert!(philips.notes[0].starts_with("not in the vendor register"));
    // Services nobody can name are not a vendor.
    assert!(out.iter().all(|s| s.vendor != "unknown"));
    assert_eq!(out.len(), 4);

    // Highest risk first.
    let scores: Vec<f32> = out
        .iter()
        .map(|s| s.dread.as_ref().unwrap().score)
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
    assert_eq!(out[0].vendor, "Acme Imaging");
}

#[test]
fn reviews_are_judged_against_the_given_day() {
    let r = register(REGISTER);
    // Acme: assessed 2025-01-10, every 12 months: due 2026-01-10.
    let before = run(&r, &[], "2026-01-10");
    let acme = by_name(&before, "Acme Imaging");
    assert_eq!(acme.next_review.as_deref(), Some("2026-01-10"));
    assert!(!acme.review_overdue);
    assert!(!acme.notes.iter().any(|n| n.starts_with("review overdue")));

    let after = run(&r, &[], "2026-01-11");
    let acme = by_name(&after, "Acme Imaging");
    assert!(acme.review_overdue);
    assert!(
        acme.notes
            .iter()
            .any(|n| n == "review overdue since 2026-01-10 (every 12 months)"),
        "{:?}",
        acme.notes
    );
    // Contoso: every 2 years from 2025-11-01, not due yet on either day.
    assert!(!by_name(&after, "Contoso Badge Systems").review_overdue);
    assert_eq!(
        by_name(&after, "Contoso Badge Systems")
            .next_review
            .as_deref(),
        Some("2027-11-01")
    );

    // Never assessed: overdue whatever the day, no next date.
    let fab = by_name(&before, "Fabrikam Records");
    assert!(fab.review_overdue);
    assert_eq!(fab.next_review, None);
    let d = fab.dread.as_ref().unwrap();
    assert_eq!(d.evidence["exploitability"].rule, "review-overdue");
    assert!(d.evidence["exploitability"]
        .reason
        .contains("never assessed"));
    // The same vendor reviewed in time: the overdue rule no longer sets exploitability.
    let reviewed = register(&REGISTER.replace(
        "baa = \"signed\"\n",
        "baa = \"signed\"\nlast_assessment = \"2025-12-01\"\n",
    ));
    let out = run(&reviewed, &[], "2026-01-11");
    let fab = by_name(&out, "Fabrikam Records");
    assert!(!fab.review_overdue);
    assert_eq!(
        fab.dread.as_ref().unwrap().evidence["exploitability"].rule,
        "baseline"
    );
}

#[test]
fn every_rule_of_the_shipped_rubric_can_hold() {
    // Vendors whose facts, together, meet each rule's conditions: a rule that holds for none of
    // them names facts this stage never fills the way the rule expects.
    let r = register(&format!(
        "{REGISTER}\n[[vendor]]\nname = \"Northwind Devices\"\nshared_credentials = true\n\
         devices = [{{ model = \"X\" }}]\nnetwork_segments = [\"a\"]\ncontract = \"active\"\n\
         baa = \"signed\"\npatient_data = true\nlast_assessment = \"2025-12-01\"\n"
    ));
    let mut services = demo_services();
    services.push(rated(
        service("203.0.113.9", 104, Some("Northwind Devices"), None),
        Severity::High,
    ));
    let linker = Linker::new(&r).unwrap();
    let linked = linker.link(&services);
    let sbom = DeviceFindings {
        vulnerable_components: 2,
        kev_components: 1,
        max_cvss: Some(9.8),
        unsupported_components: 1,
        mds2_gaps: vec!["no encryption at rest".into()],
        notes: Vec::new(),
    };
    let none = DeviceFindings::default();
    let rubric = VendorRubric::builtin().unwrap();
    let today = date("2026-01-11");
    let mut held = std::collections::BTreeSet::new();
    for (i, (vendor, linked_services)) in r.vendors.iter().zip(&linked.registered).enumerate() {
        let input = VendorInput {
            vendor: Subject::Registered(vendor),
            services: linked_services,
            findings: if i == 3 { &sbom } else { &none },
        };
        held.extend(rubric.matching(&facts(&input, today)));
    }
    for u in linked.unregistered.values() {
        let input = VendorInput {
            vendor: Subject::Unregistered(&u.name),
            services: &u.services,
            findings: &none,
        };
        held.extend(rubric.matching(&facts(&input, today)));
    }
    for id in rubric.rule_ids() {
        assert!(held.contains(id), "rule {id} holds for no vendor: {held:?}");
    }
    // And the SBOM facts reach the reasons: the vulnerable-components rule cites the CVSS.
    let input = VendorInput {
        vendor: Subject::Registered(&r.vendors[3]),
        services: &[],
        findings: &sbom,
    };
    let d = rubric.score(&facts(&input, today));
    assert_eq!(
        d.evidence["exploitability"].rule,
        "known-exploited-components"
    );
    assert_eq!(
        d.evidence["exploitability"].reason,
        "1 device components have vulnerabilities known to be exploited (CISA KEV)"
    );
    assert!(rubric
        .matching(&facts(&input, today))
        .contains(&"vulnerable-components".to_string()));
}
