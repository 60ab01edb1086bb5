//! Device evidence through medsurface-vulndb: the demo register's SBOM matched against the demo
//! OSV advisories (fictional ids), and bad evidence files named in the error.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use medsurface_supply::{
    summaries, Evidence, Inputs, Register, SupplyError, VendorRubric, VulnSources,
};

fn demo(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data/demo-vendors")
        .join(name)
}

fn today() -> jiff::civil::Date {
    "2026-11-28".parse().unwrap()
}

#[test]
fn demo_sbom_components_are_flagged_by_the_demo_advisories() {
    let register = Register::load(&demo("vendors.toml")).unwrap();
    let pacs = register.find("Example PACS Partners").unwrap();
    let evidence = Evidence::load(&VulnSources {
        osv: vec![demo("osv")],
        ..VulnSources::default()
    })
    .unwrap();
    let f = evidence.findings(pacs, today()).unwrap();
    assert_eq!(f.vulnerable_components, 2, "{f:#?}");
    assert_eq!(f.kev_components, 0);
    // CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N is 9.1.
    assert_eq!(f.max_cvss, Some(9.1));
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("demo-dicom-relay 2.3.0") && n.contains("MEDSURFACE-DEMO-0001")),
        "{:?}",
        f.notes
    );
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("demo-viewer-ui 0.9.1") && n.contains("MEDSURFACE-DEMO-0002")),
        "{:?}",
        f.notes
    );
    // The clean component is not mentioned.
    assert!(
        !f.notes.iter().any(|n| n.contains("demo-log-shipper")),
        "{:?}",
        f.notes
    );

    // Without vulnerability data the SBOM is still read, and the summary says what is missing.
    let bare = Evidence::load(&VulnSources::default()).unwrap();
    let f = bare.findings(pacs, today()).unwrap();
    assert_eq!(f.vulnerable_components, 0);
    assert!(
        f.notes
            .iter()
            .any(|n| n.contains("no vulnerability data was given")),
        "{:?}",
        f.notes
    );

    // Through the whole stage: the vendor's rating now cites the vulnerable components.
    let services = vec![service(
        "203.0.113.45",
        4242,
        Some("Orthanc project"),
        Some("Orthanc"),
    )];
    let vulns = VulnSources {
        osv: vec![demo("osv")],
        ..VulnSources::default()
    };
    let out = summaries(
        &register,
        &Inputs {
            services: &services,
            vulns: &vulns,
            today: today(),
        },
        &VendorRubric::builtin().unwrap(),
    )
    .unwrap();
    let s = out
        .iter()
        .find(|s| s.vendor == "Example PACS Partners")
        .unwrap();
    assert_eq!(s.vulnerable_components, 2);
    let d = s.dread.as_ref().unwrap();
    assert_eq!(d.evidence["exploitability"].rule, "vulnerable-components");
    assert_eq!(
        d.evidence["exploitability"].reason,
        "2 device components have known vulnerabilities (highest CVSS 9.1)"
    );
}

#[test]
fn bad_evidence_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    // A malformed OSV source.
    let osv = dir.path().join("broken.json");
    std::fs::write(&osv, "{\"id\": \"X\", \"affected\": [\n").unwrap();
    let Err(e) = Evidence::load(&VulnSources {
        osv: vec![osv.clone()],
        ..VulnSources::default()
    }) else {
        panic!("a broken OSV file loaded");
    };
    assert!(matches!(e, SupplyError::Evidence(_)));
    assert!(e.to_string().contains(&osv.display().to_string()), "{e}");

    // A register whose SBOM is not an SBOM: the register loads (the file exists), the
    // evidence step names the SBOM.
    std::fs::write(
        dir.path().join("device.cdx.json"),
        "{\"bomFormat\": \"CycloneDX\", \"specVersion\": \"9.9\"}",
    )
    .unwrap();
    let reg = dir.path().join("vendors.toml");
    std::fs::write(
        &reg,
        "[[vendor]]\nname = \"A\"\nsbom = [\"device.cdx.json\"]\n",
    )
    .unwrap();
    let register = Register::load(&reg).unwrap();
    let evidence = Evidence::load(&VulnSources::default()).unwrap();
    let e = evidence
        .findings(&register.vendors[0], today())
        .unwrap_err();
    assert!(e.to_string().contains("device.cdx.json"), "{e}");
}

/// The outputs of scripts/peers/sbom/install: a CycloneDX SBOM made by cyclonedx-py from a
/// pinned environment (requests 2.19.0, urllib3 1.23, Jinja2 2.10, …) and an MDS2-shaped
/// workbook written by openpyxl. The script is run when they are missing; without the project
/// venv the test is skipped outside CI (CI=true makes that a failure).
fn generated() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = root.join("target/sbom-peers");
    let ready = || out.join("env.cdx.json").is_file() && out.join("mds2-standard.xlsx").is_file();
    if !ready() {
        let status = std::process::Command::new(root.join("scripts/peers/sbom/install")).status();
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        match status {
            Ok(s) if s.success() && ready() => {}
            other if ci => panic!("scripts/peers/sbom/install failed: {other:?}"),
            other => {
                eprintln!("skipped: SBOM/MDS2 generators unavailable ({other:?})");
                return None;
            }
        }
    }
    Some(out)
}

#[test]
fn generated_sbom_and_mds2_workbook_feed_the_vendor_rating() {
    let Some(gen) = generated() else { return };
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        gen.join("env.cdx.json"),
        dir.path().join("gateway.cdx.json"),
    )
    .unwrap();
    std::fs::copy(
        gen.join("mds2-standard.xlsx"),
        dir.path().join("gateway-mds2.xlsx"),
    )
    .unwrap();
    let reg = dir.path().join("vendors.csv");
    std::fs::write(
        &reg,
        "name,aliases,remote_access,devices,contract,baa,last_assessment,sbom,mds2\n\
         Example Gateway Co,,gw-vpn,SIG-200@1.0,active,signed,2026-10-01,gateway.cdx.json,gateway-mds2.xlsx\n",
    )
    .unwrap();
    let register = Register::load(&reg).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../vulndb/tests/fixtures");
    let vulns = VulnSources {
        osv: vec![fixtures.join("osv")],
        kev: None,
        ..VulnSources::default()
    };
    let evidence = Evidence::load(&vulns).unwrap();
    let f = evidence.findings(&register.vendors[0], today()).unwrap();
    // requests 2.19.0 < 2.20.0, urllib3 1.23 and Jinja2 2.10 are in the fixtures' ranges.
    for name in ["requests 2.19.0", "urllib3 1.23", "jinja2 2.10"] {
        assert!(
            f.notes
                .iter()
                .any(|n| n.to_ascii_lowercase().contains(name)),
            "{name} not flagged: {:#?}",
            f.notes
        );
    }
    assert!(f.vulnerable_components >= 3, "{f:#?}");
    assert!(
        f.notes.iter().any(|n| n.contains("GHSA-x84v-xcm2-53pg")),
        "{:?}",
        f.notes
    );
    // The workbook's answers: audit logs can be modified (AUDT-7 = No), default accounts not
    // all documented (PAUT-4 = No).
    assert!(
        f.mds2_gaps
            .iter()
            .any(|g| g.contains("audit (AUDT-7 answered No)")),
        "{:#?}",
        f.mds2_gaps
    );
    assert!(
        f.mds2_gaps
            .iter()
            .any(|g| g.contains("default accounts (PAUT-4 answered No)")),
        "{:#?}",
        f.mds2_gaps
    );

    let out = summaries(
        &register,
        &Inputs {
            services: &[],
            vulns: &vulns,
            today: today(),
        },
        &VendorRubric::builtin().unwrap(),
    )
    .unwrap();
    let s = &out[0];
    assert_eq!(s.mds2_gaps, f.mds2_gaps);
    assert_eq!(s.vulnerable_components, f.vulnerable_components);
    let d = s.dread.as_ref().unwrap();
    assert_eq!(d.evidence["exploitability"].rule, "vulnerable-components");
    assert!(rubric_matches(&register, &f).contains(&"mds2-gaps".to_string()));
}

fn rubric_matches(register: &Register, f: &medsurface_supply::DeviceFindings) -> Vec<String> {
    use medsurface_supply::risk::{facts, Subject, VendorInput};
    let input = VendorInput {
        vendor: Subject::Registered(&register.vendors[0]),
        services: &[],
        findings: f,
    };
    VendorRubric::builtin()
        .unwrap()
        .matching(&facts(&input, today()))
}

#[test]
fn the_compiled_in_demo_files_load_from_wherever_they_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let files = medsurface_supply::demo::write_to(&dir.path().join("demo")).unwrap();
    // Every file of data/demo-vendors that the demo needs is compiled in.
    for entry in [
        "vendors.toml",
        "sbom/imaging-gateway.cdx.json",
        "osv/MEDSURFACE-DEMO-0001.json",
    ] {
        assert_eq!(
            std::fs::read(dir.path().join("demo").join(entry)).unwrap(),
            std::fs::read(demo(entry)).unwrap()
        );
    }
    let register = Register::load(&files.register).unwrap();
    assert_eq!(register.vendors.len(), 4);
    let vulns = VulnSources {
        osv: vec![files.osv],
        ..VulnSources::default()
    };
    let out = summaries(
        &register,
        &Inputs {
            services: &[],
            vulns: &vulns,
            today: today(),
        },
        &VendorRubric::builtin().unwrap(),
    )
    .unwrap();
    let pacs = out
        .iter()
        .find(|s| s.vendor == "Example PACS Partners")
        .unwrap();
    assert_eq!(pacs.vulnerable_components, 2);
    let records = out
        .iter()
        .find(|s| s.vendor == "Example Records Storage")
        .unwrap();
    assert!(records.review_overdue);
}
