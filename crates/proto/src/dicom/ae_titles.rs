//! The opt-in list of known AE titles (`knowledge/dicom-ae-titles.txt`, or a file given with
//! `--ae-titles`): `TITLE | source | note` per line, validated strictly and bounded, because
//! every title costs one association with the target.

use super::fingerprint::KnowledgeError;
use super::AeTitle;

/// The shipped list, compiled in.
pub const BUILTIN_TEXT: &str = include_str!("../../../../knowledge/dicom-ae-titles.txt");

/// The name the shipped list is reported under in errors.
pub const BUILTIN_ORIGIN: &str = "knowledge/dicom-ae-titles.txt";

/// At most this many titles are accepted from one file.
pub const MAX_TITLES: usize = 64;

/// One known title and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAeTitle {
    pub title: AeTitle,
    pub source: String,
    pub note: Option<String>,
}

/// Parses and validates a list; `origin` names it in errors.
pub fn parse(text: &str, origin: &str) -> Result<Vec<KnownAeTitle>, KnowledgeError> {
    let mut out: Vec<KnownAeTitle> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let invalid = |subject: &str, problem: String| KnowledgeError::Invalid {
            file: origin.to_string(),
            line: line_no,
            subject: subject.to_string(),
            problem,
        };
        let mut fields = line.splitn(3, '|').map(str::trim);
        let title = fields.next().unwrap_or_default();
        let source = fields.next().unwrap_or_default();
        let note = fields.next().filter(|n| !n.is_empty()).map(str::to_string);
        let title = AeTitle::new(title)
            .map_err(|e| invalid(&format!("AE title {title:?}"), e.to_string()))?;
        let subject = format!("AE title {:?}", title.as_str());
        if !(source.starts_with("https://") || source.starts_with("http://")) {
            return Err(invalid(
                &subject,
                "needs a public http(s) source after '|'".into(),
            ));
        }
        if out.iter().any(|k| k.title == title) {
            return Err(invalid(&subject, "duplicate title".into()));
        }
        if out.len() == MAX_TITLES {
            return Err(invalid(&subject, format!("more than {MAX_TITLES} titles")));
        }
        out.push(KnownAeTitle {
            title,
            source: source.to_string(),
            note,
        });
    }
    Ok(out)
}

/// The shipped list.
pub fn builtin() -> Result<Vec<KnownAeTitle>, KnowledgeError> {
    parse(BUILTIN_TEXT, BUILTIN_ORIGIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_list_is_valid_and_has_the_product_defaults() {
        let list = builtin().unwrap();
        let titles: Vec<&str> = list.iter().map(|k| k.title.as_str()).collect();
        for t in [
            "ANY-SCP",
            "ORTHANC",
            "DCM4CHEE",
            "STORESCP",
            "DCMQRSCP",
            "PYNETDICOM",
        ] {
            assert!(titles.contains(&t), "{t} missing");
        }
        assert!(list.len() <= MAX_TITLES);
    }

    #[test]
    fn errors_name_file_and_line() {
        let err = parse(
            "# c\nGOOD | https://x.org/a\nTOO-LONG-TITLE-FOR-DICOM | https://x.org\n",
            "f.txt",
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("f.txt:3:"), "{err}");
        let err = parse("A | https://x.org/a\nA | https://x.org/b\n", "f.txt").unwrap_err();
        assert!(err.to_string().contains("f.txt:2:") && err.to_string().contains("duplicate"));
        let err = parse("A | see manual\n", "f.txt").unwrap_err();
        assert!(err.to_string().contains("public http(s) source"), "{err}");
        let many: String = (0..=MAX_TITLES)
            .map(|i| format!("T{i} | https://x.org\n"))
            .collect();
        assert!(parse(&many, "f")
            .unwrap_err()
            .to_string()
            .contains("more than"));
    }
}
