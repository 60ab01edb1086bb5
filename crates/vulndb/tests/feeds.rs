//! Loading OSV, NVD CVE JSON 2.0 and CISA KEV files (synthetic fixtures in the feeds' exact
//! shapes), the queries, and bad input.

mod common;

use std::io::Write;

use medsurface_model::version::Scheme;
use medsurface_vulndb::{Error, VulnDb};

fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn ids(v: &[medsurface_vulndb::Advisory]) -> Vec<&str> {
    v.iter().map(|a| a.vulnerability.id.as_str()).collect()
}

fn nvd_and_kev() -> VulnDb {
    let mut db = VulnDb::new();
    let r = db
        .load(&common::fixtures().join("nvd-sample.json"))
        .unwrap();
    assert_eq!(r.nvd_cves, 4, "the Rejected record is skipped");
    let r = db
        .load(&common::fixtures().join("kev-sample.json"))
        .unwrap();
    assert_eq!(r.kev_entries, 3);
    db
}

#[test]
fn nvd_version_bounds_and_wildcards() {
    let db = nvd_and_kev();
    let q = |v: &str| {
        db.advisories_for_cpe(
            "cpe:2.3:a:example_medical:synthetic_pacs:*:*:*:*:*:*:*:*",
            Some(v),
        )
        .unwrap()
    };
    // 4.0 <= v < 4.2.3, or 5.0 < v <= 5.1; CVE-2099-0002 has no bounds (every version).
    assert_eq!(ids(&q("4.0")), vec!["CVE-2099-0001", "CVE-2099-0002"]);
    assert_eq!(ids(&q("4.2.2")), vec!["CVE-2099-0001", "CVE-2099-0002"]);
    assert_eq!(ids(&q("4.2.3")), vec!["CVE-2099-0002"]);
    assert_eq!(ids(&q("3.9")), vec!["CVE-2099-0002"]);
    assert_eq!(ids(&q("5.0")), vec!["CVE-2099-0002"]);
    assert_eq!(ids(&q("5.0.1")), vec!["CVE-2099-0001", "CVE-2099-0002"]);
    assert_eq!(ids(&q("5.1")), vec!["CVE-2099-0001", "CVE-2099-0002"]);
    assert_eq!(ids(&q("5.1.1")), vec!["CVE-2099-0002"]);
    // A criteria naming one version (3.1, update2): equal version only, update compared.
    assert_eq!(ids(&q("3.1")), vec!["CVE-2099-0002", "CVE-2099-0004"]);
    let upd1 = db
        .advisories_for_cpe(
            "cpe:2.3:a:example_medical:synthetic_pacs:3.1:update1:*:*:*:*:*:*",
            None,
        )
        .unwrap();
    assert_eq!(ids(&upd1), vec!["CVE-2099-0002"]);
    // The version may come from the CPE itself.
    let own = db
        .advisories_for_cpe(
            "cpe:2.3:a:example_medical:synthetic_pacs:4.1:*:*:*:*:*:*:*",
            None,
        )
        .unwrap();
    assert_eq!(ids(&own), vec!["CVE-2099-0001", "CVE-2099-0002"]);
    let a = &own[0];
    assert_eq!(a.vulnerability.source, "nvd");
    assert_eq!(a.vulnerability.cvss, Some(9.1), "the Primary metric wins");
    assert!(
        a.vulnerability.known_exploited,
        "CVE-2099-0001 is in the KEV fixture"
    );
    assert_eq!(
        a.evidence.detail,
        "versionStartIncluding 4.0, versionEndExcluding 4.2.3"
    );
    assert_eq!(
        a.evidence.range.as_ref().unwrap().fixed.as_deref(),
        Some("4.2.3")
    );
    assert!(a.evidence.version_checked);
    assert_eq!(
        own[1].vulnerability.cvss,
        Some(8.7),
        "CVSS 4.0 when there is no 3.x"
    );
    assert!(!own[1].vulnerability.known_exploited);
    // The platform criteria (vulnerable: false) is not a match by itself.
    let win = db
        .advisories_for_cpe(
            "cpe:2.3:o:microsoft:windows_server_2012:-:*:*:*:*:*:*:*",
            None,
        )
        .unwrap();
    assert!(win.is_empty());
    // Without any version the criteria match unchecked.
    let any = db
        .advisories_for_cpe(
            "cpe:2.3:a:example_medical:synthetic_pacs:*:*:*:*:*:*:*:*",
            None,
        )
        .unwrap();
    assert_eq!(
        ids(&any),
        vec!["CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0004"]
    );
    assert!(any.iter().all(|a| !a.evidence.version_checked));
    assert!(db.advisories_for_cpe("not a cpe", None).is_err());
}

#[test]
fn product_query_for_assessment() {
    let db = nvd_and_kev();
    // Signature spelling: spaces and case folded into CPE tokens.
    let got = db.advisories_for_product("Example Medical", "Synthetic PACS", Some("4.1"));
    assert_eq!(
        ids(&got),
        vec!["CVE-2099-0001", "CVE-2099-0002", "CVE-2099-0003"]
    );
    let kev_only = &got[2];
    assert_eq!(kev_only.vulnerability.source, "kev");
    assert!(kev_only.vulnerability.known_exploited);
    assert!(!kev_only.evidence.version_checked);
    assert_eq!(kev_only.evidence.matched, "example_medical:synthetic_pacs");
    // Out of range: CVE-2099-0001 drops; the KEV-only one stays (KEV cannot say), the CVE the
    // KEV lists but NVD bounds exclude does not come back through KEV.
    let got = db.advisories_for_product("Example Medical", "Synthetic PACS", Some("4.3"));
    assert_eq!(ids(&got), vec!["CVE-2099-0002", "CVE-2099-0003"]);
    assert!(db
        .advisories_for_product("Other", "Synthetic PACS", Some("4.1"))
        .is_empty());
}

#[test]
fn gzip_feed_streams_like_plain() {
    let dir = common::scratch("gz");
    let text = std::fs::read(common::fixtures().join("nvd-sample.json")).unwrap();
    let gz = dir.join("nvdcve-2.0-2099.json.gz");
    let mut enc = flate2::write::GzEncoder::new(
        std::fs::File::create(&gz).unwrap(),
        flate2::Compression::default(),
    );
    enc.write_all(&text).unwrap();
    enc.finish().unwrap();
    let mut db = VulnDb::new();
    let r = db.load(&gz).unwrap();
    assert_eq!(r.nvd_cves, 4);
    assert_eq!(
        ids(&db.advisories_for_product("example medical", "synthetic pacs", Some("4.0"))),
        vec!["CVE-2099-0001", "CVE-2099-0002"]
    );
    // A truncated .gz names the file.
    let cut = dir.join("cut.json.gz");
    let bytes = std::fs::read(&gz).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let err = VulnDb::new().load(&cut).unwrap_err();
    assert!(err.to_string().contains("cut.json.gz"), "{err}");
}

#[test]
fn directory_of_any_mix() {
    let dir = common::scratch("mix");
    std::fs::create_dir_all(dir.join("osv/npm")).unwrap();
    for f in ["nvd-sample.json", "kev-sample.json"] {
        std::fs::copy(common::fixtures().join(f), dir.join(f)).unwrap();
    }
    write(&dir, "README.txt", "not data");
    write(
        &dir.join("osv/npm"),
        "MEDSURFACE-TEST-0005.json",
        r#"{"id": "MEDSURFACE-TEST-0005", "aliases": ["CVE-2099-0005"], "summary": "npm semver range",
            "affected": [{"package": {"ecosystem": "npm", "name": "@example/left-pad-ish"},
              "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0-rc.1"}, {"fixed": "1.4.2"},
                                                        {"introduced": "2.0.0"}, {"last_affected": "2.1.0"}]}]}]}"#,
    );
    let mut db = VulnDb::new();
    let r = db.load(&dir).unwrap();
    assert_eq!(
        (r.files, r.nvd_cves, r.kev_entries, r.osv_advisories),
        (3, 4, 3, 1)
    );
    assert_eq!(r.skipped.len(), 1);
    let q = |p: &str| ids(&db.advisories_for_purl(p).unwrap()).join(",");
    // Semver: pre-release of 1.0.0 is after rc.1; 1.4.2-beta is before the fix.
    assert_eq!(
        q("pkg:npm/%40example/left-pad-ish@1.0.0-rc.2"),
        "MEDSURFACE-TEST-0005"
    );
    assert_eq!(q("pkg:npm/%40example/left-pad-ish@1.0.0-beta"), "");
    assert_eq!(
        q("pkg:npm/%40example/left-pad-ish@1.4.2-beta.1"),
        "MEDSURFACE-TEST-0005"
    );
    assert_eq!(q("pkg:npm/%40example/left-pad-ish@1.4.2"), "");
    assert_eq!(
        q("pkg:npm/%40example/left-pad-ish@2.1.0"),
        "MEDSURFACE-TEST-0005"
    );
    assert_eq!(q("pkg:npm/%40example/left-pad-ish@2.1.1"), "");
    assert_eq!(
        q("pkg:npm/%40example/left-pad-ish"),
        "",
        "no version: no claim"
    );
    let a = &db
        .advisories_for_purl("pkg:npm/%40example/left-pad-ish@2.0.5?foo=bar#lib/x")
        .unwrap()[0];
    assert!(
        a.vulnerability.known_exploited,
        "its alias is in the KEV fixture"
    );
    assert_eq!(a.evidence.scheme, Scheme::Semver);
    assert_eq!(a.evidence.detail, "introduced 2.0.0, last_affected 2.1.0");
    assert!(db.advisories_for_purl("pkg:npm/%zz").is_err());
}

#[test]
fn ecosystem_schemes_in_osv_ranges() {
    let dir = common::scratch("eco");
    write(
        &dir,
        "eco.json",
        r#"[
          {"id": "MEDSURFACE-TEST-MVN", "affected": [{"package": {"ecosystem": "Maven", "name": "org.example:dicom-core"},
             "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]}]}]},
          {"id": "MEDSURFACE-TEST-DEB", "affected": [
             {"package": {"ecosystem": "Debian:11", "name": "openssl"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.1.1n-0+deb11u4"}]}]},
             {"package": {"ecosystem": "Debian:12", "name": "openssl"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.11-1~deb12u2"}]}]}]},
          {"id": "MEDSURFACE-TEST-LIST", "affected": [{"package": {"ecosystem": "SomethingNew", "name": "thing"},
             "versions": ["7.1-x"], "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]},
          {"id": "MEDSURFACE-TEST-GIT", "affected": [{"package": {"ecosystem": "PyPI", "name": "gitonly"},
             "ranges": [{"type": "GIT", "repo": "https://example.invalid/x.git", "events": [{"introduced": "abc123"}]}]}]}
        ]"#,
    );
    let mut db = VulnDb::new();
    db.load(&dir.join("eco.json")).unwrap();
    let q =
        |eco: &str, name: &str, v: &str| ids(&db.advisories_for_package(eco, name, v)).join(",");
    assert_eq!(
        q("Maven", "org.example:dicom-core", "2.14.1"),
        "MEDSURFACE-TEST-MVN"
    );
    assert_eq!(q("Maven", "org.example:dicom-core", "2.0-beta8"), "");
    assert_eq!(q("Maven", "org.example:dicom-core", "2.15.0"), "");
    assert_eq!(
        ids(&db
            .advisories_for_purl("pkg:maven/org.example/dicom-core@2.0-rc1?type=jar")
            .unwrap()),
        vec!["MEDSURFACE-TEST-MVN"]
    );
    // Debian: the release in the ecosystem name selects the advisory's entry.
    assert_eq!(
        q("Debian:11", "openssl", "1.1.1n-0+deb11u3"),
        "MEDSURFACE-TEST-DEB"
    );
    assert_eq!(q("Debian:11", "openssl", "1.1.1n-0+deb11u10"), "");
    assert_eq!(
        q("Debian:12", "openssl", "3.0.11-1~deb12u1"),
        "MEDSURFACE-TEST-DEB"
    );
    assert_eq!(q("Debian:12", "openssl", "3.0.11-1"), "");
    assert_eq!(
        ids(&db
            .advisories_for_purl(
                "pkg:deb/debian/openssl@1.1.1n-0%2Bdeb11u3?arch=amd64&distro=debian-11"
            )
            .unwrap()),
        vec!["MEDSURFACE-TEST-DEB"]
    );
    // An unknown ecosystem: only the explicit versions list can match; its range is not used.
    assert_eq!(q("SomethingNew", "thing", "7.1-x"), "MEDSURFACE-TEST-LIST");
    assert_eq!(q("SomethingNew", "thing", "7.2"), "");
    // GIT ranges name commits; they never match a version.
    assert_eq!(q("PyPI", "gitonly", "1.0"), "");
}

#[test]
fn bad_files_name_file_and_line() {
    let dir = common::scratch("bad");
    let p = write(
        &dir,
        "broken.json",
        "{\n  \"id\": \"X\",\n  \"affected\": [\n    {,}\n  ]\n}\n",
    );
    match VulnDb::new().load(&p).unwrap_err() {
        Error::ParseJson { path, line, .. } => {
            assert_eq!(path, p);
            assert_eq!(line, 4);
        }
        other => panic!("{other:?}"),
    }
    // An event with two keys is refused, with the advisory, the place and the line.
    let p = write(
        &dir,
        "twokeys.json",
        "{\"id\": \"MEDSURFACE-TEST-2\",\n \"affected\": [{\"package\": {\"ecosystem\": \"PyPI\", \"name\": \"x\"},\n  \"ranges\": [{\"type\": \"ECOSYSTEM\", \"events\": [{\"introduced\": \"0\", \"fixed\": \"1\"}]}]}]}\n",
    );
    let msg = VulnDb::new().load(&p).unwrap_err().to_string();
    assert!(
        msg.contains("twokeys.json")
            && msg.contains("line 3")
            && msg.contains("affected[0].ranges[0].events[0]"),
        "{msg}"
    );
    // Wrong types inside an NVD record: line of the record.
    let p = write(
        &dir,
        "nvd-bad.json",
        "{\"format\": \"NVD_CVE\", \"vulnerabilities\": [\n{\"cve\": {\"id\": \"CVE-2099-1\"}},\n{\"cve\": {\"id\": 7}}\n]}",
    );
    let msg = VulnDb::new().load(&p).unwrap_err().to_string();
    assert!(msg.contains("nvd-bad.json: line 3"), "{msg}");
    // A bad CPE criteria names the CVE and the JSON place.
    let p = write(
        &dir,
        "nvd-cpe.json",
        "{\"format\": \"NVD_CVE\", \"vulnerabilities\": [{\"cve\": {\"id\": \"CVE-2099-2\", \"configurations\": [{\"nodes\": [{\"cpeMatch\": [{\"vulnerable\": true, \"criteria\": \"cpe:2.3:a:x\"}]}]}]}}]}",
    );
    let msg = VulnDb::new().load(&p).unwrap_err().to_string();
    assert!(
        msg.contains("CVE-2099-2: configurations[0].nodes[0].cpeMatch[0].criteria"),
        "{msg}"
    );
    // Formats that are not vulnerability data, or retired ones.
    let p = write(
        &dir,
        "old.json",
        "{\"CVE_data_type\": \"CVE\", \"CVE_Items\": []}",
    );
    assert!(VulnDb::new()
        .load(&p)
        .unwrap_err()
        .to_string()
        .contains("NVD 1.1"));
    let p = write(
        &dir,
        "sbom.json",
        "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"1.6\"}",
    );
    assert!(VulnDb::new()
        .load(&p)
        .unwrap_err()
        .to_string()
        .contains("an SBOM"));
    let p = write(&dir, "text.json", "hello");
    assert!(VulnDb::new()
        .load(&p)
        .unwrap_err()
        .to_string()
        .contains("not JSON"));
    let p = write(
        &dir,
        "kev.json",
        "{\"catalogVersion\": \"x\", \"vulnerabilities\": [{\"cveID\": \"CVE-2099-1\"}]}",
    );
    let msg = VulnDb::new().load(&p).unwrap_err().to_string();
    assert!(
        msg.contains("kev.json: line 1") && msg.contains("vendorProject"),
        "{msg}"
    );
    let missing = dir.join("nope.json");
    assert!(matches!(
        VulnDb::new().load(&missing),
        Err(Error::Read { .. })
    ));
    // A good file loaded before a bad one stays loaded.
    let mut db = VulnDb::new();
    db.load(&common::fixtures().join("kev-sample.json"))
        .unwrap();
    assert!(db.load(&dir.join("broken.json")).is_err());
    assert!(db.is_known_exploited("cve-2099-0001", &[]));
}

#[test]
fn large_feed_is_streamed() {
    // 20,000 records with the fields real yearly feeds carry (about 14 MB of text): loaded from
    // a stream, queries find the right ones.
    let dir = common::scratch("large");
    let p = dir.join("nvdcve-2.0-2098.json");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
    write!(f, "{{\"resultsPerPage\": 20000, \"startIndex\": 0, \"totalResults\": 20000, \"format\": \"NVD_CVE\", \"version\": \"2.0\", \"timestamp\": \"2026-11-01T00:00:00.000\", \"vulnerabilities\": [").unwrap();
    for i in 0..20_000 {
        if i > 0 {
            write!(f, ",").unwrap();
        }
        write!(
            f,
            "{{\"cve\": {{\"id\": \"CVE-2098-{i:05}\", \"sourceIdentifier\": \"cve@example.invalid\", \"published\": \"2098-01-01T00:00:00.000\", \"lastModified\": \"2098-01-02T00:00:00.000\", \"vulnStatus\": \"Analyzed\", \"cveTags\": [], \"descriptions\": [{{\"lang\": \"en\", \"value\": \"Synthetic record number {i} in product p{m} of vendor v{v}; padding padding padding padding padding padding.\"}}], \"metrics\": {{\"cvssMetricV31\": [{{\"source\": \"nvd@nist.gov\", \"type\": \"Primary\", \"cvssData\": {{\"version\": \"3.1\", \"vectorString\": \"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\", \"baseScore\": 9.8, \"baseSeverity\": \"CRITICAL\", \"attackVector\": \"NETWORK\", \"attackComplexity\": \"LOW\"}}, \"exploitabilityScore\": 3.9, \"impactScore\": 5.9}}]}}, \"weaknesses\": [{{\"source\": \"nvd@nist.gov\", \"type\": \"Primary\", \"description\": [{{\"lang\": \"en\", \"value\": \"CWE-787\"}}]}}], \"configurations\": [{{\"nodes\": [{{\"operator\": \"OR\", \"negate\": false, \"cpeMatch\": [{{\"vulnerable\": true, \"criteria\": \"cpe:2.3:a:v{v}:p{m}:*:*:*:*:*:*:*:*\", \"versionEndExcluding\": \"{i}.0\", \"matchCriteriaId\": \"00000000-0000-0000-0000-000000000000\"}}]}}]}}], \"references\": [{{\"url\": \"https://example.invalid/{i}\", \"source\": \"cve@example.invalid\", \"tags\": [\"Third Party Advisory\"]}}]}}}}",
            m = i % 100,
            v = i % 7,
        )
        .unwrap();
    }
    write!(f, "]}}").unwrap();
    f.flush().unwrap();
    drop(f);
    let mut db = VulnDb::new();
    assert_eq!(db.load(&p).unwrap().nvd_cves, 20_000);
    // p42 of v0: i ≡ 42 (mod 100) and i ≡ 0 (mod 7), version 19000 < i.0 for i > 19000.
    let got = db.advisories_for_product("v0", "p42", Some("19000"));
    let want: Vec<String> = (19_001..20_000)
        .filter(|i| i % 100 == 42 && i % 7 == 0)
        .map(|i| format!("CVE-2098-{i:05}"))
        .collect();
    assert_eq!(
        ids(&got),
        want.iter().map(String::as_str).collect::<Vec<_>>()
    );
    assert!(!want.is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn osv_all_zip_as_downloaded() {
    use zip::write::SimpleFileOptions;
    let dir = common::scratch("zip");
    let p = dir.join("all.zip");
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opts = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file("GHSA-x84v-xcm2-53pg.json", opts).unwrap();
    z.write_all(&std::fs::read(common::fixtures().join("osv/PYSEC-requests.json")).unwrap())
        .unwrap();
    z.start_file("README", opts).unwrap();
    z.write_all(b"not json").unwrap();
    z.start_file("MEDSURFACE-TEST-BAD.json", opts).unwrap();
    z.write_all(b"{\"id\": \"MEDSURFACE-TEST-BAD\",\n \"affected\": 5}")
        .unwrap();
    z.finish().unwrap();
    let err = VulnDb::new().load(&p).unwrap_err().to_string();
    assert!(
        err.contains("all.zip!MEDSURFACE-TEST-BAD.json: line 2"),
        "{err}"
    );

    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    z.start_file("GHSA-x84v-xcm2-53pg.json", opts).unwrap();
    z.write_all(&std::fs::read(common::fixtures().join("osv/PYSEC-requests.json")).unwrap())
        .unwrap();
    z.finish().unwrap();
    let mut db = VulnDb::new();
    let r = db.load(&dir).unwrap();
    assert_eq!((r.files, r.osv_advisories), (1, 1));
    assert_eq!(
        ids(&db.advisories_for_package("PyPI", "Requests", "2.19.0")),
        vec!["GHSA-x84v-xcm2-53pg"]
    );
    // Not a zip at all.
    std::fs::write(&p, b"PK but not really").unwrap();
    assert!(VulnDb::new()
        .load(&p)
        .unwrap_err()
        .to_string()
        .contains("all.zip"));
}
