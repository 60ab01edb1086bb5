//! Remediation advice as data: one entry per product category and one per assessment flag, in
//! `crates/report/remediation.toml`, compiled into the library.
//!
//! The file is validated strictly when it is loaded (unknown keys, unknown categories, missing
//! categories and empty advice are errors naming the file and line), and a test loads the
//! built-in file, so a typo never ships as a silently missing paragraph.

use std::collections::BTreeMap;

use medsurface_model::classify::Category;
use serde::Deserialize;

use crate::ReportError;

const BUILTIN: &str = include_str!("../remediation.toml");
const BUILTIN_NAME: &str = "crates/report/remediation.toml";

/// Advice for one category.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryAdvice {
    /// Heading shown in reports.
    pub title: String,
    pub advice: Vec<String>,
}

/// Advice for one flag.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagAdvice {
    pub advice: Vec<String>,
}

/// The whole advice file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Remediation {
    /// Keyed by [`Category::as_str`].
    pub category: BTreeMap<String, CategoryAdvice>,
    /// Keyed by flag name.
    #[serde(default)]
    pub flag: BTreeMap<String, FlagAdvice>,
}

impl Remediation {
    /// The advice compiled into the library.
    pub fn builtin() -> Result<Remediation, ReportError> {
        Remediation::parse(BUILTIN, BUILTIN_NAME)
    }

    /// Parses and validates an advice file; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Remediation, ReportError> {
        let err = |line: usize, message: String| ReportError::Remediation {
            file: origin.to_string(),
            line,
            message,
        };
        let r: Remediation = toml::from_str(text).map_err(|e| {
            let line = e.span().map(|s| line_of(text, s.start)).unwrap_or(0);
            err(line, e.message().to_string())
        })?;
        for (name, a) in &r.category {
            let line = header_line(text, "category", name);
            if Category::parse(name).is_none() {
                return Err(err(line, format!("unknown category {name:?}")));
            }
            if a.title.trim().is_empty() {
                return Err(err(line, format!("category {name:?}: empty title")));
            }
            check_advice(&a.advice).map_err(|m| err(line, format!("category {name:?}: {m}")))?;
        }
        for c in Category::ALL {
            if !r.category.contains_key(c.as_str()) {
                return Err(err(0, format!("no advice for category {:?}", c.as_str())));
            }
        }
        for (name, a) in &r.flag {
            let line = header_line(text, "flag", name);
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(err(
                    line,
                    format!("flag {name:?}: not a flag name (a-z, 0-9, -)"),
                ));
            }
            check_advice(&a.advice).map_err(|m| err(line, format!("flag {name:?}: {m}")))?;
        }
        Ok(r)
    }

    /// Advice for a category name; `other` for unknown or missing categories.
    pub fn for_category(&self, category: Option<&str>) -> (&str, &CategoryAdvice) {
        let name = category
            .and_then(Category::parse)
            .unwrap_or(Category::Other)
            .as_str();
        let (k, v) = self
            .category
            .get_key_value(name)
            .expect("validated: every category has advice");
        (k.as_str(), v)
    }

    /// Advice for a flag, if the file has any.
    pub fn for_flag(&self, flag: &str) -> Option<&FlagAdvice> {
        self.flag.get(flag)
    }
}

fn check_advice(advice: &[String]) -> Result<(), String> {
    if advice.is_empty() {
        return Err("no advice".into());
    }
    if let Some(i) = advice.iter().position(|a| a.trim().is_empty()) {
        return Err(format!("advice {} is empty", i + 1));
    }
    Ok(())
}

use medsurface_model::located::line_of;

/// Line of the `[table.name]` header, or 0 when it is written another way.
fn header_line(text: &str, table: &str, name: &str) -> usize {
    let plain = format!("[{table}.{name}]");
    let quoted = format!("[{table}.\"{name}\"]");
    text.lines()
        .position(|l| {
            let l = l.trim();
            l == plain || l == quoted
        })
        .map(|i| i + 1)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL_REST: &str = r#"
[category.emr]
title = "EMR"
advice = ["a"]
[category.pharmacy]
title = "P"
advice = ["a"]
[category.scheduling]
title = "S"
advice = ["a"]
[category.admin-console]
title = "A"
advice = ["a"]
[category.interface]
title = "I"
advice = ["a"]
[category.database]
title = "D"
advice = ["a"]
[category.medical-device]
title = "M"
advice = ["a"]
[category.other]
title = "O"
advice = ["a"]
"#;

    #[test]
    fn builtin_file_is_valid_and_covers_every_category() {
        let r = Remediation::builtin().unwrap();
        for c in Category::ALL {
            let (name, a) = r.for_category(Some(c.as_str()));
            assert_eq!(name, c.as_str());
            assert!(!a.advice.is_empty());
        }
        for flag in ["likely-honeypot", "tls-missing", "default-credentials-page"] {
            assert!(r.for_flag(flag).is_some(), "{flag}");
        }
        assert_eq!(r.for_category(Some("no-such")).0, "other");
        assert_eq!(r.for_category(None).0, "other");
    }

    #[test]
    fn unknown_key_is_an_error_with_file_and_line() {
        let text =
            format!("[category.imaging]\ntitle = \"I\"\nadvise = [\"typo\"]\n{MINIMAL_REST}");
        let e = Remediation::parse(&text, "my.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("my.toml:3:"), "{e}");
        assert!(e.contains("advise"), "{e}");
    }

    #[test]
    fn unknown_and_missing_categories_are_errors() {
        let text = format!("[category.imagin]\ntitle = \"I\"\nadvice = [\"a\"]\n{MINIMAL_REST}");
        let e = Remediation::parse(&text, "x.toml").unwrap_err().to_string();
        assert!(
            e.contains("x.toml:1:") && e.contains("unknown category"),
            "{e}"
        );
        let e = Remediation::parse(MINIMAL_REST, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no advice for category \"imaging\""), "{e}");
    }

    #[test]
    fn empty_advice_and_bad_flag_names_are_errors() {
        let base = format!("[category.imaging]\ntitle = \"I\"\nadvice = [\"a\"]\n{MINIMAL_REST}");
        assert!(Remediation::parse(&base, "x").is_ok());
        let empty = format!("{base}[flag.tls-missing]\nadvice = []\n");
        let e = Remediation::parse(&empty, "x").unwrap_err().to_string();
        assert!(e.contains("no advice"), "{e}");
        let blank = format!("{base}[flag.tls-missing]\nadvice = [\"  \"]\n");
        assert!(Remediation::parse(&blank, "x").is_err());
        let bad = format!("{base}[flag.\"Bad Flag\"]\nadvice = [\"a\"]\n");
        let e = Remediation::parse(&bad, "x").unwrap_err().to_string();
        assert!(e.contains("not a flag name"), "{e}");
    }
}
