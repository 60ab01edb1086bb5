//! Probe choice and probe output, end to end: `--probe NAME:PORTS` points a probe at a port the
//! registry would not give it, and every detail key a probe writes is one the field vocabulary
//! (`model::fields`) declares — the same table signature files are checked against.

use medsurface_model::fields::field;

use crate::harness::*;

#[test]
fn probe_override_and_every_detail_key_is_declared() {
    let ip = "127.61.30.5";
    let (web, mysql, hl7, escape) = (free_port(ip), free_port(ip), free_port(ip), free_port(ip));
    let _lab = lab(&[
        format!("http-orthanc@{ip}:{web}"),
        format!("mysql@{ip}:{mysql}"),
        format!("hl7@{ip}:{hl7}"),
        format!("escape@{ip}:{escape}"),
    ]);
    let db = TempDb::new();
    let ports = format!("{web},{mysql},{hl7},{escape}");
    let o = run(&[
        "scan",
        ip,
        "--ports",
        &ports,
        "--rate",
        "unlimited",
        "--read-timeout",
        "500",
        "--json",
        "--db",
        &db.arg(),
        "--probe",
        &format!("http:{web}"),
        "--probe",
        &format!("mysql:{mysql}"),
        "--probe",
        &format!("hl7:{hl7}"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let records: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(records.len(), 4, "{}", stdout(&o));
    let by_port = |p: u16| {
        records
            .iter()
            .find(|r| r["port"] == p)
            .unwrap_or_else(|| panic!("port {p} missing"))
    };
    let w = by_port(web);
    assert_eq!(w["protocol"], "http");
    assert_eq!(w["details"]["http.title"], "Orthanc Explorer");
    assert_eq!(w["category"], "imaging");
    assert_eq!(by_port(mysql)["details"]["db.version"], "8.0.36-lab");
    assert_eq!(
        by_port(hl7)["details"]["hl7.sending_application"],
        "LAB-HIS"
    );
    // The escape kind got the default banner probe, its bytes escaped.
    let e = by_port(escape)["details"]["banner.text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(e.contains("PACS-CONSOLE") && !e.contains('\x1b'), "{e}");

    for r in &records {
        for key in r["details"].as_object().unwrap().keys() {
            assert!(
                field(key).is_some(),
                "port {}: undeclared detail key {key:?}",
                r["port"]
            );
            assert!(
                !key.starts_with('_'),
                "transient key {key:?} reached the output"
            );
        }
    }
}
