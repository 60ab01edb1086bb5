//! `medsurface vendors`: the register checked on its own, and vendors rated against services
//! imported from a synthetic Shodan file. No traffic at all.

use std::path::PathBuf;

use crate::harness::*;

fn demo_register() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-vendors/vendors.toml")
}

#[test]
fn check_lists_a_good_register_and_refuses_bad_ones_with_file_and_line() {
    let reg = demo_register();
    let o = run(&[
        "vendors",
        "check",
        &reg.display().to_string(),
        "--today",
        "2026-11-28",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for v in [
        "Example PACS Partners",
        "Example EMR Systems",
        "Example Badge & Access Ltd",
        "Example Records Storage",
    ] {
        assert!(out.contains(v), "{v} missing from {out}");
    }
    assert!(
        stderr(&o).contains("4 vendors, valid; 2 reviews overdue as of 2026-11-28"),
        "{}",
        stderr(&o)
    );

    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            "v.toml",
            "[[vendor]]\nname = \"A\"\n\n[[vendor]]\nname = \"B\"\nbadge = true\n",
            6,
            "unknown key `badge`",
        ),
        (
            "v.toml",
            "[[vendor]]\nname = \"A\"\nreview_interval = \"fortnightly\"\n",
            3,
            "review_interval",
        ),
        (
            "v.toml",
            "[[vendor]]\nname = \"A\"\nsbom = [\"nowhere.cdx.json\"]\n",
            3,
            "nowhere.cdx.json",
        ),
        (
            "v.csv",
            "name,last_assessment\nA,2026-01-01\nB,01/02/2026\n",
            3,
            "01/02/2026",
        ),
        (
            "v.csv",
            "name,aliases\nAcme,\nOther,ACME\n",
            3,
            "already used by vendor \"Acme\" (line 2)",
        ),
    ];
    for (name, text, line, needle) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let o = run(&["vendors", "check", &path.display().to_string()]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{text:?}: {err}");
        assert!(
            err.contains(&format!("{}:{line}: ", path.display())),
            "{text:?}: {err}"
        );
        assert!(err.contains(needle), "{text:?}: {err}");
        assert!(stdout(&o).is_empty());
        assert!(!err.contains("panicked"));
    }
    let o = run(&["vendors", "check", "/nonexistent/vendors.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

/// Three Shodan banners: two of the demo PACS vendor's Orthanc (linked by its alias, the
/// signature's vendor), one MongoDB (a maker absent from the register, called out).
const SHODAN: &str = r#"{"ip_str": "203.0.113.45", "port": 4242, "transport": "tcp", "timestamp": "2026-03-01T10:00:00.000000", "hostnames": [], "domains": [], "org": "Example Cloud Hosting GmbH", "product": "Orthanc", "location": {"country_code": "DE"}, "data": "DICOM Server Response\nAE Title: ORTHANC\nImplementation Class UID: 1.2.826.0.1.3680043.2.1143.107.104.103.115.1.12.3\nImplementation Version: ORTHANC_1_12_3\n", "hash": 1, "_shodan": {"module": "dicom"}}
{"ip_str": "203.0.113.45", "port": 8042, "transport": "tcp", "timestamp": "2026-03-01T10:05:00.000000", "hostnames": [], "domains": [], "org": "Example Cloud Hosting GmbH", "product": "Orthanc", "location": {"country_code": "DE"}, "data": "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", "http": {"status": 200, "title": "Orthanc Explorer", "html": "<title>Orthanc Explorer</title>"}, "hash": 2, "_shodan": {"module": "http"}}
{"ip_str": "192.0.2.200", "port": 27017, "transport": "tcp", "timestamp": "2026-03-01T11:00:00.000000", "hostnames": [], "domains": [], "product": "MongoDB", "location": {"country_code": "US"}, "data": "MongoDB Server Information\n{\n  \"authentication\": false,\n  \"version\": \"4.4.18\"\n}\n", "hash": 3, "_shodan": {"module": "mongodb"}}
"#;

#[test]
fn report_links_imported_services_to_register_vendors() {
    let db = TempDb::new();
    let file = db.dir.path().join("shodan.json");
    std::fs::write(&file, SHODAN).unwrap();
    let o = run(&[
        "ingest",
        "shodan",
        &file.display().to_string(),
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));

    let reg = demo_register().display().to_string();
    let osv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-vendors/osv");
    let osv = osv.display().to_string();
    let o = run(&[
        "vendors",
        "report",
        "--register",
        &reg,
        "--db",
        &db.arg(),
        "--today",
        "2026-11-28",
        "--osv",
        &osv,
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["vendor"] == name)
            .unwrap_or_else(|| panic!("no {name} in {rows:#?}"))
    };
    // 4 register vendors + the unregistered MongoDB maker.
    assert_eq!(rows.len(), 5, "{rows:#?}");

    let pacs = row("Example PACS Partners");
    assert_eq!(pacs["in_register"], true);
    assert_eq!(pacs["exposed_services"], 2, "{pacs:#}");
    assert_eq!(pacs["review_overdue"], false);
    assert_eq!(pacs["next_review"], "2027-06-15");
    // Services are assessed on read (as for `report`), so the vendor's discoverability cites
    // the strongest rating among its exposed services, which its notes show.
    let notes: Vec<&str> = pacs["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap())
        .collect();
    assert_eq!(
        notes
            .iter()
            .filter(|n| n.starts_with("exposed: Orthanc"))
            .count(),
        2,
        "{notes:?}"
    );
    let want = if notes.iter().any(|n| n.contains("rated critical")) {
        "exposed-critical"
    } else if notes.iter().any(|n| n.contains("rated high")) {
        "exposed-high"
    } else {
        "exposed-services"
    };
    let ev = &pacs["dread"]["evidence"];
    assert_eq!(ev["discoverability"]["rule"], want, "{ev:#}");
    // The SBOM on file is matched against the OSV advisories given.
    assert_eq!(pacs["vulnerable_components"], 2, "{pacs:#}");
    assert!(
        notes.iter().any(|n| n.contains("MEDSURFACE-DEMO-0001")),
        "{notes:?}"
    );
    assert_eq!(pacs["tier"], pacs["dread"]["severity"]);

    let mongo = row("MongoDB Inc.");
    assert_eq!(mongo["in_register"], false);
    assert_eq!(mongo["exposed_services"], 1);
    assert!(
        mongo["notes"][0]
            .as_str()
            .unwrap()
            .starts_with("not in the vendor register"),
        "{mongo:#}"
    );
    assert_eq!(mongo["access"], serde_json::json!([]));
    assert_eq!(mongo["next_review"], serde_json::Value::Null);

    let records = row("Example Records Storage");
    assert_eq!(records["review_overdue"], true);
    assert_eq!(records["next_review"], "2024-05-10");
    assert_eq!(records["exposed_services"], 0);

    // Highest risk first.
    let scores: Vec<f64> = rows
        .iter()
        .map(|r| r["dread"]["score"].as_f64().unwrap())
        .collect();
    assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");

    // The table form names the unregistered vendor too.
    let o = run(&[
        "vendors",
        "report",
        "--register",
        &reg,
        "--db",
        &db.arg(),
        "--today",
        "2026-11-28",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("MongoDB Inc.: not in the vendor register"),
        "{}",
        stdout(&o)
    );

    // A bad register for the report: exit 2 naming file and line, nothing printed on stdout.
    let bad = db.dir.path().join("bad.toml");
    std::fs::write(&bad, "[[vendor]]\nname = \"A\"\ncontract = \"maybe\"\n").unwrap();
    let o = run(&[
        "vendors",
        "report",
        "--register",
        &bad.display().to_string(),
        "--db",
        &db.arg(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{}:3: ", bad.display())),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty());
}
