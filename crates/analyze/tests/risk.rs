//! The assessment stage: rubric rules, known vulnerabilities, honeypots, flags and DREAD, on
//! services built the way scans and imports build them (observation → classifier → record).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;

use medsurface_analyze::risk::{
    flags, service_facts, Assessor, FactType, Facts, HoneypotIndexBuilder, HoneypotRules,
    KnownVulns, RiskErrorKind, Rubric, Vocabulary, BUILTIN_HONEYPOTS, BUILTIN_RUBRIC,
    FINGERPRINT_KEYS,
};
use medsurface_analyze::Classifier;
use medsurface_model::{Details, Factor, Observation, Service, Severity, Source, Transport};
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// helpers

fn classifier() -> &'static Classifier {
    static C: std::sync::OnceLock<Classifier> = std::sync::OnceLock::new();
    C.get_or_init(|| Classifier::builtin().expect("builtin signatures"))
}

fn assessor() -> &'static Assessor {
    static A: std::sync::OnceLock<Assessor> = std::sync::OnceLock::new();
    A.get_or_init(|| Assessor::builtin().unwrap_or_else(|e| panic!("{e}")))
}

/// A service record as the pipeline makes it: observation → classification → record.
fn service(ip: &str, port: u16, protocol: &str, source: Source, details: Value) -> Service {
    let mut d = Details::new();
    for (k, v) in details.as_object().expect("object") {
        d.insert(k.clone(), v.clone());
    }
    let obs = Observation {
        ip: ip.parse().expect("ip"),
        port,
        transport: Transport::Tcp,
        hostname: None,
        protocol: Some(protocol.to_string()),
        probe: protocol.to_string(),
        source,
        seen_at: "2026-11-01T00:00:00Z".parse().unwrap(),
        details: d,
    };
    let mut s = Service::from_observation(&obs);
    if let Some(c) = classifier().classify(&obs) {
        s.apply_classification(&c);
    }
    s
}

/// What the DICOM probe reports for the open Orthanc peer (Debian build, DCMTK inside), as in
/// crates/scan/tests/dicom_peers.rs.
fn open_orthanc(ip: &str, source: Source) -> Service {
    service(
        ip,
        4242,
        "dicom",
        source,
        json!({
            "dicom.association": "accepted",
            "dicom.fingerprint": "dcmtk",
            "dicom.implementation_class_uid": "1.2.276.0.7230010.3.0.3.6.7",
            "dicom.implementation_version_name": "OFFIS_DCMTK_367",
            "dicom.vendor": "OFFIS",
            "dicom.product": "DCMTK",
            "dicom.version": "3.6.7",
            "dicom.accepts_any_ae": true,
            "dicom.accepts_any_calling_ae": true,
            "dicom.called_ae": "ANY-SCP",
            "dicom.calling_ae": "MEDSURFACE",
            "dicom.echo_status": "success",
            "dicom.query_without_auth": true,
            "dicom.query_status": "success",
            "dicom.max_pdu_length": 16384,
            "dicom.contexts": {"verification": "accepted", "study-root-find": "accepted", "patient-root-find": "accepted"},
            "dicom.tls": false,
        }),
    )
}

/// The strict Orthanc peer: rejects an unknown called AE title.
fn strict_orthanc(ip: &str) -> Service {
    service(
        ip,
        4242,
        "dicom",
        Source::Scan,
        json!({
            "dicom.association": "rejected",
            "dicom.reject_result": "rejected-permanent",
            "dicom.reject_source": "service-user",
            "dicom.reject_reason": "called-ae-title-not-recognized",
            "dicom.accepts_any_ae": false,
            "dicom.called_ae": "ANY-SCP",
            "dicom.calling_ae": "MEDSURFACE",
            "dicom.tls": false,
        }),
    )
}

fn mirth(ip: &str, version: Option<&str>, source: Source) -> Service {
    let mut s = service(
        ip,
        8443,
        "https",
        source,
        json!({"http.status": 200, "http.title": "Mirth Connect Administrator", "http.favicon_hash": 1502215759, "tls.version": "TLSv1.2"}),
    );
    assert_eq!(s.product.as_deref(), Some("Mirth Connect"), "classified");
    s.version = version.map(str::to_string);
    s
}

fn assess_one(mut s: Service) -> Service {
    let mut v = vec![s.clone()];
    assessor().assess(&mut v);
    s = v.pop().unwrap();
    s
}

fn evidence_rule(s: &Service, f: Factor) -> String {
    s.dread.as_ref().unwrap().evidence[f.as_str()].rule.clone()
}

fn facts(pairs: &[(&str, Value)]) -> Facts<'static> {
    let mut f = Facts::new();
    for (k, v) in pairs {
        f.insert(k.to_string(), v.clone());
    }
    f
}

// ---------------------------------------------------------------------------------------------
// rubric rules

/// For every rule of the shipped rubric: facts on which it fires, and a variation (one named
/// fact changed or removed) on which it does not. A rule without a case here fails the test.
#[test]
fn every_rule_fires_on_its_facts_and_not_otherwise() {
    let rubric = Rubric::builtin().unwrap();
    type Case = (
        &'static str,
        Vec<(&'static str, Value)>,
        Vec<(&'static str, Value)>,
    );
    let cases: Vec<Case> = vec![
        (
            "indexed-by-search-engine",
            vec![("service.source", json!("shodan"))],
            vec![("service.source", json!("scan"))],
        ),
        (
            "found-by-scan",
            vec![("service.source", json!("scan"))],
            vec![("service.source", json!("censys"))],
        ),
        (
            "dicom-open-query",
            vec![
                ("dicom.accepts_any_ae", json!(true)),
                ("dicom.query_without_auth", json!(true)),
            ],
            vec![
                ("dicom.accepts_any_ae", json!(true)),
                ("dicom.query_without_auth", json!(false)),
            ],
        ),
        (
            "dicom-query-without-auth",
            vec![("dicom.query_without_auth", json!(true))],
            vec![("dicom.query_without_auth", json!(false))],
        ),
        (
            "dicom-query-ignores-keys",
            vec![("dicom.query_ignores_keys", json!(true))],
            vec![("dicom.query_ignores_keys", json!(false))],
        ),
        (
            "dicom-echo-only",
            vec![
                ("dicom.association", json!("accepted")),
                ("dicom.query_without_auth", json!(false)),
            ],
            vec![
                ("dicom.association", json!("accepted")),
                ("dicom.query_without_auth", json!(true)),
            ],
        ),
        (
            "dicom-any-ae",
            vec![("dicom.accepts_any_ae", json!(true))],
            vec![("dicom.accepts_any_ae", json!(false))],
        ),
        (
            "dicom-known-ae-accepted",
            vec![("dicom.accepted_ae_title", json!("ORTHANC"))],
            vec![("dicom.association", json!("rejected"))],
        ),
        (
            "dicom-rejects-unknown-ae",
            vec![("dicom.association", json!("rejected"))],
            vec![("dicom.association", json!("accepted"))],
        ),
        (
            "dicom-without-tls",
            vec![
                ("service.protocol", json!("dicom")),
                ("service.tls", json!(false)),
            ],
            vec![
                ("service.protocol", json!("dicom")),
                ("service.tls", json!(true)),
            ],
        ),
        (
            "dicom-study-count-large",
            vec![("dicom.study_count", json!(25000))],
            vec![("dicom.study_count", json!(999))],
        ),
        (
            "dicomweb-open-query",
            vec![("dicomweb.query_without_auth", json!(true))],
            vec![("dicomweb.query_without_auth", json!(false))],
        ),
        (
            "imaging-web-login",
            vec![
                ("service.category", json!("imaging")),
                ("service.protocol", json!("https")),
                ("http.status", json!(401)),
            ],
            vec![
                ("service.category", json!("imaging")),
                ("service.protocol", json!("https")),
                ("http.status", json!(200)),
            ],
        ),
        (
            "imaging-web-open",
            vec![
                ("service.category", json!("imaging")),
                ("service.protocol", json!("http")),
                ("http.status", json!(200)),
                ("http.title", json!("Orthanc Explorer")),
            ],
            vec![
                ("service.category", json!("imaging")),
                ("service.protocol", json!("http")),
                ("http.status", json!(200)),
                ("http.title", json!("PACS Login")),
            ],
        ),
        (
            "fhir-no-security-declared",
            vec![("fhir.security_declared", json!("none"))],
            vec![("fhir.security_declared", json!("SMART-on-FHIR"))],
        ),
        (
            "fhir-anonymous-search",
            vec![("fhir.search_without_auth", json!(true))],
            vec![("fhir.search_without_auth", json!(false))],
        ),
        (
            "fhir-record-count-large",
            vec![("fhir.record_count", json!(1000))],
            vec![("fhir.record_count", json!(10))],
        ),
        (
            "hl7-accepts-messages",
            vec![
                ("hl7.speaks_mllp", json!(true)),
                ("hl7.ack_code", json!("AA")),
            ],
            vec![
                ("hl7.speaks_mllp", json!(true)),
                ("hl7.ack_code", json!("AR")),
            ],
        ),
        (
            "hl7-rejects-messages",
            vec![
                ("hl7.speaks_mllp", json!(true)),
                ("hl7.ack_code", json!("AR")),
            ],
            vec![
                ("hl7.speaks_mllp", json!(true)),
                ("hl7.ack_code", json!("AA")),
            ],
        ),
        (
            "hl7-without-tls",
            vec![
                ("service.protocol", json!("hl7")),
                ("service.tls", json!(false)),
            ],
            vec![
                ("service.protocol", json!("hl7")),
                ("service.tls", json!(true)),
            ],
        ),
        (
            "database-without-auth",
            vec![("db.auth_required", json!(false))],
            vec![("db.auth_required", json!(true))],
        ),
        (
            "database-exposed",
            vec![("service.category", json!("database"))],
            vec![("service.category", json!("imaging"))],
        ),
        (
            "category-medical-device",
            vec![("service.category", json!("medical-device"))],
            vec![("service.category", json!("other"))],
        ),
        (
            "category-emr",
            vec![("service.category", json!("emr"))],
            vec![("service.category", json!("pharmacy"))],
        ),
        (
            "category-pharmacy",
            vec![("service.category", json!("pharmacy"))],
            vec![("service.category", json!("emr"))],
        ),
        (
            "category-scheduling",
            vec![("service.category", json!("scheduling"))],
            vec![("service.category", json!("emr"))],
        ),
        (
            "category-imaging",
            vec![("service.category", json!("imaging"))],
            vec![("service.category", json!("interface"))],
        ),
        (
            "category-interface",
            vec![("service.category", json!("interface"))],
            vec![("service.category", json!("imaging"))],
        ),
        (
            "admin-console",
            vec![("service.category", json!("admin-console"))],
            vec![("service.category", json!("emr"))],
        ),
        (
            "default-credentials-page",
            vec![(
                "service.flags",
                json!(["default-credentials-page", "tls-missing"]),
            )],
            vec![("service.flags", json!(["tls-missing"]))],
        ),
        (
            "certificate-expired-or-self-signed",
            vec![("tls.cert_self_signed", json!(true))],
            vec![("tls.cert_self_signed", json!(false))],
        ),
        (
            "legacy-tls",
            vec![("service.flags", json!(["legacy-tls"]))],
            vec![("service.flags", json!([]))],
        ),
        (
            "known-exploited-vulnerability",
            vec![("service.kev_count", json!(1))],
            vec![("service.kev_count", json!(0))],
        ),
        (
            "critical-cvss",
            vec![("service.max_cvss", json!(9.8))],
            vec![("service.max_cvss", json!(8.9))],
        ),
        (
            "high-cvss",
            vec![("service.max_cvss", json!(7.0))],
            vec![("service.max_cvss", json!(6.9))],
        ),
    ];
    let covered: BTreeSet<&str> = cases.iter().map(|(id, _, _)| *id).collect();
    for rule in &rubric.rules {
        if rule.is_baseline() {
            assert!(
                rule.matches(&Facts::new()),
                "baseline {} holds on no facts",
                rule.id
            );
            continue;
        }
        assert!(
            covered.contains(rule.id.as_str()),
            "rule {} has no test case",
            rule.id
        );
        assert!(
            !rule.matches(&Facts::new()),
            "rule {} fires on no facts",
            rule.id
        );
    }
    for (id, yes, no) in &cases {
        let rule = rubric.rule(id).unwrap_or_else(|| panic!("no rule {id}"));
        assert!(rule.matches(&facts(yes)), "{id} must fire on {yes:?}");
        assert!(!rule.matches(&facts(no)), "{id} must not fire on {no:?}");
        // The facts a case sets are facts the rule names (so the case tests the rule's own facts).
        let named = rule.fact_keys();
        for (k, _) in yes {
            assert!(
                named.contains(k),
                "{id}: case sets {k}, which the rule does not name ({named:?})"
            );
        }
    }
}

#[test]
fn score_is_the_mean_and_bands_follow_the_documented_cut_offs() {
    use medsurface_analyze::risk::{score_of, severity_of};
    assert_eq!(score_of([9, 9, 9, 8, 9]), 8.8);
    assert_eq!(score_of([1, 2, 3, 4, 5]), 3.0);
    assert_eq!(score_of([10; 5]), 10.0);
    assert_eq!(severity_of(8.0), Severity::Critical);
    assert_eq!(severity_of(7.9), Severity::High);
    assert_eq!(severity_of(6.5), Severity::High);
    assert_eq!(severity_of(6.4), Severity::Medium);
    assert_eq!(severity_of(4.0), Severity::Medium);
    assert_eq!(severity_of(3.9), Severity::Low);
}

// ---------------------------------------------------------------------------------------------
// DREAD on real-shaped services

#[test]
fn open_orthanc_like_dicom_scores_higher_than_a_strict_one() {
    let open = assess_one(open_orthanc("198.51.100.10", Source::Scan));
    let strict = assess_one(strict_orthanc("198.51.100.11"));
    let (o, s) = (open.dread.clone().unwrap(), strict.dread.clone().unwrap());
    assert!(o.score > s.score, "open {} vs strict {}", o.score, s.score);
    // The values risk/README.md quotes.
    let f = |d: &medsurface_model::Dread| Factor::ALL.map(|f| d.get(f));
    assert_eq!(
        (f(&o), o.score, o.severity),
        ([9, 9, 9, 8, 6], 8.2, Severity::Critical)
    );
    assert_eq!(
        (f(&s), s.score, s.severity),
        ([6, 4, 5, 6, 6], 5.4, Severity::Medium)
    );
    assert!(o.severity >= Severity::High, "{o:?}");
    assert!(s.severity < o.severity, "{s:?}");
    assert_eq!(evidence_rule(&open, Factor::Damage), "dicom-open-query");
    assert_eq!(
        evidence_rule(&open, Factor::Discoverability),
        "found-by-scan"
    );
    assert_eq!(
        evidence_rule(&strict, Factor::Exploitability),
        "dicom-without-tls"
    );
    assert!(
        open.flags.contains(&flags::QUERY_WITHOUT_AUTH.to_string()),
        "{:?}",
        open.flags
    );
    assert!(open.flags.contains(&flags::ANY_AE_ACCEPTED.to_string()));
    assert!(open.flags.contains(&flags::TLS_MISSING.to_string()));
    assert!(!strict
        .flags
        .contains(&flags::QUERY_WITHOUT_AUTH.to_string()));
    // DCMTK 3.6.7 is inside known ranges: vulnerabilities are attached with our source.
    assert!(open
        .vulnerabilities
        .iter()
        .any(|v| v.id == "CVE-2024-28130" && v.source == "medsurface"));
    // The same server seen by Shodan is more discoverable.
    let indexed = assess_one(open_orthanc("198.51.100.10", Source::Shodan));
    assert_eq!(indexed.dread.as_ref().unwrap().discoverability, 9);
    assert!(indexed.dread.as_ref().unwrap().score > o.score);
}

#[test]
fn a_known_exploited_vulnerability_raises_exploitability() {
    let fixed = assess_one(mirth("203.0.113.5", Some("4.4.1"), Source::Scan));
    let vulnerable = assess_one(mirth("203.0.113.6", Some("4.3.0"), Source::Scan));
    assert!(
        fixed.vulnerabilities.is_empty(),
        "{:?}",
        fixed.vulnerabilities
    );
    let kev = vulnerable
        .vulnerabilities
        .iter()
        .find(|v| v.id == "CVE-2023-43208")
        .expect("CVE-2023-43208 attached");
    assert!(kev.known_exploited);
    assert_eq!(kev.source, "medsurface");
    let (f, v) = (fixed.dread.unwrap(), vulnerable.dread.unwrap());
    assert_eq!(v.exploitability, 10);
    assert!(f.exploitability < v.exploitability);
    assert_eq!(
        v.evidence["exploitability"].rule,
        "known-exploited-vulnerability"
    );
    assert!(v.score > f.score);
    assert!(vulnerable
        .flags
        .contains(&flags::KNOWN_EXPLOITED.to_string()));
    // A Mirth administrator login page is a default-credentials page.
    assert!(
        fixed
            .flags
            .contains(&flags::DEFAULT_CREDENTIALS_PAGE.to_string()),
        "{:?}",
        fixed.flags
    );
}

#[test]
fn unknown_version_claims_nothing_and_says_so() {
    let s = assess_one(mirth("203.0.113.7", None, Source::Shodan));
    assert!(s.vulnerabilities.is_empty());
    assert!(s
        .flags
        .contains(&flags::VERSION_UNKNOWN_VULNS_POSSIBLE.to_string()));
    // An unreadable version is treated alike.
    let s = assess_one(mirth("203.0.113.8", Some("latest"), Source::Shodan));
    assert!(s.vulnerabilities.is_empty());
    assert!(s
        .flags
        .contains(&flags::VERSION_UNKNOWN_VULNS_POSSIBLE.to_string()));
}

#[test]
fn shodan_vulns_are_kept_merged_by_id_and_assessment_is_idempotent() {
    let mut s = mirth("203.0.113.9", Some("4.3.0"), Source::Shodan);
    s.details.insert(
        "shodan.vulns".into(),
        json!(["CVE-2023-43208", "CVE-2021-44228"]),
    );
    // Shodan's own links, as Service::from_observation makes them.
    let obs_like = Service::from_observation(&Observation {
        ip: s.ip,
        port: s.port,
        transport: s.transport,
        hostname: None,
        protocol: s.protocol.clone(),
        probe: "shodan".into(),
        source: Source::Shodan,
        seen_at: s.seen_at,
        details: s.details.clone(),
    });
    s.vulnerabilities = obs_like.vulnerabilities;
    assert_eq!(s.vulnerabilities.len(), 2);
    let mut set = vec![s];
    assessor().assess(&mut set);
    let once = set.clone();
    assessor().assess(&mut set);
    assert_eq!(set, once, "a second assessment changes nothing");
    let v = &set[0].vulnerabilities;
    let ids: Vec<&str> = v.iter().map(|v| v.id.as_str()).collect();
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "sorted, unique: {ids:?}"
    );
    let both = v.iter().find(|v| v.id == "CVE-2023-43208").unwrap();
    assert_eq!(both.source, "medsurface,shodan");
    assert!(both.known_exploited && both.cvss == Some(9.8));
    let shodan_only = v.iter().find(|v| v.id == "CVE-2021-44228").unwrap();
    assert_eq!(shodan_only.source, "shodan");
    assert_eq!(v.len(), ids.len());
}

#[test]
fn evidence_for_every_factor_cites_a_rule_of_the_rubric() {
    let rubric = Rubric::builtin().unwrap();
    let ids: BTreeSet<&str> = rubric.rules.iter().map(|r| r.id.as_str()).collect();
    let mut set = vec![
        open_orthanc("198.51.100.20", Source::Shodan),
        strict_orthanc("198.51.100.21"),
        mirth("198.51.100.22", Some("4.3.0"), Source::Censys),
        service(
            "198.51.100.23",
            6379,
            "redis",
            Source::Scan,
            json!({"db.product": "Redis", "db.auth_required": false, "db.version": "7.2.4"}),
        ),
        service(
            "198.51.100.24",
            2575,
            "hl7",
            Source::Scan,
            json!({"hl7.speaks_mllp": true, "hl7.ack_code": "AA", "hl7.sending_application": "LAB"}),
        ),
        service("198.51.100.25", 9, "tcp", Source::Masscan, json!({})),
    ];
    assessor().assess(&mut set);
    for s in &set {
        let d = s.dread.as_ref().expect("rated");
        for f in Factor::ALL {
            let e = d
                .evidence
                .get(f.as_str())
                .unwrap_or_else(|| panic!("{}:{} has no {f} evidence", s.ip, s.port));
            assert!(ids.contains(e.rule.as_str()), "{} is not a rule", e.rule);
            assert!(!e.reason.trim().is_empty());
            // The rule cited sets this factor to the value shown.
            let rule = rubric.rule(&e.rule).unwrap();
            assert!(
                rule.set.contains(&(f, d.get(f))),
                "{}: {f}={} not set by {}",
                s.port,
                d.get(f),
                e.rule
            );
        }
    }
    assert_eq!(
        set[3].dread.as_ref().unwrap().evidence["damage"].rule,
        "database-without-auth"
    );
    assert_eq!(
        set[4].dread.as_ref().unwrap().evidence["damage"].rule,
        "hl7-accepts-messages"
    );
    assert_eq!(
        set[5].dread.as_ref().unwrap().evidence["damage"].rule,
        "baseline"
    );
}

#[test]
fn peer_text_in_reasons_is_bounded_and_printable() {
    let title = format!("\u{1b}[31mPACS\u{7}{}\nLogin", "A".repeat(500));
    let s = assess_one(service(
        "192.0.2.44",
        443,
        "https",
        Source::Scan,
        json!({"http.status": 401, "http.title": title, "http.realm": "Orthanc Secure Area"}),
    ));
    for e in s.dread.as_ref().unwrap().evidence.values() {
        assert!(
            !e.reason.chars().any(|c| c.is_control()),
            "control char in {:?}",
            e.reason
        );
        assert!(e.reason.len() < 600, "{} bytes", e.reason.len());
    }
}

#[test]
fn medical_device_damage_reaches_patient_safety() {
    let mut s = service(
        "192.0.2.60",
        80,
        "http",
        Source::Shodan,
        json!({"http.status": 200, "http.title": "device"}),
    );
    s.category = Some("medical-device".into());
    s.product = Some("ZOLL device".into());
    let s = assess_one(s);
    assert_eq!(s.dread.as_ref().unwrap().damage, 10);
    assert_eq!(evidence_rule(&s, Factor::Damage), "category-medical-device");
}

// ---------------------------------------------------------------------------------------------
// user rubrics and other vocabularies

const MINI: &str = r#"
[[rule]]
id = "mine"
description = "Everything is a one."
set = { damage = 1, reproducibility = 1, exploitability = 1, affected_users = 1, discoverability = 1 }
reason = "my baseline for port {service.port}"

[[rule]]
id = "mine-dicom"
description = "DICOM is a five."
when = [{ fact = "service.protocol", equals = "dicom" }]
set = { damage = 5 }
reason = "DICOM on {service.port}"
"#;

#[test]
fn a_user_rubric_replaces_the_builtin_one() {
    let dir = std::env::temp_dir().join(format!("medsurface-risk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("my-dread.toml");
    std::fs::write(&path, MINI).unwrap();
    let rubric = Rubric::load(&path, &Vocabulary::service()).unwrap();
    let a = Assessor::new(
        rubric,
        KnownVulns::builtin().unwrap(),
        HoneypotRules::builtin().unwrap(),
    );
    let mut set = vec![open_orthanc("198.51.100.30", Source::Shodan)];
    a.assess(&mut set);
    let d = set[0].dread.as_ref().unwrap();
    assert_eq!((d.damage, d.exploitability, d.discoverability), (5, 1, 1));
    assert_eq!(d.score, 1.8);
    assert_eq!(d.severity, Severity::Low);
    assert_eq!(d.evidence["damage"].rule, "mine-dicom");
    assert_eq!(d.evidence["damage"].reason, "DICOM on 4242");
    assert!(d.evidence.values().all(|e| e.rule.starts_with("mine")));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn the_engine_scores_other_facts_with_their_own_vocabulary() {
    let vocab = Vocabulary::new()
        .with("vendor.remote_access", FactType::Bool)
        .with("vendor.patient_data", FactType::Bool)
        .with("vendor.name", FactType::Str)
        .with("vendor.breaches", FactType::Int);
    let text = r#"
[[rule]]
id = "vendor-baseline"
description = "Any vendor."
set = { damage = 2, reproducibility = 2, exploitability = 2, affected_users = 2, discoverability = 2 }
reason = "{vendor.name} is a supplier"

[[rule]]
id = "vendor-remote-access-to-patient-data"
description = "Remote access to systems holding patient data."
when = [{ fact = "vendor.remote_access", equals = true }, { fact = "vendor.patient_data", equals = true }]
set = { damage = 9, exploitability = 6 }
reason = "{vendor.name} holds remote access to patient data"
"#;
    let rubric = Rubric::parse("vendors.toml", text, &vocab).unwrap();
    let f = facts(&[
        ("vendor.name", json!("Acme Imaging")),
        ("vendor.remote_access", json!(true)),
        ("vendor.patient_data", json!(true)),
    ]);
    let d = rubric.score(&f);
    assert_eq!(d.damage, 9);
    assert_eq!(
        d.evidence["damage"].reason,
        "Acme Imaging holds remote access to patient data"
    );
    // Service facts are not in that vocabulary, and vendor facts are not in the service one.
    let e = Rubric::parse(
        "vendors.toml",
        &text.replace("vendor.patient_data", "dicom.tls"),
        &vocab,
    )
    .unwrap_err();
    assert_eq!(e.kind, RiskErrorKind::UnknownFact("dicom.tls".into()));
    assert_eq!(e.line, 11);
    let e = Rubric::parse("vendors.toml", text, &Vocabulary::service()).unwrap_err();
    assert!(matches!(e.kind, RiskErrorKind::UnknownFact(_)), "{e}");
}

// ---------------------------------------------------------------------------------------------
// strict loading

fn rubric_err(text: &str) -> medsurface_analyze::risk::RiskError {
    Rubric::parse("my/dread.toml", text, &Vocabulary::service()).expect_err("must be rejected")
}

#[test]
fn malformed_rubrics_are_errors_with_file_and_line() {
    // Line numbers refer to MINI, whose line 1 is empty.
    let e = rubric_err(&MINI.replace(
        "description = \"DICOM is a five.\"",
        "description = \"DICOM is a five.\"\nweight = 3",
    ));
    assert!(matches!(e.kind, RiskErrorKind::Syntax(_)), "{e}");
    assert_eq!(e.line, 11, "{e}");
    assert!(e.to_string().starts_with("my/dread.toml:11: "), "{e}");

    let e = rubric_err(&MINI.replace("set = { damage = 5 }", "set = { damge = 5 }"));
    assert_eq!(e.kind, RiskErrorKind::UnknownFactor("damge".into()));
    assert_eq!(e.line, 12);

    let e = rubric_err(&MINI.replace("set = { damage = 5 }", "set = { damage = 11 }"));
    assert!(matches!(e.kind, RiskErrorKind::OutOfRange(_)), "{e}");
    assert_eq!(e.line, 12);

    let e = rubric_err(&MINI.replace("id = \"mine-dicom\"", "id = \"mine\""));
    assert_eq!(
        e.kind,
        RiskErrorKind::DuplicateId {
            id: "mine".into(),
            first_line: 3
        }
    );
    assert_eq!(e.line, 9);

    let e = rubric_err(&MINI.replace("fact = \"service.protocol\"", "fact = \"service.protocl\""));
    assert_eq!(e.kind, RiskErrorKind::UnknownFact("service.protocl".into()));
    assert_eq!(e.line, 11);

    let e = rubric_err(&MINI.replace("equals = \"dicom\"", "gt = 3"));
    assert!(matches!(e.kind, RiskErrorKind::BadCondition(_)), "{e}");
    assert_eq!(e.line, 11);

    let e = rubric_err(&MINI.replace("equals = \"dicom\"", "equals = \"dicom\", exists = true"));
    assert!(matches!(e.kind, RiskErrorKind::BadCondition(_)), "{e}");

    let e = rubric_err(&MINI.replace(
        "reason = \"DICOM on {service.port}\"",
        "reason = \"DICOM on {service.prot\"",
    ));
    assert!(matches!(e.kind, RiskErrorKind::BadTemplate(_)), "{e}");
    assert_eq!(e.line, 13);

    let e = rubric_err(&MINI.replace(
        "reason = \"DICOM on {service.port}\"",
        "reason = \"DICOM on {dicom.port}\"",
    ));
    assert_eq!(e.kind, RiskErrorKind::UnknownFact("dicom.port".into()));

    let e = rubric_err(&MINI.replace("discoverability = 1 }", "}"));
    assert!(
        matches!(e.kind, RiskErrorKind::Missing(ref m) if m.contains("discoverability")),
        "{e}"
    );
    assert_eq!(e.line, 0);

    let e = rubric_err("[[rule]\nid = 1");
    assert!(matches!(e.kind, RiskErrorKind::Syntax(_)), "{e}");
    assert_eq!(e.line, 1);

    let e = Rubric::load(
        std::path::Path::new("/nonexistent/dread.toml"),
        &Vocabulary::service(),
    )
    .unwrap_err();
    assert!(matches!(e.kind, RiskErrorKind::Read(_)));
    assert_eq!(e.file, "/nonexistent/dread.toml");
}

const ONE_VULN: &str = r#"
[[vuln]]
id = "CVE-2023-43208"
vendor = "NextGen Healthcare"
product = "Mirth Connect"
affected = [{ introduced = "0", fixed = "4.4.1" }]
cvss = 9.8
known_exploited = true
summary = "One line."
reference = "https://nvd.nist.gov/vuln/detail/CVE-2023-43208"
source = "https://example.org/source"
"#;

#[test]
fn malformed_vulnerability_files_are_errors_with_file_and_line() {
    assert_eq!(KnownVulns::parse("v.toml", ONE_VULN).unwrap().len(), 1);
    let err = |t: String| KnownVulns::parse("v.toml", &t).expect_err("must be rejected");

    let e = err(ONE_VULN.replace("CVE-2023-43208\"\nvendor", "CVE-23-1\"\nvendor"));
    assert!(matches!(e.kind, RiskErrorKind::Syntax(_)), "{e}");
    assert_eq!(e.line, 3);
    let e = err(ONE_VULN.replace("cvss = 9.8", "cvss = 11.0"));
    assert!(matches!(e.kind, RiskErrorKind::OutOfRange(_)), "{e}");
    assert_eq!(e.line, 7);
    let e = err(ONE_VULN.replace("fixed = \"4.4.1\"", "fixed = \"next/2\""));
    assert!(matches!(e.kind, RiskErrorKind::BadRange(_)), "{e}");
    assert_eq!(e.line, 6);
    let e = err(ONE_VULN.replace("cvss = 9.8", "cvss = 9.8\nepss = 0.5"));
    assert!(matches!(e.kind, RiskErrorKind::Syntax(_)), "{e}");
    assert_eq!(e.line, 8);
    let e = err(format!("{ONE_VULN}{ONE_VULN}"));
    assert!(
        matches!(e.kind, RiskErrorKind::DuplicateId { first_line: 3, .. }),
        "{e}"
    );
    assert_eq!(e.line, 14);
    let e = err(ONE_VULN.replace("reference = \"https://", "reference = \"ftp://"));
    assert!(matches!(e.kind, RiskErrorKind::Missing(_)), "{e}");
    assert_eq!(e.line, 10);
    let e = err(ONE_VULN.replace("summary = \"One line.\"", "summary = \"\""));
    assert_eq!(e.line, 9);
}

const HONEY: &str = r#"
[heuristics]
threshold = 0.5
cluster_min_addresses = 10
cluster_min_networks = 5
cluster_likelihood = 0.35
cluster_large_factor = 5
cluster_large_likelihood = 0.6
host_min_medical_ports = 8
host_likelihood = 0.5

[[identity]]
id = "tagged"
name = "tagged"
likelihood = 0.9
reason = "tagged"
source = "https://example.org/"
when = [{ fact = "shodan.tags", contains = "honeypot" }]
"#;

#[test]
fn malformed_honeypot_files_are_errors_with_file_and_line() {
    let ok = HoneypotRules::parse("h.toml", HONEY, &Vocabulary::service()).unwrap();
    assert_eq!(ok.identities.len(), 1);
    let err = |t: String| {
        HoneypotRules::parse("h.toml", &t, &Vocabulary::service()).expect_err("must be rejected")
    };
    let e = err(HONEY.replace("likelihood = 0.9", "likelihood = 1.5"));
    assert!(matches!(e.kind, RiskErrorKind::OutOfRange(_)), "{e}");
    assert_eq!(e.line, 15);
    let e = err(HONEY.replace("shodan.tags", "shodan.tag"));
    assert_eq!(e.kind, RiskErrorKind::UnknownFact("shodan.tag".into()));
    assert_eq!(e.line, 18);
    let e = err(HONEY.replace(
        "when = [{ fact = \"shodan.tags\", contains = \"honeypot\" }]",
        "when = []",
    ));
    assert!(matches!(e.kind, RiskErrorKind::Missing(_)), "{e}");
    assert_eq!(e.line, 18);
    let e = err(HONEY.replace(
        "host_likelihood = 0.5",
        "host_likelihood = 0.5\nhost_weight = 2",
    ));
    assert!(matches!(e.kind, RiskErrorKind::Syntax(_)), "{e}");
    let e = err(HONEY.replace("threshold = 0.5", "threshold = 2.0"));
    assert!(matches!(e.kind, RiskErrorKind::OutOfRange(_)), "{e}");
    assert_eq!(e.line, 2);
    let e = err(format!(
        "{HONEY}{}",
        &HONEY[HONEY.find("[[identity]]").unwrap()..]
    ));
    assert!(
        matches!(e.kind, RiskErrorKind::DuplicateId { first_line: 13, .. }),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------------
// knowledge files against the signatures

#[test]
fn every_vulnerability_names_a_product_the_signatures_know() {
    let known: BTreeSet<(String, String)> = classifier()
        .signatures()
        .iter()
        .map(|s| (s.vendor.clone(), s.product.clone()))
        .collect();
    let vulns = KnownVulns::builtin().unwrap();
    assert!(vulns.len() >= 40, "{} entries", vulns.len());
    for a in vulns.advisories() {
        assert!(
            known.contains(&(a.vendor.clone(), a.product.clone())),
            "{} ({}): {} / {} is not a signature's vendor/product",
            a.vuln.id,
            a.origin,
            a.vendor,
            a.product
        );
        assert!(a.vuln.summary.is_some() && a.vuln.reference.is_some());
    }
    for d in vulns.default_credentials() {
        assert!(
            known.contains(&(d.vendor.clone(), d.product.clone())),
            "{} / {}",
            d.vendor,
            d.product
        );
    }
    // Products the issue names are covered.
    for p in [
        "Orthanc",
        "DCMTK",
        "Mirth Connect",
        "OpenEMR",
        "Sante PACS Server",
    ] {
        assert!(vulns.advisories().iter().any(|a| a.product == p), "{p}");
    }
}

#[test]
fn version_ranges_follow_osv_semantics() {
    let vulns = KnownVulns::builtin().unwrap();
    let a = vulns.by_id("CVE-2023-43208").unwrap();
    assert_eq!(a.affects("4.4.0"), Some(true));
    assert_eq!(a.affects("4.4.1"), Some(false));
    assert_eq!(a.affects("3.12.0"), Some(true));
    assert_eq!(a.affects("latest"), None);
    let dcmtk = vulns.by_id("CVE-2024-27628").unwrap();
    assert_eq!(dcmtk.affects("3.6.8"), Some(true));
    assert_eq!(dcmtk.affects("3.6.7"), Some(false));
}

// ---------------------------------------------------------------------------------------------
// honeypots

fn dicom_answer(ip: Ipv4Addr) -> Service {
    service(
        &ip.to_string(),
        11112,
        "dicom",
        Source::Shodan,
        json!({
            "dicom.association": "accepted",
            "dicom.implementation_class_uid": "1.2.826.0.1.3680043.9.3811.2.1.0",
            "dicom.implementation_version_name": "PYNETDICOM_210",
            "dicom.accepts_any_ae": true,
            "dicom.echo_status": "success",
            "dicom.max_pdu_length": 16382,
        }),
    )
}

#[test]
fn identical_answers_across_many_networks_are_a_honeypot_cluster() {
    // 50 identical answers, each in its own /16 (10.x.0.7 style addresses from 198.18.0.0/15 and
    // documentation space are too few; private test space is fine for a synthetic set).
    let mut set: Vec<Service> = (0..50u8)
        .map(|i| dicom_answer(Ipv4Addr::new(10, i, 3, 7)))
        .collect();
    // 3 identical answers inside one /24 (a hospital with three identical modalities).
    set.extend((1..=3u8).map(|i| {
        let mut s = dicom_answer(Ipv4Addr::new(192, 0, 2, i));
        s.details
            .insert("dicom.max_pdu_length".into(), json!(32768));
        s
    }));
    assessor().assess(&mut set);
    for s in &set[..50] {
        let h = s.honeypot.as_ref().expect("cluster sign");
        assert!(h.likelihood >= 0.5, "{h:?}");
        assert!(
            h.reasons
                .iter()
                .any(|r| r.contains("49 other addresses in 50 networks")),
            "{h:?}"
        );
        assert!(s.flags.contains(&flags::LIKELY_HONEYPOT.to_string()));
    }
    for s in &set[50..] {
        assert!(s.honeypot.is_none(), "{:?}", s.honeypot);
        assert!(!s.flags.contains(&flags::LIKELY_HONEYPOT.to_string()));
    }
}

#[test]
fn a_cluster_at_the_minimum_size_is_a_sign_but_not_a_flag() {
    let mut set: Vec<Service> = (0..12u8)
        .map(|i| dicom_answer(Ipv4Addr::new(10, i, 0, 1)))
        .collect();
    assessor().assess(&mut set);
    let h = set[0].honeypot.as_ref().expect("sign");
    assert_eq!(h.likelihood, 0.35);
    assert!(!set[0].flags.contains(&flags::LIKELY_HONEYPOT.to_string()));
    // The same 12 in two /16s do not form a cluster at all.
    let mut set: Vec<Service> = (0..12u8)
        .map(|i| dicom_answer(Ipv4Addr::new(10, i % 2, 0, i)))
        .collect();
    assessor().assess(&mut set);
    assert!(set.iter().all(|s| s.honeypot.is_none()));
}

#[test]
fn bare_port_records_never_cluster() {
    let mut set: Vec<Service> = (0..60u8)
        .map(|i| {
            service(
                &format!("10.{i}.0.1"),
                104,
                "tcp",
                Source::Masscan,
                json!({}),
            )
        })
        .collect();
    assessor().assess(&mut set);
    assert!(set.iter().all(|s| s.honeypot.is_none()));
}

#[test]
fn known_honeypot_identities_are_recognised() {
    // dicompot: accepted, a 4 MiB maximum length, no implementation identification.
    let dicompot = service(
        "192.0.2.80",
        11112,
        "dicom",
        Source::Scan,
        json!({"dicom.association": "accepted", "dicom.max_pdu_length": 4194304, "dicom.accepts_any_ae": true, "dicom.echo_status": "success"}),
    );
    // DICOMHawk defaults.
    let hawk = service(
        "192.0.2.81",
        104,
        "dicom",
        Source::Scan,
        json!({"dicom.association": "accepted", "dicom.implementation_version_name": "ORTHANC", "dicom.implementation_class_uid": "1.2.826.0.1.3680043.9.3811.2.0.1"}),
    );
    // Shodan's own tag.
    let tagged = service(
        "192.0.2.82",
        104,
        "dicom",
        Source::Shodan,
        json!({"shodan.tags": ["medical", "honeypot"], "dicom.association": "accepted"}),
    );
    // A real DCMTK peer with a version name: not a honeypot.
    let real = open_orthanc("192.0.2.83", Source::Scan);
    let mut set = vec![dicompot, hawk, tagged, real];
    assessor().assess(&mut set);
    for (s, id) in set.iter().zip([
        "dicompot-default",
        "dicomhawk-default",
        "shodan-honeypot-tag",
    ]) {
        let h = s
            .honeypot
            .as_ref()
            .unwrap_or_else(|| panic!("{id}: no verdict"));
        assert!(h.reasons.iter().any(|r| r.contains(id)), "{h:?}");
        assert!(
            s.flags.contains(&flags::LIKELY_HONEYPOT.to_string()),
            "{id}"
        );
    }
    assert!(set[3].honeypot.is_none());
    // The likelihood reaches the rubric's facts.
    let f = service_facts(&set[0]);
    assert_eq!(f.get("service.honeypot_likelihood"), Some(json!(0.8)));
}

#[test]
fn a_host_answering_on_implausibly_many_medical_ports_is_flagged() {
    let ports = [104u16, 2575, 4242, 8042, 11112, 2761, 2762, 8080];
    let mut set: Vec<Service> = ports
        .iter()
        .map(|p| {
            service(
                "192.0.2.90",
                *p,
                "dicom",
                Source::Scan,
                json!({"dicom.association": "accepted"}),
            )
        })
        .collect();
    // Another host with three: a normal PACS.
    set.extend([104u16, 4242, 8042].iter().map(|p| {
        service(
            "192.0.2.91",
            *p,
            "dicom",
            Source::Scan,
            json!({"dicom.association": "rejected"}),
        )
    }));
    assessor().assess(&mut set);
    for s in &set[..8] {
        let h = s.honeypot.as_ref().expect("verdict");
        assert!(
            h.reasons.iter().any(|r| r.contains("8 medical ports")),
            "{h:?}"
        );
        assert!(s.flags.contains(&flags::LIKELY_HONEYPOT.to_string()));
    }
    assert!(set[8..].iter().all(|s| s.honeypot.is_none()));
}

// ---------------------------------------------------------------------------------------------
// scale

#[test]
fn a_100k_service_set_assesses_quickly() {
    let mut set = Vec::with_capacity(100_000);
    let templates = [
        open_orthanc("192.0.2.1", Source::Shodan),
        strict_orthanc("192.0.2.2"),
        mirth("192.0.2.3", Some("4.3.0"), Source::Shodan),
        service(
            "192.0.2.4",
            5432,
            "postgresql",
            Source::Censys,
            json!({"db.product": "PostgreSQL", "db.auth_required": true}),
        ),
        service(
            "192.0.2.5",
            443,
            "https",
            Source::Shodan,
            json!({"http.status": 200, "http.title": "Orthanc Explorer"}),
        ),
    ];
    for i in 0..100_000u32 {
        let mut s = templates[(i % 5) as usize].clone();
        // Spread over 2001:db8::/32 (documentation space): synthetic records, no traffic.
        s.ip = IpAddr::V6(Ipv6Addr::from(
            (0x2001_0db8_u128 << 96) | (u128::from(i) * 7),
        ));
        set.push(s);
    }
    let start = Instant::now();
    assessor().assess(&mut set);
    let took = start.elapsed();
    eprintln!(
        "assessed {} services in {:?} (debug build)",
        set.len(),
        took
    );
    assert!(set.iter().all(|s| s.dread.is_some()));
    // The builtin rubric text is the one compiled in.
    assert!(BUILTIN_RUBRIC.contains("[[rule]]"));
}

// ---------------------------------------------------------------------------------------------
// chunked assessment

/// The shipped honeypot file with thresholds small enough for a set in documentation address
/// space (three IPv4 /16s): clusters of 4 addresses over 2 networks, large from 8, and 4
/// medical ports on one address.
fn small_set_assessor() -> Assessor {
    let text = BUILTIN_HONEYPOTS
        .replace("cluster_min_addresses = 10", "cluster_min_addresses = 4")
        .replace("cluster_min_networks = 5", "cluster_min_networks = 2")
        .replace("cluster_large_factor = 5", "cluster_large_factor = 2")
        .replace("host_min_medical_ports = 8", "host_min_medical_ports = 4");
    assert_ne!(text, BUILTIN_HONEYPOTS, "the shipped thresholds moved");
    let rules = HoneypotRules::parse("test-honeypots.toml", &text, &Vocabulary::service())
        .unwrap_or_else(|e| panic!("{e}"));
    Assessor::new(
        Rubric::builtin().unwrap(),
        KnownVulns::builtin().unwrap(),
        rules,
    )
}

/// A synthetic set with every kind of honeypot sign, its members interleaved so that clusters
/// and hosts straddle chunks.
fn mixed_set() -> Vec<Service> {
    let doc = |i: usize| -> String {
        let nets = ["192.0.2", "198.51.100", "203.0.113"];
        format!("{}.{}", nets[i % 3], 10 + i / 3)
    };
    let mut groups: Vec<Vec<Service>> = Vec::new();
    // A large cluster: 9 identical answers over three networks.
    groups.push(
        (0..9)
            .map(|i| dicom_answer(doc(i).parse().unwrap()))
            .collect(),
    );
    // A cluster at the minimum size (another answer), 4 addresses in 2 networks.
    groups.push(
        (0..4)
            .map(|i| {
                let ip = format!("{}.{}", ["192.0.2", "198.51.100"][i % 2], 60 + i);
                let mut s = dicom_answer(ip.parse().unwrap());
                s.details
                    .insert("dicom.max_pdu_length".into(), json!(32768));
                s
            })
            .collect(),
    );
    // Identical answers inside one network: no cluster.
    groups.push(
        (0..5)
            .map(|i| {
                let mut s = dicom_answer(format!("203.0.113.{}", 100 + i).parse().unwrap());
                s.details
                    .insert("dicom.implementation_version_name".into(), json!("OTHER_1"));
                s
            })
            .collect(),
    );
    // A host on 5 medical ports, one on 3.
    groups.push(
        [104u16, 2575, 4242, 8042, 11112]
            .iter()
            .map(|p| {
                service(
                    "192.0.2.200",
                    *p,
                    "dicom",
                    Source::Scan,
                    json!({"dicom.association": "accepted"}),
                )
            })
            .chain([104u16, 4242, 8042].iter().map(|p| {
                service(
                    "198.51.100.201",
                    *p,
                    "dicom",
                    Source::Scan,
                    json!({"dicom.association": "rejected"}),
                )
            }))
            .collect(),
    );
    // Identities, vulnerabilities, default credentials, bare ports.
    groups.push(vec![
        service(
            "192.0.2.80",
            11112,
            "dicom",
            Source::Scan,
            json!({"dicom.association": "accepted", "dicom.max_pdu_length": 4194304, "dicom.accepts_any_ae": true, "dicom.echo_status": "success"}),
        ),
        service(
            "192.0.2.82",
            104,
            "dicom",
            Source::Shodan,
            json!({"shodan.tags": ["medical", "honeypot"], "dicom.association": "accepted"}),
        ),
        open_orthanc("192.0.2.83", Source::Scan),
        strict_orthanc("192.0.2.84"),
        mirth("198.51.100.85", Some("4.3.0"), Source::Shodan),
        mirth("198.51.100.86", None, Source::Shodan),
        service(
            "203.0.113.87",
            443,
            "https",
            Source::Shodan,
            json!({"http.status": 200, "http.title": "Orthanc Explorer"}),
        ),
        service("203.0.113.88", 104, "tcp", Source::Masscan, json!({})),
        service("2001:db8::89", 104, "tcp", Source::Masscan, json!({})),
    ]);
    // Round-robin over the groups.
    let mut set = Vec::new();
    let longest = groups.iter().map(Vec::len).max().unwrap();
    for i in 0..longest {
        for g in &groups {
            if let Some(s) = g.get(i) {
                set.push(s.clone());
            }
        }
    }
    set
}

#[test]
fn chunked_assessment_against_the_index_equals_the_one_shot_assessment() {
    let assessor = small_set_assessor();
    let set = mixed_set();
    let mut whole = set.clone();
    assessor.assess(&mut whole);

    // The set has every sign, so the comparison below means something.
    let reasons = |needle: &str| {
        whole
            .iter()
            .filter(|s| {
                s.honeypot
                    .as_ref()
                    .is_some_and(|h| h.reasons.iter().any(|r| r.contains(needle)))
            })
            .count()
    };
    assert_eq!(reasons("8 other addresses in 3 networks"), 9);
    assert_eq!(reasons("3 other addresses in 2 networks"), 4);
    assert_eq!(reasons("5 medical ports"), 5);
    assert!(reasons("rule dicompot-default") == 1 && reasons("rule shodan-honeypot-tag") == 1);
    let flagged = |set: &[Service]| {
        set.iter()
            .filter(|s| s.flags.contains(&flags::LIKELY_HONEYPOT.to_string()))
            .count()
    };
    assert_eq!(flagged(&whole), 9 + 5 + 2);
    assert!(whole.iter().all(|s| s.dread.is_some()));

    // Fed with only the details the index reads, it is the same index.
    let cut: Vec<Service> = set
        .iter()
        .map(|s| {
            let mut s = s.clone();
            s.details
                .retain(|k, _| HoneypotIndexBuilder::reads_detail(k));
            s
        })
        .collect();
    assert!(cut
        .iter()
        .zip(&set)
        .any(|(c, s)| c.details.len() < s.details.len()));
    assert!(FINGERPRINT_KEYS.windows(2).all(|w| w[0] < w[1]), "sorted");
    assert!(FINGERPRINT_KEYS
        .iter()
        .all(|k| HoneypotIndexBuilder::reads_detail(k)));
    assert!(!HoneypotIndexBuilder::reads_detail("geoip.city"));
    for (chunk, fed_reversed, fed_cut) in [
        (7, false, false),
        (7, true, false),
        (7, false, true),
        (1, false, false),
        (4096, false, false),
    ] {
        // Pass 1: the index, from every service (in either order: the order does not matter).
        let mut builder = assessor.honeypots().index();
        let fed = if fed_cut { &cut } else { &set };
        if fed_reversed {
            fed.iter().rev().for_each(|s| builder.add(s));
        } else {
            fed.iter().for_each(|s| builder.add(s));
        }
        assert_eq!(builder.len(), set.len());
        let index = builder.finish();
        assert_eq!(index.services(), set.len());
        // Pass 2: chunk by chunk.
        let mut chunked = set.clone();
        for part in chunked.chunks_mut(chunk) {
            assessor.assess_with(part, &index);
        }
        assert_eq!(
            chunked, whole,
            "chunks of {chunk}, reversed {fed_reversed}, cut {fed_cut}"
        );
    }

    // Chunks judged alone (each its own index) lose the set-wide signs: the index is what
    // carries them.
    let mut alone = set.clone();
    for part in alone.chunks_mut(7) {
        assessor.assess(part);
    }
    assert!(flagged(&alone) < flagged(&whole));
}
