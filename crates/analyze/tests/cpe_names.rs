//! The NVD/KEV names table (`knowledge/cpe-names.toml`): the shipped file loads, names only
//! products the shipped signatures name, and a broken file is refused with its file and line.

use std::collections::BTreeSet;

use medsurface_analyze::cpe_names::{CpeNames, CpeNamesErrorKind};
use medsurface_analyze::Classifier;

#[test]
fn shipped_table_names_only_signature_products() {
    let names = CpeNames::builtin().expect("knowledge/cpe-names.toml loads");
    let classifier = Classifier::builtin().expect("signatures load");
    let known: BTreeSet<(String, String)> = classifier
        .signatures()
        .iter()
        .map(|s| (s.vendor.clone(), s.product.clone()))
        .collect();
    assert!(!names.entries().is_empty());
    for e in names.entries() {
        assert!(
            known.contains(&(e.vendor.clone(), e.product.clone())),
            "knowledge/cpe-names.toml:{}: {} / {} is not a signature's vendor/product",
            e.line,
            e.vendor,
            e.product
        );
        assert!(!e.cpe.is_empty());
        for c in &e.cpe {
            assert!(c.source.starts_with("https://"), "{}: {}", e.line, c.source);
        }
    }
}

#[test]
fn lookup_by_signature_names() {
    let names = CpeNames::builtin().unwrap();
    let orthanc = names.lookup("Orthanc project", "Orthanc");
    assert_eq!(orthanc.len(), 1);
    assert_eq!(
        (orthanc[0].vendor.as_str(), orthanc[0].product.as_str()),
        ("orthanc-server", "orthanc")
    );
    let mirth = names.kev_names("NextGen Healthcare", "Mirth Connect");
    assert_eq!(mirth.len(), 1);
    assert_eq!(mirth[0].product, "Mirth Connect");
    // Exact spelling only: the table is keyed by the signature's names.
    assert!(names.lookup("orthanc project", "orthanc").is_empty());
    assert!(names.lookup("unknown", "DICOM server").is_empty());
    assert!(names.kev_names("Orthanc project", "Orthanc").is_empty());
}

const GOOD: &str = r#"
[[product]]
vendor = "Example"
product = "Thing"
cpe = [
  { vendor = "example", product = "thing", source = "https://nvd.nist.gov/vuln/detail/CVE-2099-0001" },
  { vendor = "example", product = "thing-arc", source = "https://nvd.nist.gov/vuln/detail/CVE-2099-0002" },
]
"#;

fn parse_err(text: &str) -> (usize, CpeNamesErrorKind, String) {
    let e = CpeNames::parse("test.toml", text).expect_err("must not load");
    let msg = e.to_string();
    assert!(msg.starts_with("test.toml"), "{msg}");
    (e.line, e.kind, msg)
}

#[test]
fn a_product_can_have_several_cpe_names() {
    let names = CpeNames::parse("test.toml", GOOD).unwrap();
    let found: Vec<&str> = names
        .lookup("Example", "Thing")
        .iter()
        .map(|c| c.product.as_str())
        .collect();
    assert_eq!(found, ["thing", "thing-arc"]);
    assert_eq!(names.entries()[0].line, 2);
}

#[test]
fn unknown_key_names_its_line() {
    let text = GOOD.replace(
        "product = \"Thing\"",
        "product = \"Thing\"\ncpe_vendor = \"x\"",
    );
    let (line, kind, msg) = parse_err(&text);
    assert!(matches!(kind, CpeNamesErrorKind::Syntax(_)), "{msg}");
    assert_eq!(line, 5, "{msg}");
}

#[test]
fn malformed_tokens_are_refused_with_their_line() {
    for bad in ["Orthanc", "orthanc server", "a:b", "", "-x"] {
        let text = GOOD.replace("product = \"thing-arc\"", &format!("product = \"{bad}\""));
        let (line, kind, msg) = parse_err(&text);
        assert_eq!(kind, CpeNamesErrorKind::BadToken(bad.into()), "{msg}");
        assert_eq!(line, 7, "{bad}: {msg}");
    }
}

#[test]
fn duplicate_pairs_name_the_first() {
    let text = format!("{GOOD}\n{GOOD}");
    let (line, kind, msg) = parse_err(&text);
    assert!(matches!(kind, CpeNamesErrorKind::Duplicate(_)), "{msg}");
    assert_eq!(line, 12, "{msg}");
    assert!(msg.contains("line 2"), "{msg}");

    let twice = GOOD.replace("thing-arc", "thing");
    let (_, kind, msg) = parse_err(&twice);
    assert!(matches!(kind, CpeNamesErrorKind::Duplicate(_)), "{msg}");
}

#[test]
fn missing_values_are_refused() {
    let no_cpe = "[[product]]\nvendor = \"Example\"\nproduct = \"Thing\"\ncpe = []\n";
    let (line, kind, msg) = parse_err(no_cpe);
    assert!(matches!(kind, CpeNamesErrorKind::Missing(_)), "{msg}");
    assert_eq!(line, 4);

    let no_source = GOOD.replace("https://nvd.nist.gov/vuln/detail/CVE-2099-0002", "NVD");
    let (line, kind, msg) = parse_err(&no_source);
    assert!(matches!(kind, CpeNamesErrorKind::Missing(_)), "{msg}");
    assert_eq!(line, 7);

    let empty_vendor = GOOD.replace("vendor = \"Example\"", "vendor = \" \"");
    let (line, kind, msg) = parse_err(&empty_vendor);
    assert!(matches!(kind, CpeNamesErrorKind::Missing(_)), "{msg}");
    assert_eq!(line, 3);

    let kev = format!(
        "{GOOD}kev = [{{ vendor_project = \"Example\\nCorp\", product = \"Thing\", source = \"https://example.org/\" }}]\n"
    );
    let (line, kind, msg) = parse_err(&kev);
    assert!(matches!(kind, CpeNamesErrorKind::BadName(_)), "{msg}");
    assert_eq!(line, 9);
}

#[test]
fn load_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.toml");
    std::fs::write(&path, "[[product]]\nvendor = 3\n").unwrap();
    let e = CpeNames::load(&path).expect_err("bad file");
    assert!(e.to_string().contains("names.toml:2"), "{e}");
    let missing = CpeNames::load(&dir.path().join("none.toml")).expect_err("no file");
    assert!(matches!(missing.kind, CpeNamesErrorKind::Read(_)));
    assert!(missing.to_string().contains("none.toml"), "{missing}");
}
