//! NVD and KEV files the user downloads, matched against imported services through the CPE
//! names of `knowledge/cpe-names.toml`: a CVE whose NVD criteria name Orthanc as NVD does
//! (`orthanc-server:orthanc`, not the signature's "Orthanc project") is claimed for the Orthanc
//! whose version is in the range and not for the one above it; KEV marks it known exploited and
//! the rubric's KEV rule raises exploitability; a KEV entry with no NVD record is not claimed.
//! All data is synthetic (CVE-2099-*, documentation addresses).

use std::path::Path;

use crate::harness::*;

/// A Shodan DICOM banner of an Orthanc that announces its version (classified as "Orthanc
/// project" / "Orthanc" by signatures/orthanc-dicom.toml, version from the version name).
fn orthanc_banner(ip: &str, version_name: &str) -> String {
    serde_json::json!({
        "_shodan": {"module": "dicom"},
        "data": format!(
            "DICOM Server Response\nAE Title: ORTHANC\nImplementation Class UID: 1.2.826.0.1.3680043.8.641.1\nImplementation Version Name: {version_name}\n"
        ),
        "ip_str": ip,
        "port": 4242,
        "product": "Orthanc",
        "org": "Example Imaging",
        "location": {"country_code": "DE"},
        "timestamp": "2026-03-01T00:00:00.000000",
        "transport": "tcp",
    })
    .to_string()
}

const VULNERABLE: &str = "198.51.100.10";
const FIXED: &str = "198.51.100.11";

/// An NVD CVE JSON 2.0 feed with one CVE: Orthanc before 1.13.0, by NVD's CPE name.
const NVD: &str = r#"{
  "resultsPerPage": 1, "startIndex": 0, "totalResults": 1,
  "format": "NVD_CVE", "version": "2.0", "timestamp": "2099-01-01T00:00:00.000",
  "vulnerabilities": [
    {"cve": {
      "id": "CVE-2099-0001",
      "sourceIdentifier": "test@example.org",
      "published": "2099-01-01T00:00:00.000",
      "lastModified": "2099-01-01T00:00:00.000",
      "vulnStatus": "Analyzed",
      "descriptions": [{"lang": "en", "value": "Synthetic remote code execution in Orthanc before 1.13.0."}],
      "metrics": {"cvssMetricV31": [{"source": "nvd@nist.gov", "type": "Primary",
        "cvssData": {"version": "3.1", "vectorString": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "baseScore": 9.8, "baseSeverity": "CRITICAL"}}]},
      "configurations": [{"nodes": [{"operator": "OR", "negate": false, "cpeMatch": [
        {"vulnerable": true, "criteria": "cpe:2.3:a:orthanc-server:orthanc:*:*:*:*:*:*:*:*", "versionEndExcluding": "1.13.0", "matchCriteriaId": "00000000-0000-0000-0000-000000000001"}
      ]}]}],
      "references": [{"url": "https://example.org/advisory/CVE-2099-0001", "source": "test@example.org"}]
    }}
  ]
}"#;

/// A KEV catalogue listing CVE-2099-0001, and CVE-2099-0003 for Orthanc with no NVD record
/// (KEV has no versions: it must not be claimed).
const KEV: &str = r#"{
  "title": "CISA Catalog of Known Exploited Vulnerabilities (synthetic)",
  "catalogVersion": "2099.01.01", "dateReleased": "2099-01-01T00:00:00.000Z", "count": 2,
  "vulnerabilities": [
    {"cveID": "CVE-2099-0001", "vendorProject": "Orthanc", "product": "Orthanc",
     "vulnerabilityName": "Orthanc Synthetic Remote Code Execution Vulnerability", "dateAdded": "2099-01-01",
     "shortDescription": "Synthetic.", "requiredAction": "Apply updates per vendor instructions.",
     "dueDate": "2099-01-22", "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": []},
    {"cveID": "CVE-2099-0003", "vendorProject": "orthanc-server", "product": "orthanc",
     "vulnerabilityName": "Orthanc Synthetic Vulnerability Without NVD Record", "dateAdded": "2099-01-01",
     "shortDescription": "Synthetic.", "requiredAction": "Apply updates per vendor instructions.",
     "dueDate": "2099-01-22", "knownRansomwareCampaignUse": "Unknown", "notes": "", "cwes": []}
  ]
}"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn report_json(db: &TempDb, dir: &Path, name: &str, extra: &[&str]) -> serde_json::Value {
    let out = dir.join(name).display().to_string();
    let dbarg = db.arg();
    let mut args = vec![
        "report", "--format", "json", "--output", &out, "--db", &dbarg,
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap()
}

fn service<'a>(doc: &'a serde_json::Value, ip: &str) -> &'a serde_json::Value {
    doc["services"]
        .as_array()
        .expect("services")
        .iter()
        .find(|s| s["ip"] == ip)
        .unwrap_or_else(|| panic!("no service {ip} in {doc}"))
}

fn vuln<'a>(s: &'a serde_json::Value, id: &str) -> Option<&'a serde_json::Value> {
    s["vulnerabilities"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["id"] == id)
}

#[test]
fn nvd_and_kev_files_link_by_cpe_name_and_raise_exploitability() {
    let dir = tempfile::tempdir().unwrap();
    let db = TempDb::new();
    let shodan = write(
        dir.path(),
        "orthanc.jsonl",
        &format!(
            "{}\n{}\n",
            orthanc_banner(VULNERABLE, "ORTHANC_1_12_11"),
            orthanc_banner(FIXED, "ORTHANC_1_13_1")
        ),
    );
    let o = run(&["ingest", "shodan", &shodan, "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let nvd = write(dir.path(), "nvdcve-2.0-2099.json", NVD);
    let kev = write(dir.path(), "known_exploited_vulnerabilities.json", KEV);

    let before = report_json(&db, dir.path(), "before.json", &[]);
    let out = dir.path().join("after.json").display().to_string();
    let dbarg = db.arg();
    let o = run(&[
        "report", "--format", "json", "--output", &out, "--db", &dbarg, "--nvd", &nvd, "--kev",
        &kev,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let after: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();

    for doc in [&before, &after] {
        for ip in [VULNERABLE, FIXED] {
            let s = service(doc, ip);
            assert_eq!(s["vendor"], "Orthanc project", "{s}");
            assert_eq!(s["product"], "Orthanc", "{s}");
        }
    }

    // The version inside the range gets the CVE, from NVD, known exploited.
    let hit = service(&after, VULNERABLE);
    let v = vuln(hit, "CVE-2099-0001").unwrap_or_else(|| panic!("not linked: {hit}"));
    assert_eq!(v["source"], "nvd", "{v}");
    assert_eq!(v["known_exploited"], true, "{v}");
    // The version above it does not.
    let miss = service(&after, FIXED);
    assert!(vuln(miss, "CVE-2099-0001").is_none(), "{miss}");
    // Without the files nothing synthetic is linked.
    assert!(vuln(service(&before, VULNERABLE), "CVE-2099-0001").is_none());

    // KEV without an NVD record carries no version: not claimed on either, but said on stderr.
    for s in [hit, miss] {
        assert!(vuln(s, "CVE-2099-0003").is_none(), "{s}");
    }
    let err = stderr(&o);
    assert!(err.contains("CVE-2099-0003"), "{err}");

    // The rubric's KEV rule raises exploitability of the vulnerable one only.
    let exploitability = |doc: &serde_json::Value, ip: &str| {
        service(doc, ip)["dread"]["exploitability"]
            .as_u64()
            .expect("rated")
    };
    assert!(
        exploitability(&after, VULNERABLE) > exploitability(&before, VULNERABLE),
        "{} -> {}",
        exploitability(&before, VULNERABLE),
        exploitability(&after, VULNERABLE)
    );
    assert_eq!(
        hit["dread"]["evidence"]["exploitability"]["rule"], "known-exploited-vulnerability",
        "{hit}"
    );
    assert_eq!(
        exploitability(&after, FIXED),
        exploitability(&before, FIXED)
    );
}

#[test]
fn corrupt_nvd_file_is_an_input_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = TempDb::new();
    let shodan = write(
        dir.path(),
        "orthanc.jsonl",
        &format!("{}\n", orthanc_banner(VULNERABLE, "ORTHANC_1_12_11")),
    );
    let o = run(&["ingest", "shodan", &shodan, "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Cut in the middle of the record.
    let cut = &NVD[..NVD.find("\"configurations\"").unwrap()];
    let nvd = write(dir.path(), "nvdcve-2.0-broken.json", cut);
    let out = dir.path().join("r.json").display().to_string();
    let dbarg = db.arg();
    let o = run(&[
        "report", "--format", "json", "--output", &out, "--db", &dbarg, "--nvd", &nvd,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("nvdcve-2.0-broken.json"), "{err}");
    assert!(!Path::new(&out).exists(), "no report from a failed load");
}
