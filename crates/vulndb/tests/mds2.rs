//! MDS2 2019 workbooks written by openpyxl (scripts/peers/sbom/make_mds2.py): answers by
//! question ID, the gaps, and bad workbooks.

mod common;

use medsurface_vulndb::mds2::Answer;
use medsurface_vulndb::{Error, Mds2};

/// The gaps the synthetic answers in make_mds2.py imply.
const GAPS: &[(&str, &str)] = &[
    ("encryption at rest", "STCF-1"),
    ("encryption in transit", "TXCF-2"),
    ("authentication", "NAUT-1"),
    ("default accounts", "PAUT-4"),
    ("default accounts", "PAUT-5"),
    ("audit", "AUDT-7"),
    ("audit", "AUDT-2.8.1"),
    ("patching", "CSUP-11"),
    ("patching", "CSUP-2.2"),
    ("remote service", "RMOT-1.2"),
    ("remote service", "RMOT-1.3"),
];

fn gaps(m: &Mds2) -> Vec<(&str, &str)> {
    let mut g: Vec<(&str, &str)> = m
        .gaps
        .iter()
        .map(|g| (g.capability, g.question.as_str()))
        .collect();
    g.sort();
    g
}

fn expected() -> Vec<(&'static str, &'static str)> {
    let mut g = GAPS.to_vec();
    g.sort();
    g
}

#[test]
fn standard_layout() {
    let Some(dir) = common::generated() else {
        return;
    };
    let m = Mds2::load(&dir.join("mds2-standard.xlsx")).unwrap();
    assert_eq!(m.sheet, "MDS2");
    assert_eq!(m.manufacturer.as_deref(), Some("Example Medical Devices"));
    assert_eq!(m.device.as_deref(), Some("Synthetic infusion gateway"));
    assert_eq!(m.model.as_deref(), Some("SIG-200"));
    assert_eq!(m.answers.get("STCF-1"), Some(&Answer::No));
    assert_eq!(m.answers.get("STCF-1.2"), Some(&Answer::NotApplicable));
    assert_eq!(m.answers.get("CSUP-11"), Some(&Answer::Blank));
    assert_eq!(m.answers.get("AUTH-1"), Some(&Answer::Yes));
    assert_eq!(m.remote_service, Some(true));
    assert_eq!(gaps(&m), expected());
    let stcf = m.gaps.iter().find(|g| g.question == "STCF-1").unwrap();
    assert!(stcf.why.contains("patient data"));
    // Header on row 4, STCF-1 is the 38th question row after it plus section rows.
    assert!(
        stcf.place.starts_with("sheet \"MDS2\", row "),
        "{}",
        stcf.place
    );
    let unanswered = m.gaps.iter().find(|g| g.question == "CSUP-11").unwrap();
    assert_eq!(unanswered.answer, Answer::Blank);
}

#[test]
fn columns_found_by_header_text_not_address() {
    let Some(dir) = common::generated() else {
        return;
    };
    let m = Mds2::load(&dir.join("mds2-shifted.xlsx")).unwrap();
    // The instructions sheet mentions "Question ID" but has no IDs below: skipped.
    assert_eq!(m.sheet, "Form");
    assert_eq!(m.answers.get("PAUT-5"), Some(&Answer::No));
    assert_eq!(m.answers.get("STCF-1.2"), Some(&Answer::NotApplicable));
    assert_eq!(m.model.as_deref(), Some("SIG-200"));
    assert_eq!(gaps(&m), expected());
    let standard = Mds2::load(&dir.join("mds2-standard.xlsx")).unwrap();
    assert_eq!(m.answers, standard.answers);
}

#[test]
fn bad_workbooks_are_clear_errors() {
    let Some(dir) = common::generated() else {
        return;
    };
    let p = dir.join("mds2-no-id.xlsx");
    let err = Mds2::load(&p).unwrap_err();
    assert!(matches!(err, Error::Invalid { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("mds2-no-id.xlsx") && msg.contains("Question ID"),
        "{msg}"
    );
    let p = dir.join("mds2-truncated.xlsx");
    let err = Mds2::load(&p).unwrap_err();
    assert!(matches!(err, Error::OpenWorkbook { .. }), "{err:?}");
    assert!(err.to_string().contains("mds2-truncated.xlsx"), "{err}");
    // Not a workbook at all.
    let scratch = common::scratch("mds2");
    let p = scratch.join("not.xlsx");
    std::fs::write(&p, b"Question ID,Answer\nSTCF-1,No\n").unwrap();
    let err = Mds2::load(&p).unwrap_err();
    assert!(err.to_string().contains("not.xlsx"), "{err}");
    assert!(Mds2::load(&scratch.join("missing.xlsx")).is_err());
}
