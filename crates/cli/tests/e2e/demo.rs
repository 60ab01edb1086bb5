use std::io::{BufRead, BufReader};
use std::net::{IpAddr, SocketAddr};
use std::process::{Child, Stdio};

use medsurface_store::{ServiceFilter, SqliteStore, Store};
use serde_json::{json, Value};

use crate::harness::*;

/// The demo finds every simulated service, and the hostile banner reaches the screen escaped.
#[test]
fn demo_finds_every_simulated_service() {
    let db = TempDb::new();
    let o = run(&["demo", "--db", &db.arg()]);
    let out = stdout(&o);
    assert!(o.status.success(), "demo failed: {}\n{out}", stderr(&o));
    assert!(!out.contains("MISSED"), "{out}");
    assert!(out.matches(" found").count() >= 8, "{out}");
    assert!(
        !out.contains('\x1b') && !stderr(&o).contains('\x1b'),
        "escape reached the terminal"
    );
    assert!(out.contains("PACS-CONSOLE"), "{out}");
    // The bundled Shodan sample went through the same classifier: the research's figure.
    assert!(
        out.contains("imaging by country   DE 3, GB 2, US 2\n"),
        "{out}"
    );

    // The two PACS speak real DICOM: the open one lets anyone query, the strict one checks
    // the called AE title. The store says so, and so does the table.
    let store = SqliteStore::open(&db.path()).expect("open the demo's store");
    let services = store
        .services(&ServiceFilter::default())
        .expect("read services");
    let details = |port: u16| -> serde_json::Map<String, Value> {
        let s = services
            .iter()
            .map(|s| &s.service)
            .find(|s| s.ip.to_string() == "127.42.0.10" && s.port == port)
            .unwrap_or_else(|| panic!("no service on 127.42.0.10:{port}"));
        assert_eq!(s.protocol.as_deref(), Some("dicom"), "{:?}", s.details);
        s.details.clone().into_iter().collect()
    };
    let open = details(11112);
    for (key, want) in [
        ("dicom.association", json!("accepted")),
        ("dicom.accepts_any_ae", json!(true)),
        ("dicom.echo_status", json!("success")),
        ("dicom.query_without_auth", json!(true)),
        ("dicom.implementation_version_name", json!("LAB_SCP_010")),
    ] {
        assert_eq!(open.get(key), Some(&want), "{key} in {open:?}");
    }
    let strict = details(4242);
    for (key, want) in [
        ("dicom.association", json!("rejected")),
        (
            "dicom.reject_reason",
            json!("called-ae-title-not-recognized"),
        ),
        ("dicom.accepts_any_ae", json!(false)),
    ] {
        assert_eq!(strict.get(key), Some(&want), "{key} in {strict:?}");
    }
    assert!(
        !strict.contains_key("dicom.query_without_auth"),
        "{strict:?}"
    );
    assert!(
        out.contains("accepts any AE; queries without auth"),
        "{out}"
    );
    assert!(out.contains("called-ae-title-not-recognized"), "{out}");

    // It ends with the HTML report of everything it stored, rated, with the supply chain of its
    // synthetic vendor register; the path is printed.
    let line = out
        .lines()
        .find(|l| l.starts_with("Report (open it in a browser): "))
        .unwrap_or_else(|| panic!("no report path in {out}"));
    let path = line.trim_start_matches("Report (open it in a browser): ");
    let html = std::fs::read_to_string(path).expect("read the demo report");
    for id in [
        "summary",
        "categories",
        "countries",
        "org-types",
        "dread",
        "findings",
        "supply-chain",
        "method",
    ] {
        assert!(
            html.contains(&format!("id=\"{id}\"")),
            "section {id} missing"
        );
    }
    assert!(
        html.contains("Example PACS Partners"),
        "the register's vendor"
    );
    assert!(
        html.contains("127.42.0.10:11112"),
        "the open PACS is a finding"
    );
    assert!(!html.contains('\x1b'), "escape reached the report");
    assert!(out.contains("Rated with DREAD (28 services)"), "{out}");
}

/// A `medsurface lab` process; killed when dropped, so a failing test leaves nothing behind.
struct Lab(Child);

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `medsurface lab @FILE` serves a small fleet of DICOM servers (the benchmark's form), and a
/// scan of it gives each address the verdict of its kind: accepted with query access for the
/// open ones, rejected for the strict ones.
#[test]
fn lab_fleet_file_serves_dicom_servers_with_their_verdicts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = dir.path().join("fleet.txt");
    let mut lines = String::from("# KIND@ADDR:PORT\n");
    let mut want = Vec::new();
    for i in 1..=8u8 {
        let kind = if i % 4 == 0 {
            "dicom-strict"
        } else {
            "dicom-open"
        };
        let addr: SocketAddr = format!("127.43.0.{i}:11112").parse().unwrap();
        lines.push_str(&format!("{kind}@{addr}\n"));
        want.push((
            addr.ip(),
            if kind == "dicom-open" {
                "accepted"
            } else {
                "rejected"
            },
        ));
    }
    std::fs::write(&fleet, lines).unwrap();
    let mut child = bin()
        .args(["lab", &format!("@{}", fleet.display())])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab");
    let out = child.stdout.take().expect("lab stdout");
    let lab = Lab(child);
    // Wait on the pipe, not the clock: the last line comes once every listener is bound.
    let mut ready = 0;
    for line in BufReader::new(out).lines() {
        let line = line.expect("read the lab's stdout");
        if line.starts_with("ready dicom-") {
            ready += 1;
        }
        if line == "serving 8" {
            break;
        }
    }
    assert_eq!(ready, 8);

    let db = TempDb::new();
    let o = run(&[
        "scan",
        "127.43.0.1-127.43.0.8",
        "--ports",
        "11112",
        "--rate",
        "unlimited",
        "--json",
        "--db",
        &db.arg(),
    ]);
    drop(lab);
    assert!(o.status.success(), "scan failed: {}", stderr(&o));
    let mut got: Vec<(IpAddr, String, Option<bool>)> = stdout(&o)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}"));
            let d = &v["details"];
            (
                v["ip"].as_str().unwrap().parse().unwrap(),
                d["dicom.association"].as_str().unwrap_or("-").to_string(),
                d["dicom.query_without_auth"].as_bool(),
            )
        })
        .collect();
    got.sort();
    let expected: Vec<(IpAddr, String, Option<bool>)> = want
        .into_iter()
        .map(|(ip, verdict)| {
            (
                ip,
                verdict.to_string(),
                (verdict == "accepted").then_some(true),
            )
        })
        .collect();
    assert_eq!(got, expected);
}
