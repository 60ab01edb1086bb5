//! Imports end to end: a Shodan export through the same classifier and store as live scans,
//! statistics over it, and bad input that loses nothing already read.

use std::io::Write;

use crate::harness::*;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../ingest/tests/data/shodan-sample.jsonl"
);

fn stats(db: &TempDb, args: &[&str]) -> Vec<serde_json::Value> {
    let mut all = vec!["stats", "--json", "--db"];
    let dbarg = db.arg();
    all.push(&dbarg);
    all.extend_from_slice(args);
    let o = run(&all);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn count_of(rows: &[serde_json::Value], field: &str, value: &str) -> u64 {
    rows.iter()
        .find(|r| r[field] == value)
        .and_then(|r| r["services"].as_u64())
        .unwrap_or(0)
}

#[test]
fn shodan_import_is_classified_counted_once_and_ranked() {
    let db = TempDb::new();
    for _ in 0..2 {
        let o = run(&["ingest", "shodan", SAMPLE, "--db", &db.arg()]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("20 records, 20 observations, 0 malformed"),
            "{}",
            stderr(&o)
        );
    }
    // Imported twice: each service still counts once.
    let by_category = stats(&db, &["--by", "category"]);
    let total: u64 = by_category
        .iter()
        .map(|r| r["services"].as_u64().unwrap())
        .sum();
    assert_eq!(total, 20);
    // Seven DICOM and imaging web services; the sample's RDP banner (a TPKT, 03 00 …) is not
    // one of them.
    assert_eq!(count_of(&by_category, "category", "imaging"), 7);
    // The research's figure: exposed imaging services by country, largest first.
    let by_country = stats(&db, &["--by", "country", "--category", "imaging"]);
    let ranking: Vec<(String, u64)> = by_country
        .iter()
        .map(|r| {
            (
                r["country"].as_str().unwrap().to_owned(),
                r["services"].as_u64().unwrap(),
            )
        })
        .collect();
    let want = [("DE", 3), ("GB", 2), ("US", 2)];
    assert_eq!(ranking, want.map(|(c, n)| (c.to_owned(), n)));
    let products = stats(&db, &["--by", "product", "--category", "imaging"]);
    assert_eq!(
        count_of(&products, "product", "Orthanc project Orthanc"),
        3,
        "{products:?}"
    );
    // Nothing is seen after the sample's dates.
    assert!(stats(&db, &["--by", "country", "--since", "2099-01-01"]).is_empty());

    let o = run(&[
        "stats",
        "--by",
        "country",
        "--category",
        "nonsense",
        "--db",
        &db.arg(),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

/// A live scan of an Orthanc-like web server and a Shodan banner of one are classified alike.
#[test]
fn live_scan_and_shodan_banner_classify_alike() {
    let db = TempDb::new();
    let o = run(&["ingest", "shodan", SAMPLE, "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let imported = stats(&db, &["--by", "product"]);
    assert!(count_of(&imported, "product", "Orthanc project Orthanc") > 0);

    let l = std::net::TcpListener::bind("127.61.41.5:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    let mut lab = bin()
        .args(["lab", &format!("http-orthanc@127.61.41.5:{port}")])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(lab.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut out, &mut line).unwrap();
    assert!(line.starts_with("ready"), "{line}");
    let o = run(&[
        "scan",
        "127.61.41.5",
        "--ports",
        &port.to_string(),
        "--probe",
        &format!("http:{port}"),
        "--rate",
        "unlimited",
        "--json",
        "--db",
        &db.arg(),
    ]);
    let _ = lab.kill();
    let _ = lab.wait();
    assert!(o.status.success(), "{}", stderr(&o));
    let live: serde_json::Value = serde_json::from_str(stdout(&o).lines().next().unwrap()).unwrap();
    assert_eq!(live["source"], "scan");
    assert_eq!(
        format!(
            "{} {}",
            live["vendor"].as_str().unwrap(),
            live["product"].as_str().unwrap()
        ),
        "Orthanc project Orthanc"
    );
    assert_eq!(live["category"], "imaging");
}

/// A malformed line is reported with its line and skipped; a cut gzip is an error naming the
/// byte offset, and the records before it are stored.
#[test]
fn bad_import_input_is_reported_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let sample = std::fs::read_to_string(SAMPLE).unwrap();
    let mut lines: Vec<&str> = sample.lines().collect();
    lines.insert(3, "{\"ip_str\": \"192.0.2.99\", \"port\": 104, garbage");
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(&bad, lines.join("\n")).unwrap();
    let db = TempDb::new();
    let o = run(&["ingest", "shodan", bad.to_str().unwrap(), "--db", &db.arg()]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("{}:4:", bad.display())),
        "{}",
        stderr(&o)
    );
    let o = run(&[
        "ingest",
        "shodan",
        "--strict",
        bad.to_str().unwrap(),
        "--db",
        &db.arg(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    let gz = dir.path().join("cut.json.gz");
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(sample.repeat(20).as_bytes()).unwrap();
    let full = enc.finish().unwrap();
    std::fs::write(&gz, &full[..full.len() * 2 / 3]).unwrap();
    let db2 = TempDb::new();
    let o = run(&["ingest", "shodan", gz.to_str().unwrap(), "--db", &db2.arg()]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("corrupt gzip data at compressed byte"),
        "{}",
        stderr(&o)
    );
    let kept: u64 = stats(&db2, &["--by", "category"])
        .iter()
        .map(|r| r["services"].as_u64().unwrap())
        .sum();
    assert_eq!(kept, 20, "the records before the cut are stored");
}
