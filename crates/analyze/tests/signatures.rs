//! The shipped signature set: it loads, every example is won by its own signature (no ties),
//! every counterexample misses, and the set covers every category with public references.

use std::collections::BTreeMap;

use medsurface_analyze::{builtin_files, Category, Classifier};

fn builtin() -> Classifier {
    Classifier::builtin().unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn builtin_set_loads_and_embeds_every_file() {
    let c = builtin();
    assert_eq!(c.signatures().len(), builtin_files().len());
    assert!(
        c.signatures().len() >= 80,
        "only {} signatures",
        c.signatures().len()
    );
    // Sorted and unique by id (the table invariant best_match relies on for ties).
    for pair in c.signatures().windows(2) {
        assert!(
            pair[0].id < pair[1].id,
            "{} before {}",
            pair[0].id,
            pair[1].id
        );
    }
}

#[test]
fn every_example_is_won_by_its_signature_and_every_counterexample_misses() {
    let c = builtin();
    let failures = c.verify_examples();
    let text: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(
        failures.is_empty(),
        "{} failing examples:\n{}",
        failures.len(),
        text.join("\n")
    );
    let examples: usize = c.signatures().iter().map(|s| s.examples.len()).sum();
    assert!(examples >= c.signatures().len());
}

#[test]
fn every_category_is_covered_and_every_signature_cites_a_source() {
    let c = builtin();
    let mut per: BTreeMap<Category, usize> = BTreeMap::new();
    for s in c.signatures() {
        *per.entry(s.category).or_default() += 1;
        assert!(!s.references.is_empty(), "{}", s.id);
        assert!(s.file.ends_with(&format!("{}.toml", s.id)));
    }
    for cat in Category::ALL {
        assert!(
            per.get(&cat).copied().unwrap_or(0) >= 1,
            "no signature for {cat}"
        );
    }
}

#[test]
fn the_version_is_read_and_made_printable() {
    let c = builtin();
    let sig = c.get("hapi-fhir").expect("hapi-fhir");
    let mut obs = sig.examples[0].observation.clone();
    let got = c.classify(&obs).expect("classified");
    assert_eq!(got.signature, "hapi-fhir");
    assert_eq!(got.version.as_deref(), Some("6.4.0"));
    assert_eq!(got.evidence.len(), 1);
    assert_eq!(got.evidence[0].field, "http.powered_by");
    // A version copied from a field is peer text: control characters come out escaped.
    obs.details
        .insert("fhir.software".into(), "HAPI FHIR Server".into());
    obs.details
        .insert("fhir.software_version".into(), "7.0\u{1b}[2J".into());
    let got = c.classify(&obs).expect("classified");
    assert_eq!(got.version.as_deref(), Some("7.0\\x1b[2J"));
}

#[test]
fn a_specific_signature_beats_a_generic_one_and_classify_all_lists_both() {
    let c = builtin();
    let obs = c.get("dcmtk-dicom").unwrap().examples[0]
        .observation
        .clone();
    let all: Vec<&str> = c
        .classify_all(&obs)
        .iter()
        .map(|m| m.signature.id.as_str())
        .collect();
    assert_eq!(all.first(), Some(&"dcmtk-dicom"), "{all:?}");
    assert!(all.contains(&"generic-dicom-server"), "{all:?}");
    assert_eq!(c.classify(&obs).unwrap().signature, "dcmtk-dicom");
}

#[test]
fn the_signatures_directory_loads_as_the_embedded_set() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../signatures");
    let from_dir = Classifier::from_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let ids = |c: &Classifier| {
        c.signatures()
            .iter()
            .map(|s| s.id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&from_dir), ids(&builtin()));
}

#[test]
fn a_user_directory_may_not_redefine_a_builtin_id() {
    let dir = std::env::temp_dir().join(format!("medsurface-analyze-dup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_, text) = builtin_files()
        .iter()
        .find(|(name, _)| *name == "openemr.toml")
        .expect("openemr.toml is shipped");
    std::fs::write(dir.join("openemr.toml"), text).unwrap();
    let e = Classifier::builtin_and_dir(&dir).unwrap_err();
    assert_eq!(
        e.kind,
        medsurface_analyze::ErrorKind::DuplicateId("signatures/openemr.toml".into())
    );
    std::fs::rename(dir.join("openemr.toml"), dir.join("my-emr.toml")).unwrap();
    let c = Classifier::builtin_and_dir(&dir).unwrap();
    assert_eq!(c.signatures().len(), builtin_files().len() + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}
