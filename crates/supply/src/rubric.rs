//! The vendor rubric: `risk/vendor-dread.toml` loaded by the assessment's rubric engine
//! (`medsurface_analyze::risk`) against the vendor vocabulary [`VENDOR_FACTS`].
//!
//! This is the one place that touches the engine: vendor facts go in, a [`Dread`] with a rule
//! and a sentence per factor comes out. The engine itself knows nothing of vendors; it checks
//! the file's conditions and reason templates against the vocabulary given here, so a rule
//! naming a fact this stage does not fill fails when the file loads, with its line.

use std::path::Path;

use medsurface_analyze::risk::{FactType, Facts, Rubric, Vocabulary};
use medsurface_model::risk::Dread;
use serde_json::Value;

use crate::error::SupplyError;

/// The shipped vendor rubric, as named in errors.
pub const BUILTIN_NAME: &str = "risk/vendor-dread.toml";
/// The shipped vendor rubric's text, compiled in so the binary needs no data directory.
pub const BUILTIN_TEXT: &str = include_str!("../../../risk/vendor-dread.toml");

/// Every fact a vendor rubric may name: key, type, meaning. The one definition the vocabulary,
/// the facts builder's tests and the docs derive from.
pub const VENDOR_FACTS: &[(&str, FactType, &str)] = &[
    ("vendor.name", FactType::Str, "the vendor's name"),
    (
        "vendor.in_register",
        FactType::Bool,
        "whether the vendor is in the register",
    ),
    (
        "vendor.remote_access",
        FactType::Int,
        "remote-access accounts the vendor holds",
    ),
    (
        "vendor.shared_credentials",
        FactType::Bool,
        "the vendor uses shared credentials",
    ),
    (
        "vendor.default_credentials",
        FactType::Bool,
        "the vendor's devices or accounts keep default credentials",
    ),
    (
        "vendor.badge_access",
        FactType::Bool,
        "badge or physical access to the premises",
    ),
    (
        "vendor.patient_data",
        FactType::Bool,
        "the vendor can reach patient data",
    ),
    (
        "vendor.physical_records",
        FactType::Bool,
        "the vendor stores or handles physical records",
    ),
    (
        "vendor.devices",
        FactType::Int,
        "devices the vendor supplied",
    ),
    (
        "vendor.network_segments",
        FactType::Int,
        "network segments the vendor reaches",
    ),
    (
        "vendor.update_rights",
        FactType::Bool,
        "the vendor may push updates or do maintenance",
    ),
    (
        "vendor.contract",
        FactType::Str,
        "contract status: active, pending, expired, none, or unknown",
    ),
    (
        "vendor.baa",
        FactType::Str,
        "business-associate agreement: signed, pending, none, not-required, or unknown",
    ),
    (
        "vendor.baa_signed",
        FactType::Bool,
        "a business-associate agreement is signed",
    ),
    (
        "vendor.review_overdue",
        FactType::Bool,
        "the next review date has passed, or the vendor was never assessed",
    ),
    (
        "vendor.next_review",
        FactType::Str,
        "next review date, YYYY-MM-DD (absent when never assessed)",
    ),
    (
        "vendor.exposed_services",
        FactType::Int,
        "exposed services linked to the vendor (scans and imports)",
    ),
    (
        "vendor.exposed_critical",
        FactType::Int,
        "linked exposed services whose own DREAD rating is critical",
    ),
    (
        "vendor.exposed_high",
        FactType::Int,
        "linked exposed services rated high or critical",
    ),
    (
        "vendor.exposed_products",
        FactType::StrList,
        "products of the linked exposed services",
    ),
    (
        "vendor.exposed_categories",
        FactType::StrList,
        "categories of the linked exposed services",
    ),
    (
        "vendor.vulnerable_components",
        FactType::Int,
        "SBOM components with known vulnerabilities",
    ),
    (
        "vendor.kev_components",
        FactType::Int,
        "SBOM components with a vulnerability CISA lists as known exploited",
    ),
    (
        "vendor.max_cvss",
        FactType::Num,
        "highest CVSS among the SBOM components' vulnerabilities (absent when none is scored)",
    ),
    (
        "vendor.unsupported_components",
        FactType::Int,
        "SBOM components past end of support",
    ),
    (
        "vendor.mds2_gaps",
        FactType::Int,
        "security gaps listed by the vendor's MDS2 forms",
    ),
];

/// The vocabulary of [`VENDOR_FACTS`].
pub fn vocabulary() -> Vocabulary {
    VENDOR_FACTS
        .iter()
        .fold(Vocabulary::new(), |v, (k, ty, _)| v.with(*k, *ty))
}

/// A loaded vendor rubric.
pub struct VendorRubric {
    rubric: Rubric,
}

impl VendorRubric {
    /// The shipped rubric (validated by this crate's tests).
    pub fn builtin() -> Result<VendorRubric, SupplyError> {
        Rubric::parse(BUILTIN_NAME, BUILTIN_TEXT, &vocabulary())
            .map(|rubric| VendorRubric { rubric })
            .map_err(|e| SupplyError::Rubric(e.to_string()))
    }

    /// A user's vendor rubric file.
    pub fn load(path: &Path) -> Result<VendorRubric, SupplyError> {
        Rubric::load(path, &vocabulary())
            .map(|rubric| VendorRubric { rubric })
            .map_err(|e| SupplyError::Rubric(e.to_string()))
    }

    /// Scores one vendor's facts.
    pub fn score(&self, facts: &[(&'static str, Value)]) -> Dread {
        self.rubric.score(&to_facts(facts))
    }

    /// Ids of the rules whose conditions hold for these facts, in file order (whether or not
    /// they end up cited: a stronger rule may set the same factors higher).
    pub fn matching(&self, facts: &[(&'static str, Value)]) -> Vec<String> {
        self.rubric
            .matching(&to_facts(facts))
            .into_iter()
            .map(str::to_string)
            .collect()
    }

    /// Ids of the rules (for tests and docs).
    pub fn rule_ids(&self) -> Vec<&str> {
        self.rubric.rules.iter().map(|r| r.id.as_str()).collect()
    }
}

fn to_facts(facts: &[(&'static str, Value)]) -> Facts<'static> {
    let mut f = Facts::new();
    for (k, v) in facts {
        f.insert(*k, v.clone());
    }
    f
}
