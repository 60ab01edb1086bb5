//! What the classifier says about an observation: which signature matched, the product it
//! names, and the evidence for it.
//!
//! The categories are the closed set of product.md, so a typo in a signature file or a report
//! filter is caught where it is parsed instead of becoming a new, empty category. The
//! classifier itself (signature files, matching) lives in `medsurface-analyze`; this type is
//! here because the store, the report and the binary all carry it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The product categories of product.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Category {
    /// DICOM servers, PACS, DICOMweb, web viewers.
    Imaging,
    /// EMR/EHR, patient record maintenance.
    Emr,
    /// Pharmacy management.
    Pharmacy,
    /// Patient scheduling and appointments.
    Scheduling,
    /// Hospital admin consoles, interface-engine admin UIs.
    AdminConsole,
    /// HL7 v2 and FHIR endpoints.
    Interface,
    /// Databases that may hold clinical data.
    Database,
    /// Modalities, monitors, pumps, identified by banner.
    MedicalDevice,
    Other,
}

impl Category {
    /// Every category, in the order of product.md.
    pub const ALL: [Category; 9] = [
        Category::Imaging,
        Category::Emr,
        Category::Pharmacy,
        Category::Scheduling,
        Category::AdminConsole,
        Category::Interface,
        Category::Database,
        Category::MedicalDevice,
        Category::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Imaging => "imaging",
            Category::Emr => "emr",
            Category::Pharmacy => "pharmacy",
            Category::Scheduling => "scheduling",
            Category::AdminConsole => "admin-console",
            Category::Interface => "interface",
            Category::Database => "database",
            Category::MedicalDevice => "medical-device",
            Category::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a signature's author is that a match names the product (stated in the file).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Low,
    #[default]
    Medium,
    High,
}

impl Confidence {
    pub const ALL: [Confidence; 3] = [Confidence::Low, Confidence::Medium, Confidence::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Confidence> {
        Confidence::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// One matcher of the winning signature that held, described without the peer's text (the
/// value that matched is in the observation; evidence names the rule, e.g.
/// `http.title contains "orthanc explorer"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// The observation field (`port`, `protocol` or a key of [`crate::fields::FIELDS`]).
    pub field: String,
    /// The rule, as written in the signature.
    pub rule: String,
}

/// The classifier's verdict on one observation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    /// Id of the matching signature (its file stem).
    pub signature: String,
    pub category: Category,
    pub vendor: String,
    pub product: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub confidence: Confidence,
    pub evidence: Vec<Evidence>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Category::ALL.len());
        assert_eq!(Category::parse("admin_console"), None);
    }

    #[test]
    fn confidence_names_round_trip_and_order() {
        for c in Confidence::ALL {
            assert_eq!(Confidence::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
        assert!(Confidence::Low < Confidence::Medium && Confidence::Medium < Confidence::High);
    }
}
