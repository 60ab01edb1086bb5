//! The vendor register: both spellings read alike, and every malformed file is refused with its
//! file and line.

use std::path::{Path, PathBuf};

use medsurface_supply::register::{BaaStatus, ContractStatus, Device, Unit, KEYS};
use medsurface_supply::{Register, RegisterError, RegisterErrorKind};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn without_lines(mut r: Register) -> Register {
    r.file.clear();
    for v in &mut r.vendors {
        v.line = 0;
    }
    r
}

#[test]
fn toml_and_csv_spellings_give_the_same_register() {
    let toml = Register::load(&data("register.toml")).expect("toml register");
    let csv = Register::load(&data("register.csv")).expect("csv register");
    assert_eq!(toml.vendors.len(), 2);
    assert_eq!(without_lines(toml.clone()), without_lines(csv.clone()));

    let nw = &toml.vendors[0];
    assert_eq!(nw.name, "Northwind Imaging Services");
    assert_eq!(nw.aliases, ["Orthanc project", "Northwind PACS"]);
    assert_eq!(nw.access.remote_access.len(), 2);
    assert!(nw.access.shared_credentials && nw.access.patient_data && nw.access.update_rights);
    assert!(!nw.access.badge_access);
    assert_eq!(
        nw.devices,
        [
            Device {
                model: "NW-Router 200".into(),
                firmware: Some("4.2.1".into())
            },
            Device {
                model: "NW-Gateway".into(),
                firmware: None
            },
        ]
    );
    assert_eq!(nw.contract, Some(ContractStatus::Active));
    assert_eq!(nw.baa, Some(BaaStatus::Signed));
    assert_eq!(nw.review_interval.count, 12);
    assert_eq!(nw.review_interval.unit, Unit::Months);
    assert_eq!(nw.next_review().unwrap().to_string(), "2027-03-01");
    assert!(nw.sbom[0].ends_with("docs/nw-router.cdx.json"));
    assert!(nw.sbom[0].is_file());

    let badge = &toml.vendors[1];
    // A TOML date literal and a bare number of days read like the CSV's strings.
    assert_eq!(badge.last_assessment.unwrap().to_string(), "2024-01-15");
    assert_eq!(badge.review_interval.unit, Unit::Days);
    assert_eq!(badge.next_review().unwrap().to_string(), "2025-01-14");
    assert!(badge.access.badge_access && badge.devices.is_empty());

    // Lines: the TOML vendor starts at its [[vendor]] header, the CSV vendor at its row.
    assert_eq!(toml.vendors[0].line, 4);
    assert_eq!(toml.vendors[1].line, 29);
    assert_eq!(csv.vendors[0].line, 3);
    assert_eq!(csv.vendors[1].line, 4);
    // Lookup folds case and punctuation.
    assert_eq!(toml.find("northwind-pacs").unwrap().name, nw.name);
    assert_eq!(toml.find("ORTHANC PROJECT").unwrap().name, nw.name);
    assert!(toml.find("Orthanc").is_none());
}

/// Writes `text` as `name` in a fresh directory (with one SBOM file beside it) and loads it.
fn load(name: &str, text: &str) -> Result<Register, RegisterError> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("present.cdx.json"), "{}").unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    let r = Register::load(&path);
    if let Err(e) = &r {
        // Every error names the file it is about.
        assert_eq!(e.file, path.display().to_string());
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
    }
    r
}

fn err(name: &str, text: &str) -> RegisterError {
    match load(name, text) {
        Ok(r) => panic!("{name} loaded: {r:?}"),
        Err(e) => e,
    }
}

#[test]
fn toml_errors_name_their_line() {
    let e = err("r.toml", "[[vendor]]\nname = \"A\"\ncolour = \"blue\"\n");
    assert_eq!(
        (e.line, e.kind),
        (3, RegisterErrorKind::UnknownKey("colour".into()))
    );

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\n\n[[vendor]]\nname = \"B\"\nlast_assessment = \"2026-02-30\"\n",
    );
    assert_eq!(e.line, 6);
    assert!(
        matches!(e.kind, RegisterErrorKind::BadDate { ref key, .. } if key == "last_assessment")
    );
    assert!(e.to_string().contains(":6: "), "{e}");

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\nreview_interval = \"12 moons\"\n",
    );
    assert_eq!(
        (e.line, e.kind),
        (3, RegisterErrorKind::BadInterval("12 moons".into()))
    );

    let e = err("r.toml", "[[vendor]]\nname = \"A\"\nreview_interval = 0\n");
    assert_eq!(
        (e.line, e.kind),
        (3, RegisterErrorKind::BadInterval("0".into()))
    );

    // An alias that folds to another vendor's name: the second vendor's line, the first named.
    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"GE HealthCare\"\n\n[[vendor]]\nname = \"Acme\"\naliases = [\"ge-healthcare\"]\n",
    );
    assert_eq!(e.line, 4);
    assert_eq!(
        e.kind,
        RegisterErrorKind::Duplicate {
            name: "ge-healthcare".into(),
            first: "GE HealthCare".into(),
            first_line: 1
        }
    );

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\nsbom = [\"present.cdx.json\", \"missing.cdx.json\"]\n",
    );
    assert_eq!(
        (e.line, e.kind),
        (
            3,
            RegisterErrorKind::MissingFile {
                key: "sbom".into(),
                path: "missing.cdx.json".into()
            }
        )
    );

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\npatient_data = \"yes\"\n",
    );
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, RegisterErrorKind::BadValue { ref key, .. } if key == "patient_data"));

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\ncontract = \"signed\"\n",
    );
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, RegisterErrorKind::BadValue { ref key, .. } if key == "contract"));

    let e = err("r.toml", "[[vendor]]\nname = \"A\"\ndevices = [\n  { model = \"X\" },\n  { model = \"Y\", serial = \"1\" },\n]\n");
    assert_eq!(
        (e.line, e.kind),
        (5, RegisterErrorKind::UnknownKey("devices.serial".into()))
    );

    let e = err("r.toml", "[[vendor]]\naliases = [\"A\"]\n");
    assert_eq!(
        (e.line, e.kind),
        (1, RegisterErrorKind::Missing("name".into()))
    );

    let e = err("r.toml", "title = \"vendors\"\n[[vendor]]\nname = \"A\"\n");
    assert_eq!(
        (e.line, e.kind),
        (1, RegisterErrorKind::UnknownKey("title".into()))
    );

    let e = err("r.toml", "[vendor]\nname = \"A\"\n");
    assert_eq!(e.line, 1);
    assert!(matches!(e.kind, RegisterErrorKind::BadValue { ref key, .. } if key == "vendor"));

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\n\n\ndevices = \"X@1\"\n",
    );
    assert_eq!(e.line, 5);
    assert!(matches!(e.kind, RegisterErrorKind::BadValue { ref key, .. } if key == "devices"));

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\ndicom_uid_roots = [\"1.2.x\"]\n",
    );
    assert_eq!(
        (e.line, e.kind),
        (3, RegisterErrorKind::BadUidRoot("1.2.x".into()))
    );

    let e = err(
        "r.toml",
        "[[vendor]]\nname = \"A\"\n\n[[vendor]\nname = \"B\"\n",
    );
    assert_eq!(e.line, 4);
    assert!(matches!(e.kind, RegisterErrorKind::Syntax(_)));
}

#[test]
fn csv_errors_name_their_line() {
    let head = "name,aliases,last_assessment,review_interval,patient_data,sbom\n";
    let e = err(
        "r.csv",
        &format!("{head}A,,2026-01-01,12 months,yes,\nB,,2026-13-01,,,\n"),
    );
    assert_eq!(e.line, 3);
    assert!(
        matches!(e.kind, RegisterErrorKind::BadDate { ref value, .. } if value == "2026-13-01")
    );

    let e = err("r.csv", &format!("{head}A,,,every year,,\n"));
    assert_eq!(
        (e.line, e.kind),
        (2, RegisterErrorKind::BadInterval("every year".into()))
    );

    let e = err("r.csv", &format!("{head}A,,,,maybe,\n"));
    assert_eq!(e.line, 2);
    assert!(matches!(e.kind, RegisterErrorKind::BadValue { ref key, .. } if key == "patient_data"));

    let e = err(
        "r.csv",
        &format!("{head}A,,,,,present.cdx.json;gone.json\n"),
    );
    assert_eq!(
        (e.line, e.kind),
        (
            2,
            RegisterErrorKind::MissingFile {
                key: "sbom".into(),
                path: "gone.json".into()
            }
        )
    );

    let e = err(
        "r.csv",
        &format!("{head}# a comment\nAcme Corp,,,,,\nOther,ACME corp.,,,,\n"),
    );
    assert_eq!(e.line, 4);
    assert!(
        matches!(e.kind, RegisterErrorKind::Duplicate { first_line: 3, .. }),
        "{e:?}"
    );

    let e = err("r.csv", "name,colour\nA,blue\n");
    assert_eq!(
        (e.line, e.kind),
        (1, RegisterErrorKind::UnknownKey("colour".into()))
    );

    let e = err("r.csv", "aliases\nA\n");
    assert_eq!(
        (e.line, e.kind),
        (1, RegisterErrorKind::Missing("name".into()))
    );

    let e = err("r.csv", "name,name\nA,B\n");
    assert_eq!(
        (e.line, e.kind),
        (1, RegisterErrorKind::DuplicateKey("name".into()))
    );

    let e = err("r.csv", &format!("{head}A,,,,,\nB,,,\n"));
    assert_eq!(e.line, 3);
    assert!(matches!(e.kind, RegisterErrorKind::Syntax(_)));

    let e = err("r.csv", &format!("{head}A,,,,,\n,alias,,,,\n"));
    assert_eq!(
        (e.line, e.kind),
        (3, RegisterErrorKind::Missing("name".into()))
    );

    // A quoted cell may hold commas; a byte-order mark before the header is ignored.
    let r = load(
        "r.csv",
        "\u{feff}name,services\n\"Fabrikam, Inc.\",\"cleaning; records storage\"\n",
    )
    .unwrap();
    assert_eq!(r.vendors[0].name, "Fabrikam, Inc.");
    assert_eq!(r.vendors[0].services, ["cleaning", "records storage"]);
}

#[test]
fn other_files_are_refused_whole() {
    let e = err("r.json", "{}");
    assert_eq!((e.line, e.kind), (0, RegisterErrorKind::UnknownFormat));
    let e = Register::load(Path::new("/nonexistent/medsurface/vendors.toml")).unwrap_err();
    assert!(matches!(e.kind, RegisterErrorKind::Read(_)));
    // An empty file is a register with no vendor, not an error.
    assert!(load("r.toml", "").unwrap().vendors.is_empty());
    assert!(load("r.csv", "name\n").unwrap().vendors.is_empty());
}

#[test]
fn the_docs_describe_every_key() {
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/vendor-register.md"),
    )
    .expect("docs/vendor-register.md");
    for k in KEYS {
        assert!(
            doc.contains(&format!("`{}`", k.name)),
            "docs/vendor-register.md does not describe `{}`",
            k.name
        );
    }
}

#[test]
fn the_docs_example_loads() {
    // The TOML example of the docs, between the first ```toml fence and its end.
    let doc = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/vendor-register.md"),
    )
    .unwrap();
    let start = doc.find("```toml\n").expect("a toml example") + 8;
    let end = start + doc[start..].find("```").unwrap();
    let r = Register::from_toml(
        &doc[start..end],
        "docs example",
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/demo-vendors"),
    )
    .expect("docs example loads");
    assert!(r.vendors.len() >= 3);
}
