//! Reports, diffs and `--fail-on`, end to end: imported and scanned services are enriched and
//! assessed on read, written in every format, compared scan to scan, and gate a pipeline
//! through the exit code.

use std::collections::BTreeMap;
use std::io::Write;

use crate::harness::*;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ingest/tests/data/shodan-sample.jsonl"
);

/// One synthetic Shodan banner whose peer-controlled text is hostile: HTML and spreadsheet
/// formulas in the database names (cited as DREAD evidence) and in the organisation.
const HOSTILE: &str = r#"{"_shodan": {"module": "mongodb"}, "data": "MongoDB Server Information\n", "ip_str": "198.51.100.66", "org": "=HYPERLINK(\"x\")", "location": {"country_code": "NL"}, "mongodb": {"authentication": false, "buildInfo": {"version": "4.4.18"}, "listDatabases": {"databases": [{"name": "<script>alert(1)</script>&co"}, {"name": "=cmd|' /C calc'!A0"}]}}, "port": 27017, "product": "MongoDB", "timestamp": "2026-03-01T00:00:00.000000", "transport": "tcp", "version": "4.4.18"}"#;

fn ingest(db: &TempDb, file: &str) {
    let o = run(&["ingest", "shodan", file, "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
}

fn report(
    db: &TempDb,
    format: &str,
    out: &std::path::Path,
    extra: &[&str],
) -> std::process::Output {
    let dbarg = db.arg();
    let out = out.display().to_string();
    let mut args = vec![
        "report", "--format", format, "--output", &out, "--db", &dbarg,
    ];
    args.extend_from_slice(extra);
    run(&args)
}

#[test]
fn every_format_rates_every_service_with_evidence_and_escapes_peer_text() {
    let dir = tempfile::tempdir().unwrap();
    let db = TempDb::new();
    ingest(&db, SAMPLE);
    let hostile = dir.path().join("hostile.jsonl");
    writeln!(std::fs::File::create(&hostile).unwrap(), "{HOSTILE}").unwrap();
    ingest(&db, hostile.to_str().unwrap());

    // JSON: every service rated, every factor with the rule that set it.
    let json = dir.path().join("r.json");
    let o = report(&db, "json", &json, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let services = doc["services"].as_array().expect("services");
    assert_eq!(services.len(), 21, "20 sample banners and the hostile one");
    for s in services {
        let d = &s["dread"];
        assert!(d.is_object(), "unrated: {s}");
        for f in [
            "damage",
            "reproducibility",
            "exploitability",
            "affected_users",
            "discoverability",
        ] {
            let v = d[f].as_u64().unwrap();
            assert!(v <= 10);
            let ev = &d["evidence"][f];
            assert!(
                ev["rule"].as_str().is_some_and(|r| !r.is_empty()),
                "{f} of {} has no rule: {d}",
                s["ip"]
            );
            assert!(ev["reason"].as_str().is_some_and(|r| !r.is_empty()));
        }
        assert!(["low", "medium", "high", "critical"].contains(&d["severity"].as_str().unwrap()));
    }
    // Imports are Shodan-indexed: discoverability is high for every one of them.
    assert!(services
        .iter()
        .all(|s| s["dread"]["discoverability"].as_u64().unwrap() >= 7));

    // HTML: one file, nothing fetched from elsewhere, peer text escaped.
    let html = dir.path().join("r.html");
    let o = report(&db, "html", &html, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Content-Security-Policy"));
    assert!(
        !page.contains("<script>alert(1)"),
        "peer HTML must be escaped"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)"),
        "the evidence cites it, escaped"
    );
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "@import",
        "url(http",
    ] {
        assert!(!page.contains(attr), "the page must not load {attr}…");
    }
    assert!(page.contains("<svg"), "charts are inline SVG");

    // CSV: a cell that starts like a formula is neutralised.
    let csv = dir.path().join("r.csv");
    let o = report(&db, "csv", &csv, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.lines().count() == 22, "header and 21 rows");
    assert!(!text.contains(",=HYPERLINK") && !text.contains(",\"=HYPERLINK"));
    assert!(text.contains("'=HYPERLINK"), "{text}");

    // Markdown: the sections are there.
    let md = dir.path().join("r.md");
    let o = report(&db, "md", &md, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&md).unwrap();
    for section in ["## Summary", "## Findings", "## Method"] {
        assert!(text.contains(section), "{section} missing");
    }
}

#[test]
fn fail_on_gates_on_the_band_and_bad_arguments_are_input_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = TempDb::new();
    ingest(&db, SAMPLE);
    let out = dir.path().join("r.json");
    // Read the severities the report gives, then gate on bands above and at the highest one.
    let o = report(&db, "json", &out, &[]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let order = ["low", "medium", "high", "critical"];
    let highest = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            !s["flags"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == "likely-honeypot"))
        })
        .map(|s| {
            let sev = s["dread"]["severity"].as_str().unwrap();
            order.iter().position(|o| *o == sev).unwrap()
        })
        .max()
        .unwrap();
    let o = report(&db, "json", &out, &["--fail-on", order[highest]]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("--fail-on"));
    if highest < 3 {
        let o = report(&db, "json", &out, &["--fail-on", order[highest + 1]]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    }

    let o = report(&db, "pdf", &out, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--format"), "{}", stderr(&o));
    let bad = dir.path().join("bad-rubric.toml");
    std::fs::write(&bad, "[[rule]]\nid = \"x\"\nbogus = 1\n").unwrap();
    let o = report(&db, "json", &out, &["--rubric", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad-rubric.toml:"),
        "the error names the file and line: {}",
        stderr(&o)
    );
}

fn scan(db: &TempDb, targets: &str, ports: &str, probes: &[String]) -> i64 {
    let dbarg = db.arg();
    let mut args = vec![
        "scan",
        targets,
        "--ports",
        ports,
        "--rate",
        "unlimited",
        "--read-timeout",
        "1000",
        "--no-ae-checks",
        "--db",
        &dbarg,
    ];
    for p in probes {
        args.push("--probe");
        args.push(p);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    scans(&db.path()).last().unwrap()["id"].as_i64().unwrap()
}

#[test]
fn diff_reports_new_resolved_and_changed_services_and_gates_on_them() {
    let (dicom, web, db_host) = ("127.62.0.1", "127.62.0.2", "127.62.0.3");
    let (web_port, mysql_port) = (free_port(web), free_port(db_host));
    let ports = format!("11112,{web_port},{mysql_port}");
    let probes = [format!("http:{web_port}"), format!("mysql:{mysql_port}")];
    let db = TempDb::new();

    // Week 1: an open DICOM server and an Orthanc web page.
    let lab1 = lab(&[
        format!("dicom-open@{dicom}:11112"),
        format!("http-orthanc@{web}:{web_port}"),
    ]);
    let a = scan(&db, "127.62.0.1-127.62.0.3", &ports, &probes);
    drop(lab1);
    // Week 2: the DICOM server now checks AE titles, the web page is gone, a database appeared.
    let _lab2 = lab(&[
        format!("dicom-strict@{dicom}:11112"),
        format!("mysql@{db_host}:{mysql_port}"),
    ]);
    let b = scan(&db, "127.62.0.1-127.62.0.3", &ports, &probes);

    let o = run(&[
        "diff",
        &a.to_string(),
        &b.to_string(),
        "--json",
        "--db",
        &db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let changes: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let by_ip: BTreeMap<String, &serde_json::Value> = changes
        .iter()
        .map(|c| (c["ip"].as_str().unwrap().to_owned(), c))
        .collect();
    assert_eq!(by_ip.len(), 3, "{changes:#?}");
    assert_eq!(by_ip[db_host]["change"], "new");
    assert_eq!(by_ip[web]["change"], "resolved");
    let changed = by_ip[dicom];
    assert_eq!(changed["change"], "changed");
    let assoc = changed["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"] == "dicom.association")
        .expect("the association verdict changed");
    assert_eq!(assoc["before"], "accepted");
    assert_eq!(assoc["after"], "rejected");
    assert!(
        changed["score_after"].as_f64() < changed["score_before"].as_f64(),
        "a server that now rejects unknown AE titles is less risky: {changed}"
    );
    assert!(stderr(&o).contains("1 new, 1 resolved, 1 changed"));

    // The same scan twice: nothing to say, and no gate fires.
    let o = run(&[
        "diff",
        &b.to_string(),
        &b.to_string(),
        "--fail-on",
        "low",
        "--db",
        &db.arg(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // New and changed services are at least low: the gate fires.
    let o = run(&[
        "diff",
        &a.to_string(),
        &b.to_string(),
        "--fail-on",
        "low",
        "--db",
        &db.arg(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    // An unknown scan is an input error.
    let o = run(&["diff", &a.to_string(), "999", "--db", &db.arg()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // A report of one scan covers that scan's services only.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("b.json");
    let o = report(&db, "json", &out, &["--scan", &b.to_string()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let ips: Vec<&str> = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["ip"].as_str().unwrap())
        .collect();
    assert_eq!(ips, [dicom, db_host]);
}

#[test]
fn scan_fail_on_rates_what_the_scan_found() {
    let ip = "127.62.1.1";
    let _lab = lab(&[format!("dicom-open@{ip}:11112")]);
    let db = TempDb::new();
    let scan_with = |band: &str| {
        run(&[
            "scan",
            ip,
            "--ports",
            "11112",
            "--rate",
            "unlimited",
            "--no-ae-checks",
            "--fail-on",
            band,
            "--db",
            &db.arg(),
        ])
    };
    // An open DICOM server answering queries without authentication is at least high…
    let o = scan_with("high");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("at or above high"), "{}", stderr(&o));
    // …and, found by a scan rather than indexed, not critical: the gate stays shut.
    let o = scan_with("critical");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // A bad rubric stops the scan before any packet: an input error.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("r.toml");
    std::fs::write(&bad, "[[rule]]\nid = 1\n").unwrap();
    let o = run(&[
        "scan",
        ip,
        "--ports",
        "11112",
        "--fail-on",
        "high",
        "--rubric",
        bad.to_str().unwrap(),
        "--db",
        &db.arg(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        scans(&db.path()).len(),
        2,
        "the refused scan was never created"
    );
}
