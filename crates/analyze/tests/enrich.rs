//! Enrichment against real MaxMind DB files: a GeoLite2-City and a GeoLite2-ASN database built
//! by `scripts/peers/enrich/make_mmdb.py` (mmdb-writer, installed by
//! `scripts/peers/enrich/install`) over the documentation ranges, with synthetic values.
//!
//! Without the project venv the tests skip with a message on a developer machine; under CI
//! (`CI=true`) a missing venv is a failure, so a CI run can never pass without running them.

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use medsurface_analyze::enrich::{
    DbPaths, DbRole, EnrichError, Enricher, OrgTypes, GEOIP_CITY, GEOIP_FILLED, ORG_TYPE_RULE,
};
use medsurface_model::{Details, Observation, Service, Source, Transport};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Builds the two databases in a fresh directory; `None` (after saying why) when the venv is
/// missing on a developer machine.
fn databases() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
    let python = repo().join(".venv/bin/python");
    if !python.exists() {
        let msg = format!(
            "{} is missing: run scripts/peers/enrich/install (or scripts/install-test-deps)",
            python.display()
        );
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIPPED enrichment mmdb tests: {msg}");
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let out = Command::new(&python)
        .arg(repo().join("scripts/peers/enrich/make_mmdb.py"))
        .arg(dir.path())
        .output()
        .expect("run make_mmdb.py");
    assert!(
        out.status.success(),
        "make_mmdb.py failed (run scripts/peers/enrich/install): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let city = dir.path().join("city.mmdb");
    let asn = dir.path().join("asn.mmdb");
    assert!(city.exists() && asn.exists());
    Some((dir, city, asn))
}

fn service(ip: &str) -> Service {
    Service::from_observation(&Observation {
        ip: ip.parse().unwrap(),
        port: 104,
        transport: Transport::Tcp,
        hostname: None,
        protocol: Some("dicom".into()),
        probe: "shodan".into(),
        source: Source::Shodan,
        seen_at: "2026-01-02T03:04:05Z".parse().unwrap(),
        details: Details::new(),
    })
}

fn enricher(city: &Path, asn: &Path) -> Enricher {
    Enricher::open(DbPaths {
        geoip: Some(city),
        asn: Some(asn),
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

fn filled(s: &Service) -> Vec<&str> {
    s.details
        .get(GEOIP_FILLED)
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default()
}

#[test]
fn lookups_fill_country_city_asn_org_and_org_type() {
    let Some((_dir, city, asn)) = databases() else {
        return;
    };
    let e = enricher(&city, &asn);

    let mut s = service("203.0.113.7");
    e.enrich(&mut s).unwrap();
    assert_eq!(s.country.as_deref(), Some("DE"));
    assert_eq!(s.details[GEOIP_CITY], "Examplestadt");
    assert_eq!(s.asn.as_deref(), Some("AS64496"));
    assert_eq!(s.org.as_deref(), Some("Example University"));
    assert_eq!(s.org_type.as_deref(), Some("university"));
    assert_eq!(filled(&s), ["country", "asn", "org"]);
    assert_eq!(s.details[ORG_TYPE_RULE], "university-words (org)");

    let mut s = service("2001:db8::5");
    e.enrich(&mut s).unwrap();
    assert_eq!(s.country.as_deref(), Some("NL"));
    assert_eq!(s.details[GEOIP_CITY], "Voorbeeldstad");
    assert_eq!(s.asn.as_deref(), Some("AS64499"));
    assert_eq!(s.org_type.as_deref(), Some("hospital"));

    // A Country-level record: no city is invented.
    let mut s = service("192.0.2.200");
    e.enrich(&mut s).unwrap();
    assert_eq!(s.country.as_deref(), Some("JP"));
    assert!(!s.details.contains_key(GEOIP_CITY));
    assert_eq!(s.asn.as_deref(), Some("AS64498"));
    assert_eq!(s.org_type.as_deref(), Some("cloud"));

    let mut s = service("::ffff:198.51.100.1");
    e.enrich(&mut s).unwrap();
    assert_eq!(
        (s.country.as_deref(), s.org_type.as_deref()),
        (Some("FR"), Some("isp"))
    );
}

#[test]
fn what_the_source_says_wins() {
    let Some((_dir, city, asn)) = databases() else {
        return;
    };
    let e = enricher(&city, &asn);
    let mut s = service("198.51.100.3");
    s.country = Some("US".into());
    s.asn = Some("AS7922".into());
    s.org = Some("Comcast Cable Communications, LLC".into());
    s.details.insert("geo.city".into(), "Boston".into());
    e.enrich(&mut s).unwrap();
    assert_eq!(s.country.as_deref(), Some("US"));
    assert_eq!(s.asn.as_deref(), Some("AS7922"));
    assert_eq!(s.org.as_deref(), Some("Comcast Cable Communications, LLC"));
    assert!(!s.details.contains_key(GEOIP_CITY), "geo.city was there");
    assert!(!s.details.contains_key(GEOIP_FILLED));
    assert_eq!(s.org_type.as_deref(), Some("isp"));

    // Only the missing field is filled; an org type already set is kept.
    let mut s = service("203.0.113.9");
    s.org = Some("Städtisches Klinikum Beispiel".into());
    s.org_type = Some("government".into());
    e.enrich(&mut s).unwrap();
    assert_eq!(s.asn.as_deref(), Some("AS64496"));
    assert_eq!(s.org.as_deref(), Some("Städtisches Klinikum Beispiel"));
    assert_eq!(filled(&s), ["country", "asn"]);
    assert_eq!(s.org_type.as_deref(), Some("government"));
}

#[test]
fn an_address_the_databases_do_not_hold_is_a_miss_not_an_error() {
    let Some((_dir, city, asn)) = databases() else {
        return;
    };
    let e = enricher(&city, &asn);
    for ip in ["127.0.0.1", "100.64.1.1", "2001:db9::1"] {
        let mut s = service(ip);
        e.enrich(&mut s).unwrap();
        assert_eq!(
            (s.country.as_ref(), s.asn.as_ref(), s.org.as_ref()),
            (None, None, None)
        );
        // Nothing to judge the holder by: no type rather than a guess.
        assert_eq!(s.org_type, None, "{ip}");
    }
    // With a host name, the type comes from the rules alone.
    let mut s = service("127.0.0.2");
    s.hostname = Some("pacs.example-klinikum.de".into());
    e.enrich(&mut s).unwrap();
    assert_eq!(s.org_type.as_deref(), Some("hospital"));
}

#[test]
fn org_type_is_computed_without_databases() {
    let e = Enricher::open(DbPaths::default()).unwrap();
    let mut s = service("203.0.113.7");
    s.details
        .insert("tls.cert_org".into(), "Université Exemple".into());
    s.details.insert("net.isp".into(), "Exemple Telecom".into());
    e.enrich(&mut s).unwrap();
    assert_eq!(s.country, None);
    assert_eq!(s.org_type.as_deref(), Some("university"));
    assert_eq!(s.details[ORG_TYPE_RULE], "university-words (tls.cert_org)");
}

#[test]
fn a_wrong_database_type_is_an_error_naming_the_file() {
    let Some((_dir, city, asn)) = databases() else {
        return;
    };
    let err = Enricher::open(DbPaths {
        geoip: Some(&asn),
        asn: None,
    })
    .unwrap_err();
    match &err {
        EnrichError::WrongDatabase {
            path,
            role,
            database_type,
        } => {
            assert_eq!(path, &asn);
            assert_eq!(*role, DbRole::Geo);
            assert_eq!(database_type, "GeoLite2-ASN");
        }
        other => panic!("expected WrongDatabase, got {other:?}"),
    }
    assert!(
        err.to_string().contains(&asn.display().to_string()),
        "{err}"
    );
    assert!(err.to_string().contains("City or Country"), "{err}");

    let err = Enricher::open(DbPaths {
        geoip: None,
        asn: Some(&city),
    })
    .unwrap_err();
    assert!(
        matches!(&err, EnrichError::WrongDatabase { role: DbRole::Asn, database_type, .. } if database_type == "GeoLite2-City"),
        "{err:?}"
    );
}

#[test]
fn missing_truncated_and_corrupt_files_are_errors_not_panics() {
    let Some((dir, city, asn)) = databases() else {
        return;
    };
    let missing = dir.path().join("nope.mmdb");
    let err = Enricher::open(DbPaths {
        geoip: Some(&missing),
        asn: None,
    })
    .unwrap_err();
    assert!(matches!(err, EnrichError::Open { .. }), "{err:?}");
    assert!(err.to_string().contains("nope.mmdb"), "{err}");

    let not_mmdb = dir.path().join("text.mmdb");
    fs::write(&not_mmdb, "not a database\n").unwrap();
    let err = Enricher::open(DbPaths {
        geoip: None,
        asn: Some(&not_mmdb),
    })
    .unwrap_err();
    assert!(matches!(err, EnrichError::Open { .. }), "{err:?}");

    // Truncated at every length: never a panic; cut before the metadata, an error at open.
    let bytes = fs::read(&city).unwrap();
    let marker = b"\xab\xcd\xefMaxMind.com";
    let meta_at = bytes
        .windows(marker.len())
        .rposition(|w| w == marker)
        .expect("metadata marker");
    let cut = dir.path().join("cut.mmdb");
    let rules = OrgTypes::builtin().unwrap();
    for len in 0..bytes.len() {
        fs::write(&cut, &bytes[..len]).unwrap();
        let opened = Enricher::new(rules.clone()).with_geoip_db(&cut);
        match opened {
            Err(e) => assert!(e.to_string().contains("cut.mmdb"), "{e}"),
            Ok(e) => {
                assert!(
                    len > meta_at,
                    "opened a file cut at {len} before its metadata"
                );
                for ip in ["203.0.113.7", "198.51.100.1", "192.0.2.1", "2001:db8::1"] {
                    let _ = e.enrich(&mut service(ip));
                }
            }
        }
    }

    // The data section overwritten: lookups fail with an error naming the file, no panic.
    let mut corrupt = fs::read(&asn).unwrap();
    let meta_at = corrupt
        .windows(marker.len())
        .rposition(|w| w == marker)
        .unwrap();
    let data_from = meta_at.saturating_sub(200);
    corrupt[data_from..meta_at].fill(0xff);
    let bad = dir.path().join("corrupt-asn.mmdb");
    fs::write(&bad, &corrupt).unwrap();
    let e = Enricher::open(DbPaths {
        geoip: None,
        asn: Some(&bad),
    })
    .unwrap_or_else(|e| panic!("the metadata is intact: {e}"));
    let mut errors = 0;
    for ip in ["203.0.113.7", "198.51.100.1", "192.0.2.1", "2001:db8::1"] {
        if let Err(err) = e.enrich(&mut service(ip)) {
            assert!(matches!(err, EnrichError::Lookup { .. }), "{err:?}");
            let text = err.to_string();
            assert!(text.contains("corrupt-asn.mmdb"), "{text}");
            assert!(text.contains(ip.parse::<IpAddr>().unwrap().to_string().as_str()));
            errors += 1;
        }
    }
    assert!(errors > 0, "no lookup noticed the corrupt data section");
}
