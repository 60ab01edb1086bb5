//! Hand-written SBOM edge cases: nested components, missing versions, unknown ecosystems, purls
//! with qualifiers/subpaths/percent-encoding, malformed JSON, unsupported versions, and end of
//! support.

mod common;

use std::path::Path;

use jiff::civil::Date;
use medsurface_vulndb::{match_sbom, EndOfSupport, Error, Sbom, VulnDb};

fn parse(text: &str) -> Result<Sbom, Error> {
    Sbom::parse(Path::new("device.cdx.json"), text.as_bytes())
}

const NESTED: &str = r#"{
  "bomFormat": "CycloneDX",
  "specVersion": "1.5",
  "metadata": {
    "component": {"type": "device", "name": "Synthetic Ultrasound", "version": "7.0",
                  "manufacturer": {"name": "Example Imaging"}}
  },
  "components": [
    {"type": "operating-system", "name": "Windows 7 Embedded Standard", "version": "6.1.7601",
     "cpe": "cpe:2.3:o:microsoft:windows_7:-:sp1:*:*:*:*:*:*",
     "components": [
        {"type": "library", "name": "openssl", "version": "1.0.2u", "supplier": {"name": "OpenSSL Project"},
         "cpe": "cpe:2.3:a:openssl:openssl:1.0.2u:*:*:*:*:*:*:*",
         "components": [
            {"type": "library", "group": "org.example", "name": "dicom-core",
             "purl": "pkg:maven/org.example/dicom-core@2.14.1?type=jar&classifier=sources#sub/dir"}
         ]}
     ]},
    {"type": "library", "name": "left-pad-ish", "purl": "pkg:npm/%40example/left-pad-ish@2.0.5"},
    {"type": "library", "name": "mystery", "version": "1.0", "purl": "pkg:foo/mystery@1.0"},
    {"type": "library", "name": "no-version", "purl": "pkg:pypi/requests"},
    {"type": "firmware", "name": "bare firmware", "version": "3"},
    {"type": "library", "name": "jquery", "version": "1.12.4", "purl": "pkg:npm/jquery@1.12.4"}
  ]
}"#;

#[test]
fn nested_components_are_flattened_with_paths() {
    let s = parse(NESTED).unwrap();
    assert_eq!(s.device.name.as_deref(), Some("Synthetic Ultrasound"));
    assert_eq!(s.device.supplier.as_deref(), Some("Example Imaging"));
    let paths: Vec<(&str, &str)> = s
        .components
        .iter()
        .map(|c| (c.name.as_str(), c.path.as_str()))
        .collect();
    assert_eq!(
        paths,
        vec![
            ("Windows 7 Embedded Standard", "components[0]"),
            ("openssl", "components[0].components[0]"),
            (
                "org.example/dicom-core",
                "components[0].components[0].components[0]"
            ),
            ("left-pad-ish", "components[1]"),
            ("mystery", "components[2]"),
            ("no-version", "components[3]"),
            ("bare firmware", "components[4]"),
            ("jquery", "components[5]"),
        ]
    );
    assert_eq!(s.components[1].supplier.as_deref(), Some("OpenSSL Project"));
    assert_eq!(s.components[2].ecosystem.as_deref(), Some("Maven"));
    assert_eq!(s.components[2].version, None);
    assert_eq!(s.components[4].ecosystem, None);
}

#[test]
fn matching_edge_cases() {
    let dir = common::scratch("edges");
    std::fs::write(
        dir.join("osv.json"),
        r#"[{"id": "MEDSURFACE-TEST-MVN", "affected": [{"package": {"ecosystem": "Maven", "name": "org.example:dicom-core"},
              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "2.0-beta9"}, {"fixed": "2.15.0"}]}]}]},
            {"id": "MEDSURFACE-TEST-NPM", "affected": [{"package": {"ecosystem": "npm", "name": "@example/left-pad-ish"},
              "ranges": [{"type": "SEMVER", "events": [{"introduced": "2.0.0"}, {"fixed": "2.0.6"}]}]}]}]"#,
    )
    .unwrap();
    let mut db = VulnDb::new();
    db.load(&dir).unwrap();
    let s = parse(NESTED).unwrap();
    let today: Date = "2026-11-28".parse().unwrap();
    let eos = EndOfSupport::builtin();
    let f = match_sbom(&s, &db, Some(&eos), today);
    let by = |name: &str| f.iter().find(|x| x.component.name == name);
    // The version comes from the purl when the component has no version field; qualifiers
    // and subpath do not get in the way.
    assert_eq!(
        by("org.example/dicom-core").unwrap().advisories[0]
            .vulnerability
            .id,
        "MEDSURFACE-TEST-MVN"
    );
    assert_eq!(
        by("left-pad-ish").unwrap().advisories[0].vulnerability.id,
        "MEDSURFACE-TEST-NPM"
    );
    assert!(by("mystery")
        .unwrap()
        .unchecked
        .as_deref()
        .unwrap()
        .contains("\"foo\""));
    assert_eq!(
        by("no-version").unwrap().unchecked.as_deref(),
        Some("no version")
    );
    assert_eq!(
        by("bare firmware").unwrap().unchecked.as_deref(),
        Some("no purl or CPE to look it up by")
    );
    // End of support: Windows 7 (by name and CPE), OpenSSL 1.0.2 (CPE + prefix), jQuery 1.x.
    let w7 = by("Windows 7 Embedded Standard")
        .unwrap()
        .end_of_support
        .clone()
        .unwrap();
    assert_eq!((w7.product.as_str(), w7.past), ("Windows 7", true));
    let ssl = by("openssl").unwrap().end_of_support.clone().unwrap();
    assert_eq!(ssl.product, "OpenSSL 1.0.2");
    assert_eq!(ssl.end_of_support, "2019-12-31".parse::<Date>().unwrap());
    assert!(ssl.source.starts_with("https://"));
    assert_eq!(
        by("jquery")
            .unwrap()
            .end_of_support
            .as_ref()
            .unwrap()
            .product,
        "jQuery 1.x"
    );
    // As of a date before OpenSSL 1.0.2's end, it is listed but not past.
    let early = match_sbom(&s, &db, Some(&eos), "2019-06-01".parse().unwrap());
    let ssl = early
        .iter()
        .find(|x| x.component.name == "openssl")
        .unwrap();
    assert!(!ssl.end_of_support.as_ref().unwrap().past);
}

#[test]
fn malformed_and_unsupported_documents() {
    // Syntax error: line and column.
    let err = parse("{\n  \"bomFormat\": \"CycloneDX\",\n  \"specVersion\": \"1.6\",\n  \"components\": [\n    {\"name\": \"x\",}\n  ]\n}").unwrap_err();
    match &err {
        Error::ParseJson { line, .. } => assert_eq!(*line, 5),
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().starts_with("device.cdx.json: line 5"),
        "{err}"
    );
    // Unsupported versions, with the supported list.
    let msg = parse(r#"{"bomFormat": "CycloneDX", "specVersion": "1.2", "components": []}"#)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("specVersion") && msg.contains("1.4, 1.5, 1.6"),
        "{msg}"
    );
    let msg = parse(r#"{"bomFormat": "CycloneDX", "specVersion": 1.5}"#)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("specVersion: missing or not a string"),
        "{msg}"
    );
    let msg = parse(r#"{"spdxVersion": "SPDX-2.2", "packages": []}"#)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("SPDX-2.2 is not supported"), "{msg}");
    // Content errors name the JSON path.
    let msg = parse(r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "a", "components": [{"version": "1"}]}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("components[0].components[0].name: component without a name"),
        "{msg}"
    );
    let msg = parse(r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": [{"name": "a", "purl": "pkg:npm/%4"}]}"#)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("components[0].purl"), "{msg}");
    let msg =
        parse(r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": {"name": "a"}}"#)
            .unwrap_err()
            .to_string();
    assert!(msg.contains("components: expected an array"), "{msg}");
    let msg = parse(r#"{"spdxVersion": "SPDX-2.3", "packages": [{"SPDXID": "SPDXRef-1", "name": "x", "externalRefs": [{"referenceType": "purl", "referenceLocator": 5}]}]}"#)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("packages[0].externalRefs[0].referenceLocator: expected a string"),
        "{msg}"
    );
    assert!(parse("[]").unwrap_err().to_string().contains("JSON object"));
    assert!(parse(r#"{"hello": 1}"#)
        .unwrap_err()
        .to_string()
        .contains("neither CycloneDX"));
    // Deep nesting is refused, not a stack overflow: by this reader past 32 component levels,
    // by serde_json's recursion limit beyond that.
    let deep = |levels: usize| {
        let mut d =
            String::from(r#"{"bomFormat": "CycloneDX", "specVersion": "1.6", "components": ["#);
        for _ in 0..levels {
            d.push_str(r#"{"name": "n", "components": ["#);
        }
        for _ in 0..levels {
            d.push_str("]}");
        }
        d.push_str("]}");
        d
    };
    assert!(parse(&deep(40))
        .unwrap_err()
        .to_string()
        .contains("deeper than 32"));
    assert!(matches!(
        parse(&deep(200)),
        Err(Error::ParseJson { line: 1, .. })
    ));
    assert_eq!(parse(&deep(20)).unwrap().components.len(), 20);
    assert!(matches!(
        Sbom::load(Path::new("/nonexistent/x.json")),
        Err(Error::Read { .. })
    ));
}

#[test]
fn spdx_hand_written_with_describes_and_cpe22() {
    let s = Sbom::parse(
        Path::new("device.spdx.json"),
        br#"{"spdxVersion": "SPDX-2.3", "SPDXID": "SPDXRef-DOCUMENT", "name": "doc",
            "documentDescribes": ["SPDXRef-dev"],
            "packages": [
              {"SPDXID": "SPDXRef-lib", "name": "libssl", "versionInfo": "1.0.2k", "supplier": "NOASSERTION",
               "originator": "Organization: OpenSSL Project (openssl@example.invalid)",
               "externalRefs": [{"referenceCategory": "SECURITY", "referenceType": "cpe22Type", "referenceLocator": "cpe:/a:openssl:openssl:1.0.2k"}]},
              {"SPDXID": "SPDXRef-dev", "name": "Infusion Pump", "versionInfo": "2.1", "supplier": "Organization: Example Medical"}
            ]}"#,
    )
    .unwrap();
    assert_eq!(s.device.name.as_deref(), Some("Infusion Pump"));
    assert_eq!(s.device.supplier.as_deref(), Some("Example Medical"));
    assert_eq!(s.components.len(), 1);
    assert_eq!(s.components[0].supplier.as_deref(), Some("OpenSSL Project"));
    let f = match_sbom(
        &s,
        &VulnDb::new(),
        Some(&EndOfSupport::builtin()),
        "2026-01-01".parse().unwrap(),
    );
    assert_eq!(
        f[0].end_of_support.as_ref().unwrap().product,
        "OpenSSL 1.0.2"
    );
}
