//! Enrichment end to end: a Shodan export without location, ASN or organisation, counted by
//! country, ASN and organisation type with small GeoLite2-City and GeoLite2-ASN databases that
//! `scripts/peers/enrich/make_mmdb.py` builds (synthetic values over the documentation ranges:
//! 203.0.113.0/24 → DE, AS64496 "Example University"; 198.51.100.0/24 → FR, AS64497 "Exemple
//! Telecom SA"; 192.0.2.0/24 → JP, AS64498 "Example Cloud Hosting Ltd"; 2001:db8::/32 → NL,
//! AS64499 "Voorbeeld Ziekenhuis").
//!
//! Without the project venv the test skips with a message on a developer machine; under CI
//! (`CI=true`) that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::harness::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// (city.mmdb, asn.mmdb) built in `dir`, or `None` when the venv is missing locally.
fn databases(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    let python = repo().join(".venv/bin/python");
    if !python.exists() {
        let msg = format!(
            "{} is missing: run scripts/peers/enrich/install (or scripts/install-test-deps)",
            python.display()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED enrichment e2e test: {msg}");
        return None;
    }
    let out = Command::new(&python)
        .arg(repo().join("scripts/peers/enrich/make_mmdb.py"))
        .arg(dir)
        .output()
        .expect("run make_mmdb.py");
    assert!(
        out.status.success(),
        "make_mmdb.py failed (run scripts/peers/enrich/install): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((dir.join("city.mmdb"), dir.join("asn.mmdb")))
}

/// A Shodan banner of a DICOM server at `ip`, with the always-present fields only, plus `extra`
/// fields (a source's own location, ASN, organisation).
fn banner(ip: &str, extra: &str) -> String {
    let addr = if ip.contains(':') { "ipv6" } else { "ip_str" };
    format!(
        concat!(
            r#"{{"{addr}": "{ip}", "port": 104, "transport": "tcp", "hash": 1, "#,
            r#""timestamp": "2026-03-01T10:00:00.000000", "hostnames": [], "domains": [], "#,
            r#""data": "DICOM Server Response\nAE Title: ANY-SCP\nImplementation Class UID: 1.2.276.0.7230010.3.0.3.6.6\nImplementation Version Name: OFFIS_DCMTK_366\n""#,
            "{extra}}}\n"
        ),
        addr = addr,
        ip = ip,
        extra = extra
    )
}

struct Lab {
    db: TempDb,
    config: PathBuf,
}

impl Lab {
    /// `medsurface stats --json --by BY` with extra arguments and environment, isolated from the
    /// user's configuration file.
    fn stats(&self, by: &str, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let mut c = bin();
        c.env("MEDSURFACE_CONFIG", &self.config)
            .env_remove("MEDSURFACE_GEOIP_DB")
            .env_remove("MEDSURFACE_ASN_DB")
            .args(["stats", "--json", "--db", &self.db.arg(), "--by", by])
            .args(args);
        for (k, v) in env {
            c.env(k, v);
        }
        c.output().expect("run medsurface")
    }

    fn counts(&self, by: &str, args: &[&str], env: &[(&str, &Path)]) -> Vec<(String, u64)> {
        let o = self.stats(by, args, env);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                (
                    v[by].as_str().unwrap().to_string(),
                    v["services"].as_u64().unwrap(),
                )
            })
            .collect()
    }
}

fn pairs(v: &[(&str, u64)]) -> Vec<(String, u64)> {
    v.iter().map(|(k, n)| (k.to_string(), *n)).collect()
}

#[test]
fn stats_by_country_asn_and_org_type_with_generated_mmdbs() {
    let db = TempDb::new();
    let Some((city, asn)) = databases(db.dir.path()) else {
        return;
    };
    let lab = Lab {
        config: db.dir.path().join("no-config.toml"),
        db,
    };
    let mut export = String::new();
    for ip in ["203.0.113.10", "203.0.113.11", "203.0.113.12"] {
        export.push_str(&banner(ip, ""));
    }
    for ip in ["198.51.100.20", "198.51.100.21"] {
        export.push_str(&banner(ip, ""));
    }
    export.push_str(&banner("192.0.2.30", ""));
    export.push_str(&banner("2001:db8::40", ""));
    // The source names its own location, ASN and organisation: they win over the databases.
    export.push_str(&banner(
        "203.0.113.99",
        r#", "location": {"country_code": "US", "city": "Boston"}, "asn": "AS7922", "org": "Comcast Cable Communications, LLC""#,
    ));
    let file = lab.db.dir.path().join("export.json");
    std::fs::write(&file, export).unwrap();
    let o = run(&[
        "ingest",
        "shodan",
        &file.display().to_string(),
        "--db",
        &lab.db.arg(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("8 records"), "{}", stderr(&o));

    let dbs = [
        "--geoip-db",
        city.to_str().unwrap(),
        "--asn-db",
        asn.to_str().unwrap(),
    ];
    assert_eq!(
        lab.counts("country", &dbs, &[]),
        pairs(&[("DE", 3), ("FR", 2), ("JP", 1), ("NL", 1), ("US", 1)])
    );
    assert_eq!(
        lab.counts("asn", &dbs, &[]),
        pairs(&[
            ("AS64496", 3),
            ("AS64497", 2),
            ("AS64498", 1),
            ("AS64499", 1),
            ("AS7922", 1)
        ])
    );
    // 198.51.100.x (Exemple Telecom) and the source's own Comcast are ISPs.
    assert_eq!(
        lab.counts("org_type", &dbs, &[]),
        pairs(&[("isp", 3), ("university", 3), ("cloud", 1), ("hospital", 1)])
    );
    // The same databases from the environment.
    assert_eq!(
        lab.counts(
            "org_type",
            &[],
            &[("MEDSURFACE_GEOIP_DB", &city), ("MEDSURFACE_ASN_DB", &asn)]
        ),
        pairs(&[("isp", 3), ("university", 3), ("cloud", 1), ("hospital", 1)])
    );
    // And from the configuration file.
    let config = lab.db.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "geoip_db = {:?}\nasn_db = {:?}\n",
            city.display().to_string(),
            asn.display().to_string()
        ),
    )
    .unwrap();
    let from_config = Lab {
        db: TempDb {
            dir: tempfile::tempdir().unwrap(),
        },
        config: config.clone(),
    };
    std::fs::copy(lab.db.path(), from_config.db.path()).unwrap();
    assert_eq!(
        from_config.counts("country", &[], &[]),
        pairs(&[("DE", 3), ("FR", 2), ("JP", 1), ("NL", 1), ("US", 1)])
    );

    // Without databases: only what the source said; the org type still from the rules.
    assert_eq!(
        lab.counts("country", &[], &[]),
        pairs(&[("unknown", 7), ("US", 1)])
    );
    assert_eq!(
        lab.counts("org_type", &[], &[]),
        pairs(&[("unknown", 7), ("isp", 1)])
    );

    // The ASN database given as the GeoIP database: an input error naming the file.
    let o = lab.stats("country", &["--geoip-db", asn.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("asn.mmdb"), "{}", stderr(&o));
    assert!(stderr(&o).contains("GeoLite2-ASN"), "{}", stderr(&o));
    let missing = lab.db.dir.path().join("missing.mmdb");
    let o = lab.stats("country", &["--asn-db", missing.to_str().unwrap()], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.mmdb"), "{}", stderr(&o));
}
