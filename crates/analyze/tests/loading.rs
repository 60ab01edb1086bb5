//! Strict loading: each way a signature file can be wrong is an error of its own kind, naming
//! the file and the line.

use medsurface_analyze::{Classifier, ErrorKind, SignatureError};

const GOOD: &str = r#"name = "Test"
vendor = "V"
product = "P"
category = "imaging"
references = ["https://example.org/doc"]

[[match]]
field = "http.title"
contains = "test page"

[[example]]
port = 80
http.title = "A Test Page"
"#;

fn load(file: &str, text: &str) -> Result<Classifier, SignatureError> {
    Classifier::from_sources([(file.to_string(), text.to_string())])
}

fn err(text: &str) -> SignatureError {
    load("x/bad.toml", text).expect_err("must be rejected")
}

#[test]
fn good_file_loads_and_its_example_passes() {
    let c = load("x/good.toml", GOOD).unwrap();
    assert_eq!(c.signatures().len(), 1);
    assert!(c.verify_examples().is_empty());
}

#[test]
fn unknown_key_names_file_and_line() {
    let text = GOOD.replace("product = \"P\"", "product = \"P\"\nseverity = \"high\"");
    let e = err(&text);
    assert!(
        matches!(e.kind, ErrorKind::Syntax(ref m) if m.contains("severity")),
        "{e}"
    );
    assert_eq!(e.file, "x/bad.toml");
    assert_eq!(e.line, 4, "{e}");
    assert!(e.to_string().starts_with("x/bad.toml:4: "), "{e}");
}

#[test]
fn unknown_key_inside_a_matcher_names_its_line() {
    let text = GOOD.replace(
        "contains = \"test page\"",
        "contains = \"test page\"\nnocase = true",
    );
    let e = err(&text);
    assert!(
        matches!(e.kind, ErrorKind::Syntax(ref m) if m.contains("nocase")),
        "{e}"
    );
    assert!((7..=10).contains(&e.line), "{e}");
}

#[test]
fn a_field_no_probe_fills_is_rejected_with_its_line() {
    let text = GOOD.replace("field = \"http.title\"", "field = \"http.titel\"");
    let e = err(&text);
    assert_eq!(e.kind, ErrorKind::UnknownField("http.titel".into()));
    assert_eq!(e.line, 7, "{e}");
    assert!(e.to_string().contains("no probe fills"));
}

#[test]
fn an_example_naming_an_unknown_field_is_rejected() {
    let text = GOOD.replace(
        "http.title = \"A Test Page\"",
        "http.title = \"A Test Page\"\nhttp.tittle = \"x\"",
    );
    let e = err(&text);
    assert_eq!(e.kind, ErrorKind::UnknownField("http.tittle".into()));
    assert_eq!(e.line, 11, "{e}");
}

#[test]
fn invalid_regex_names_its_line() {
    let text = GOOD.replace("contains = \"test page\"", "regex = \"(unclosed\"");
    let e = err(&text);
    assert!(matches!(e.kind, ErrorKind::BadRegex(_)), "{e}");
    assert_eq!(e.line, 7, "{e}");
}

#[test]
fn bad_category_is_rejected() {
    let e = err(&GOOD.replace("\"imaging\"", "\"pacs\""));
    assert_eq!(e.kind, ErrorKind::BadCategory("pacs".into()));
    assert_eq!(e.line, 4);
}

#[test]
fn duplicate_ids_are_rejected() {
    let e = Classifier::from_sources([
        ("a/dup.toml".to_string(), GOOD.to_string()),
        ("b/dup.toml".to_string(), GOOD.to_string()),
    ])
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::DuplicateId("a/dup.toml".into()));
    assert_eq!(e.file, "b/dup.toml");
}

#[test]
fn an_id_must_be_a_clean_stem() {
    let e = load("x/Bad_Name.toml", GOOD).unwrap_err();
    assert_eq!(e.kind, ErrorKind::BadId("Bad_Name".into()));
}

#[test]
fn operators_must_fit_the_field_type() {
    let e = err(&GOOD.replace(
        "field = \"http.title\"\ncontains = \"test page\"",
        "field = \"http.favicon_hash\"\ncontains = \"12\"",
    ));
    assert!(matches!(e.kind, ErrorKind::OperatorMismatch(_)), "{e}");
    let e = err(&GOOD.replace(
        "field = \"http.title\"\ncontains = \"test page\"",
        "field = \"http.favicon_hash\"\nequals = \"12\"",
    ));
    assert!(matches!(e.kind, ErrorKind::OperatorMismatch(_)), "{e}");
    let e = err(&GOOD.replace(
        "contains = \"test page\"",
        "contains = \"a\"\nprefix = \"b\"",
    ));
    assert!(matches!(e.kind, ErrorKind::Operator(_)), "{e}");
    let e = err(&GOOD.replace(
        "field = \"http.title\"",
        "field = \"http.title\"\nkey = \"server\"",
    ));
    assert!(matches!(e.kind, ErrorKind::OperatorMismatch(_)), "{e}");
}

#[test]
fn references_and_examples_are_required() {
    let e = err(&GOOD.replace("[\"https://example.org/doc\"]", "[]"));
    assert!(matches!(e.kind, ErrorKind::Missing(_)), "{e}");
    let e = err(&GOOD.replace("\"https://example.org/doc\"", "\"a vendor manual\""));
    assert!(matches!(e.kind, ErrorKind::Missing(_)), "{e}");
    let cut = GOOD.find("[[example]]").unwrap();
    let e = err(&GOOD[..cut]);
    assert!(matches!(e.kind, ErrorKind::Missing(_)), "{e}");
}

#[test]
fn a_failing_example_is_reported_with_its_line() {
    let text = GOOD.replace("\"A Test Page\"", "\"Another page\"");
    let c = load("x/t.toml", &text).unwrap();
    let f = c.verify_examples();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].line, 11, "the first key of the example");
    assert_eq!(
        f[0].problem,
        medsurface_analyze::ExampleProblem::NotWon { won_by: None }
    );
}

#[test]
fn a_tie_between_two_signatures_is_reported() {
    let c = Classifier::from_sources([
        ("x/one.toml".to_string(), GOOD.to_string()),
        ("x/two.toml".to_string(), GOOD.to_string()),
    ])
    .unwrap();
    let f = c.verify_examples();
    assert!(
        f.iter().any(|f| f.signature == "one"
            && f.problem == medsurface_analyze::ExampleProblem::Tie { with: "two".into() }),
        "{f:?}"
    );
}

#[test]
fn from_dir_reads_toml_files_and_names_them_in_errors() {
    let dir = std::env::temp_dir().join(format!("medsurface-analyze-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("mine.toml"), GOOD).unwrap();
    std::fs::write(dir.join("ignored.txt"), "not a signature").unwrap();
    let c = Classifier::from_dir(&dir).unwrap();
    assert_eq!(c.signatures().len(), 1);
    assert_eq!(c.signatures()[0].id, "mine");
    std::fs::write(
        dir.join("zbad.toml"),
        GOOD.replace("http.title", "http.nope"),
    )
    .unwrap();
    let e = Classifier::from_dir(&dir).unwrap_err();
    assert!(e.file.ends_with("zbad.toml"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
