//! SBOMs made by real generators (cyclonedx-py on a pinned environment, spdx-tools' writer)
//! matched against a synthetic OSV set for those exact PyPI packages and versions.

mod common;

use std::collections::BTreeSet;

use jiff::civil::Date;
use medsurface_vulndb::{match_sbom, EndOfSupport, Error, Sbom, SbomFormat, VulnDb};

const PACKAGES: &[(&str, &str)] = &[
    ("Jinja2", "2.10"),
    ("MarkupSafe", "2.1.5"),
    ("certifi", "2018.4.16"),
    ("chardet", "3.0.4"),
    ("idna", "2.7"),
    ("requests", "2.19.0"),
    ("urllib3", "1.23"),
];

fn osv_db() -> VulnDb {
    let mut db = VulnDb::new();
    let r = db.load(&common::fixtures().join("osv")).unwrap();
    assert_eq!(r.files, 2);
    // The withdrawn advisory is read but not kept.
    assert_eq!(r.osv_advisories, 5);
    db
}

fn today() -> Date {
    "2026-11-28".parse().unwrap()
}

/// (component name, advisory ids) for every component with advisories.
fn vulnerable(sbom: &Sbom, db: &VulnDb) -> BTreeSet<(String, String)> {
    match_sbom(sbom, db, None, today())
        .into_iter()
        .flat_map(|f| {
            let name = f.component.name.to_lowercase();
            f.advisories
                .into_iter()
                .map(move |a| (name.clone(), a.vulnerability.id))
        })
        .collect()
}

fn expected() -> BTreeSet<(String, String)> {
    [
        ("jinja2", "GHSA-462w-v97r-4m45"),
        ("requests", "GHSA-x84v-xcm2-53pg"),
        ("urllib3", "GHSA-mh33-7rrq-662w"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

#[test]
fn cyclonedx_py_environment_sboms_of_each_supported_version() {
    let Some(dir) = common::generated() else {
        return;
    };
    let db = osv_db();
    for sv in ["1.4", "1.5", "1.6"] {
        let sbom = Sbom::load(&dir.join(format!("env.cdx-{sv}.json"))).unwrap();
        assert_eq!(
            sbom.format,
            SbomFormat::CycloneDx {
                spec_version: sv.into()
            }
        );
        assert_eq!(
            sbom.device.name.as_deref(),
            Some("synthetic-infusion-gateway"),
            "{sv}"
        );
        assert_eq!(sbom.device.version.as_deref(), Some("1.4.2"), "{sv}");
        let mut got: Vec<(String, String)> = sbom
            .components
            .iter()
            .map(|c| (c.name.clone(), c.version.clone().unwrap_or_default()))
            .collect();
        got.sort_by_key(|(n, _)| n.to_lowercase());
        let mut want: Vec<(String, String)> = PACKAGES
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        want.sort_by_key(|(n, _)| n.to_lowercase());
        assert_eq!(got, want, "{sv}");
        assert!(sbom
            .components
            .iter()
            .all(|c| c.ecosystem.as_deref() == Some("PyPI")
                && c.purl
                    .as_deref()
                    .is_some_and(|p| p.starts_with("pkg:pypi/"))));
        // Vulnerable versions found; the advisories fixed at or before these versions
        // (urllib3 < 1.23, Jinja2 < 2.8.1) and the withdrawn one are not.
        assert_eq!(vulnerable(&sbom, &db), expected(), "{sv}");
    }
}

#[test]
fn findings_carry_evidence_and_scores() {
    let Some(dir) = common::generated() else {
        return;
    };
    let db = osv_db();
    let sbom = Sbom::load(&dir.join("env.cdx.json")).unwrap();
    let findings = match_sbom(&sbom, &db, Some(&EndOfSupport::builtin()), today());
    let req = findings
        .iter()
        .find(|f| f.component.name == "requests")
        .unwrap();
    let a = &req.advisories[0];
    assert_eq!(a.vulnerability.source, "osv");
    assert_eq!(a.aliases, vec!["CVE-2018-18074".to_string()]);
    assert_eq!(a.vulnerability.cvss, Some(7.5)); // computed from the CVSS:3.1 vector
    assert_eq!(
        a.vulnerability.reference.as_deref(),
        Some("https://nvd.nist.gov/vuln/detail/CVE-2018-18074")
    );
    assert!(!a.vulnerability.known_exploited);
    assert_eq!(a.evidence.version.as_deref(), Some("2.19.0"));
    assert_eq!(
        a.evidence.range.as_ref().and_then(|r| r.fixed.as_deref()),
        Some("2.20.0")
    );
    assert_eq!(a.evidence.detail, "introduced 0, fixed 2.20.0");
    assert_eq!(a.evidence.matched, "PyPI/requests");
    // Jinja2's advisory lists its events out of order and has only `details`.
    let jinja = findings
        .iter()
        .find(|f| f.component.name == "Jinja2")
        .unwrap();
    assert_eq!(
        jinja.advisories[0].vulnerability.summary.as_deref(),
        Some("In Jinja before 2.10.1, str.format_map allows a sandbox escape (synthetic fixture text).")
    );
    // Nothing in this environment is on the end-of-support list.
    assert!(findings
        .iter()
        .all(|f| f.end_of_support.is_none() && f.unchecked.is_none()));
    assert_eq!(findings.len(), 3);
    // Findings serialize for reports.
    let json = serde_json::to_value(&findings).unwrap();
    assert_eq!(
        json[0]["advisories"][0]["evidence"]["range"]["fixed"],
        "2.10.1"
    );
    assert_eq!(json[0]["component"]["purl"], "pkg:pypi/jinja2@2.10");
}

#[test]
fn spdx_tools_document_of_the_same_environment() {
    let Some(dir) = common::generated() else {
        return;
    };
    let sbom = Sbom::load(&dir.join("env.spdx.json")).unwrap();
    assert_eq!(
        sbom.format,
        SbomFormat::Spdx {
            spdx_version: "SPDX-2.3".into()
        }
    );
    assert_eq!(
        sbom.device.name.as_deref(),
        Some("Synthetic Infusion Gateway")
    );
    assert_eq!(sbom.device.version.as_deref(), Some("1.4.2"));
    assert_eq!(
        sbom.device.supplier.as_deref(),
        Some("Example Medical Devices")
    );
    assert_eq!(sbom.components.len(), PACKAGES.len());
    let urllib3 = sbom
        .components
        .iter()
        .find(|c| c.name == "urllib3")
        .unwrap();
    assert_eq!(
        urllib3.cpe.as_deref(),
        Some("cpe:2.3:a:python:urllib3:1.23:*:*:*:*:*:*:*")
    );
    assert_eq!(urllib3.purl.as_deref(), Some("pkg:pypi/urllib3@1.23"));

    let mut db = osv_db();
    assert_eq!(vulnerable(&sbom, &db), expected());
    // With NVD data too, urllib3's CVE is found by CPE as well, and reported once (it is the
    // OSV advisory's alias), now with NVD's score.
    db.load(&common::fixtures().join("nvd-sample.json"))
        .unwrap();
    let findings = match_sbom(&sbom, &db, None, today());
    let f = findings
        .iter()
        .find(|f| f.component.name == "urllib3")
        .unwrap();
    let ids: Vec<&str> = f
        .advisories
        .iter()
        .map(|a| a.vulnerability.id.as_str())
        .collect();
    assert_eq!(ids, vec!["GHSA-mh33-7rrq-662w"]);
    assert_eq!(f.advisories[0].vulnerability.cvss, Some(7.5));
    // NVD alone (no OSV) finds it by CPE and version bounds.
    let mut nvd_only = VulnDb::new();
    nvd_only
        .load(&common::fixtures().join("nvd-sample.json"))
        .unwrap();
    let found = match_sbom(&sbom, &nvd_only, None, today());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].advisories[0].vulnerability.id, "CVE-2019-11324");
    assert_eq!(
        found[0].advisories[0].evidence.detail,
        "versionEndExcluding 1.24.2"
    );
}

#[test]
fn cyclonedx_1_3_from_the_generator_is_refused() {
    let Some(dir) = common::generated() else {
        return;
    };
    let path = dir.join("env.cdx-1.3.json");
    let err = Sbom::load(&path).unwrap_err();
    match &err {
        Error::Invalid { place, message, .. } => {
            assert_eq!(place, "specVersion");
            assert!(
                message.contains("CycloneDX 1.3 is not supported"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("env.cdx-1.3.json"), "{err}");
}
