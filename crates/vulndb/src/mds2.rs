//! MDS2 forms: the Manufacturer Disclosure Statement for Medical Device Security, 2019 edition
//! (ANSI/NEMA HN 1-2019), read from its XLSX workbook.
//!
//! The form is a sheet of rows: a question ID (`DOC-1`, `MPII-2.1`, `STCF-1`, `RMOT-1.3`, …),
//! the question, the answer (Yes / No / N/A / See Note, free text for the `DOC` rows), a note and
//! reference columns. Manufacturers reformat the sheet, so columns are found by their header
//! text, never by cell address: the header row is the first row with a cell reading
//! `Question ID` (or `ID`) that has question IDs below it; the answer column is the one headed
//! Yes/No/Answer/Response, or failing a header, the column with the most Yes/No/N/A cells.
//!
//! [`Mds2::gaps`] applies a fixed table of rules ([`RULES`]) to the answers: which answer to
//! which question leaves a security capability missing (encryption at rest and in transit,
//! authentication, default accounts, audit, patching, remote service), and why that matters. The
//! 2019 question IDs were checked against a published 2019-form disclosure; note that remote
//! service is section RMOT in the 2019 form (RDMP is the third-party component roadmap).

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{open_workbook, Data, Reader, Xlsx};
use serde::Serialize;

use crate::Error;

/// An answer as the form gives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Answer {
    Yes,
    No,
    NotApplicable,
    SeeNote,
    /// Nothing in the answer cell.
    Blank,
    /// Anything else (the free-text `DOC` answers, "Optional", …), trimmed.
    Other(String),
}

impl Answer {
    fn read(text: &str) -> Answer {
        let t = text.trim();
        let l = t.to_ascii_lowercase();
        let word_end = |rest: &str| !rest.starts_with(|c: char| c.is_ascii_alphabetic());
        if l.is_empty() {
            Answer::Blank
        } else if l.strip_prefix("yes").is_some_and(word_end) {
            Answer::Yes
        } else if matches!(l.as_str(), "n/a" | "na" | "n.a." | "not applicable")
            || l.starts_with("n/a")
        {
            Answer::NotApplicable
        } else if l.strip_prefix("no").is_some_and(word_end) {
            Answer::No
        } else if l.starts_with("see note") {
            Answer::SeeNote
        } else {
            Answer::Other(crate::clip(t, 200))
        }
    }

    /// `Yes`, `No`, `N/A`, `See Note`, `` (blank) or the text.
    pub fn as_str(&self) -> &str {
        match self {
            Answer::Yes => "Yes",
            Answer::No => "No",
            Answer::NotApplicable => "N/A",
            Answer::SeeNote => "See Note",
            Answer::Blank => "",
            Answer::Other(s) => s,
        }
    }
}

/// A security capability the form says is missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// `encryption at rest`, `encryption in transit`, `authentication`, `default accounts`,
    /// `audit`, `patching`, `remote service`, `hardening`.
    pub capability: &'static str,
    /// The question ID (`STCF-1`).
    pub question: String,
    /// The answer given (`Blank` when the question is unanswered or missing from the form).
    pub answer: Answer,
    /// Why it matters, in a sentence.
    pub why: &'static str,
    /// Where the answer is (`sheet "MDS2", row 42`), or that the row is missing.
    pub place: String,
}

/// One MDS2 form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mds2 {
    /// DOC-1, DOC-2 and DOC-3.
    pub manufacturer: Option<String>,
    pub device: Option<String>,
    pub model: Option<String>,
    /// Every answer by question ID (upper case).
    pub answers: BTreeMap<String, Answer>,
    /// Whether the device permits remote service connections (RMOT-1), when answered.
    pub remote_service: Option<bool>,
    pub gaps: Vec<Gap>,
    /// The sheet the form was read from.
    pub sheet: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Is {
    Yes,
    No,
}

impl Is {
    fn holds(self, a: Option<&Answer>) -> bool {
        matches!(
            (self, a),
            (Is::Yes, Some(Answer::Yes)) | (Is::No, Some(Answer::No))
        )
    }
}

/// One gap rule: answering `bad` to `question` (or leaving it blank, when `blank_is_gap`) is a
/// gap, provided every `requires` holds and no `unless` does.
pub struct Rule {
    pub capability: &'static str,
    pub question: &'static str,
    bad: Is,
    blank_is_gap: bool,
    requires: &'static [(&'static str, Is)],
    unless: &'static [(&'static str, Is)],
    pub why: &'static str,
}

const fn rule(
    capability: &'static str,
    question: &'static str,
    bad: Is,
    why: &'static str,
) -> Rule {
    Rule {
        capability,
        question,
        bad,
        blank_is_gap: false,
        requires: &[],
        unless: &[],
        why,
    }
}

/// The gap rules, by capability. Questions are the 2019 form's IDs.
pub const RULES: &[Rule] = &[
    Rule {
        blank_is_gap: true,
        unless: &[("MPII-2", Is::No)],
        ..rule("encryption at rest", "STCF-1", Is::No, "patient data stored on the device can be read by anyone who gets hold of the device or its disk")
    },
    Rule {
        requires: &[("STCF-1", Is::Yes)],
        ..rule("encryption at rest", "STCF-1.2", Is::No, "encryption exists but is off by default, so it stays off unless someone turns it on")
    },
    Rule {
        blank_is_gap: true,
        unless: &[("MPII-1", Is::No)],
        ..rule("encryption in transit", "TXCF-2", Is::No, "patient data crosses the network in clear text; anyone on the path can read it")
    },
    rule("encryption in transit", "CONN-7", Is::No, "no TLS: the device's network services cannot be encrypted"),
    rule("encryption in transit", "TXIG-1", Is::No, "data can be altered in transit without the receiver noticing"),
    Rule {
        blank_is_gap: true,
        ..rule("authentication", "AUTH-1", Is::No, "no login: anyone who can reach the device can use it")
    },
    rule("authentication", "PAUT-1", Is::No, "shared accounts: actions cannot be traced to a person and one leaked password opens every account"),
    rule("authentication", "PAUT-3", Is::No, "no lockout: passwords can be guessed without limit"),
    rule("authentication", "NAUT-1", Is::No, "the device does not authenticate the systems it exchanges data with; a rogue node can send or receive data"),
    rule("default accounts", "PAUT-4", Is::No, "default accounts (service, administrator) are not all documented, so some may exist with well-known passwords"),
    Rule {
        blank_is_gap: true,
        ..rule("default accounts", "PAUT-5", Is::No, "some passwords cannot be changed: a default or leaked password stays valid for the life of the device")
    },
    Rule {
        blank_is_gap: true,
        ..rule("audit", "AUDT-1", Is::No, "no audit log of its own: misuse of the device leaves no trace")
    },
    rule("audit", "AUDT-2", Is::No, "events are not recorded, so logins and data access cannot be reviewed"),
    rule("audit", "AUDT-7", Is::No, "audit logs can be modified: an intruder can erase their traces"),
    Rule {
        requires: &[("RMOT-1", Is::Yes)],
        ..rule("audit", "AUDT-2.8.1", Is::No, "remote service sessions are not recorded in the audit log")
    },
    Rule {
        blank_is_gap: true,
        ..rule("patching", "CSUP-11", Is::No, "the manufacturer has no process to assess vulnerabilities and updates, so known flaws may never be fixed")
    },
    rule("patching", "CSUP-7", Is::No, "customers are not told when security updates are approved for installation"),
    Rule {
        requires: &[("CSUP-2.1", Is::No)],
        ..rule("patching", "CSUP-2.2", Is::Yes, "only the vendor can install operating-system patches, so the hospital cannot patch on its own schedule")
    },
    rule("patching", "RDMP-4", Is::No, "no plan for the end of life of third-party components: they will run unsupported"),
    rule("patching", "SBOM-1", Is::No, "no SBOM: the hospital cannot check the device's components against new vulnerabilities"),
    Rule {
        requires: &[("RMOT-1", Is::Yes)],
        ..rule("remote service", "RMOT-1.2", Is::No, "no indicator of an active remote session: staff cannot see when the vendor is connected")
    },
    Rule {
        requires: &[("RMOT-1", Is::Yes)],
        ..rule("remote service", "RMOT-1.3", Is::Yes, "patient data can be viewed during remote service sessions: the vendor's remote access reaches patient data")
    },
    rule("hardening", "SAHD-8", Is::No, "ports and protocols the device does not need are left enabled"),
];

/// A cell as text: numbers without a spurious `.0`, dates and errors as calamine prints them.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        other => other.to_string().trim().to_string(),
    }
}

fn norm_header(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// `MPII-2.1`, `DOC-11.3`, `AUDT-2.8.1` (upper-cased), or None.
fn question_id(s: &str) -> Option<String> {
    let s = s.trim();
    let (prefix, rest) = s.split_once('-')?;
    let ok_prefix =
        (2..=6).contains(&prefix.len()) && prefix.bytes().all(|c| c.is_ascii_alphabetic());
    let ok_rest = !rest.is_empty()
        && rest
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit()));
    (ok_prefix && ok_rest).then(|| s.to_ascii_uppercase())
}

struct Layout {
    header_row: usize,
    id_col: usize,
    answer_col: usize,
}

fn find_layout(rows: &[Vec<String>]) -> Result<Option<Layout>, String> {
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let h = norm_header(cell);
            if h != "question id" && h != "id" && h != "question #" {
                continue;
            }
            let below = rows[r + 1..]
                .iter()
                .filter(|row| row.get(c).and_then(|x| question_id(x)).is_some())
                .count();
            if below == 0 {
                continue;
            }
            let headers: Vec<String> = row.iter().map(|x| norm_header(x)).collect();
            let is_ref = |h: &str| h.contains("iec") || h.contains("nist") || h.contains("iso");
            let by_header = headers.iter().enumerate().find(|(k, h)| {
                *k != c
                    && !is_ref(h)
                    && (h.contains("yes") || h.starts_with("answer") || h.starts_with("response"))
            });
            let answer_col = match by_header {
                Some((k, _)) => k,
                None => {
                    // The column (not ID, question, note or reference) with most Yes/No/N/A.
                    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
                    let mut best = None;
                    for k in 0..width {
                        let h = headers.get(k).map(String::as_str).unwrap_or("");
                        if k == c || h.contains("question") || h.contains("note") || is_ref(h) {
                            continue;
                        }
                        let n = rows[r + 1..]
                            .iter()
                            .filter(|row| {
                                matches!(
                                    row.get(k).map(|x| Answer::read(x)),
                                    Some(Answer::Yes | Answer::No | Answer::NotApplicable)
                                )
                            })
                            .count();
                        if n > 0 && best.is_none_or(|(_, m)| n > m) {
                            best = Some((k, n));
                        }
                    }
                    match best {
                        Some((k, _)) => k,
                        None => {
                            return Err(format!(
                                "row {}: found the question ID column but no answer column (no header reading Yes/No/Answer, and no column of Yes/No/N/A answers)",
                                r + 1
                            ))
                        }
                    }
                }
            };
            return Ok(Some(Layout {
                header_row: r,
                id_col: c,
                answer_col,
            }));
        }
    }
    Ok(None)
}

impl Mds2 {
    /// Reads an MDS2 2019 workbook (XLSX).
    pub fn load(path: &Path) -> Result<Mds2, Error> {
        let mut wb: Xlsx<_> =
            open_workbook(path).map_err(|e: calamine::XlsxError| Error::OpenWorkbook {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        let sheets = wb.sheet_names();
        for name in &sheets {
            let range = wb.worksheet_range(name).map_err(|e| Error::OpenWorkbook {
                path: path.to_path_buf(),
                message: format!("sheet {name:?}: {e}"),
            })?;
            // Absolute row numbers for messages: the range may not start at A1.
            let first_row = range.start().map_or(0, |(r, _)| r as usize);
            let rows: Vec<Vec<String>> = range
                .rows()
                .map(|r| r.iter().map(cell_text).collect())
                .collect();
            let layout = find_layout(&rows)
                .map_err(|m| Error::invalid(path, format!("sheet {name:?}"), m))?;
            let Some(l) = layout else { continue };
            let mut answers = BTreeMap::new();
            let mut places = BTreeMap::new();
            for (i, row) in rows.iter().enumerate().skip(l.header_row + 1) {
                let Some(id) = row.get(l.id_col).and_then(|x| question_id(x)) else {
                    continue;
                };
                let ans = Answer::read(row.get(l.answer_col).map(String::as_str).unwrap_or(""));
                places.insert(
                    id.clone(),
                    format!("sheet {name:?}, row {}", first_row + i + 1),
                );
                answers.entry(id).or_insert(ans);
            }
            return Ok(Mds2::from_answers(name.clone(), answers, &places));
        }
        Err(Error::invalid(
            path,
            format!("sheets {sheets:?}"),
            "no column headed \"Question ID\" (or \"ID\") with MDS2 question IDs (DOC-1, MPII-1, …) below it; is this an MDS2 2019 form?",
        ))
    }

    fn from_answers(
        sheet: String,
        answers: BTreeMap<String, Answer>,
        places: &BTreeMap<String, String>,
    ) -> Mds2 {
        let text = |id: &str| match answers.get(id) {
            Some(Answer::Other(s)) => Some(s.clone()),
            Some(a) if *a != Answer::Blank => Some(a.as_str().to_string()),
            _ => None,
        };
        let mut gaps = Vec::new();
        for r in RULES {
            if !r.requires.iter().all(|(q, is)| is.holds(answers.get(*q))) {
                continue;
            }
            if r.unless.iter().any(|(q, is)| is.holds(answers.get(*q))) {
                continue;
            }
            let a = answers.get(r.question);
            let hit = r.bad.holds(a) || (r.blank_is_gap && matches!(a, None | Some(Answer::Blank)));
            if hit {
                gaps.push(Gap {
                    capability: r.capability,
                    question: r.question.to_string(),
                    answer: a.cloned().unwrap_or(Answer::Blank),
                    why: r.why,
                    place: places
                        .get(r.question)
                        .cloned()
                        .unwrap_or_else(|| "question missing from the form".to_string()),
                });
            }
        }
        Mds2 {
            manufacturer: text("DOC-1"),
            device: text("DOC-2"),
            model: text("DOC-3"),
            remote_service: match answers.get("RMOT-1") {
                Some(Answer::Yes) => Some(true),
                Some(Answer::No) => Some(false),
                _ => None,
            },
            answers,
            gaps,
            sheet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_and_ids() {
        assert_eq!(Answer::read(" Yes "), Answer::Yes);
        assert_eq!(Answer::read("yes, optional"), Answer::Yes);
        assert_eq!(Answer::read("NO - see note 2"), Answer::No);
        assert_eq!(Answer::read("None"), Answer::Other("None".into()));
        assert_eq!(
            Answer::read("N/A: no default accounts"),
            Answer::NotApplicable
        );
        assert_eq!(Answer::read("See Note"), Answer::SeeNote);
        assert_eq!(Answer::read(""), Answer::Blank);
        assert_eq!(question_id(" mpii-2.1 "), Some("MPII-2.1".into()));
        assert_eq!(question_id("AUDT-2.8.1"), Some("AUDT-2.8.1".into()));
        for bad in [
            "MPII",
            "MPII-",
            "MPII-2.",
            "M-1",
            "ABCDEFG-1",
            "MP II-1",
            "Question ID",
        ] {
            assert_eq!(question_id(bad), None, "{bad}");
        }
    }

    #[test]
    fn rules_are_unique_and_well_formed() {
        let mut seen = std::collections::BTreeSet::new();
        for r in RULES {
            assert!(question_id(r.question).is_some(), "{}", r.question);
            assert!(seen.insert(r.question), "duplicate rule for {}", r.question);
            assert!(!r.why.is_empty());
        }
        for cap in [
            "encryption at rest",
            "encryption in transit",
            "authentication",
            "default accounts",
            "audit",
            "patching",
            "remote service",
        ] {
            assert!(RULES.iter().any(|r| r.capability == cap), "{cap}");
        }
    }
}
