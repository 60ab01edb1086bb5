//! What the supply-chain stage hands to reports: one summary per vendor. The register, SBOM and
//! MDS2 handling live in `crates/supply`; reports only need this.

use serde::{Deserialize, Serialize};

use crate::risk::Dread;

/// One vendor as a report shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VendorSummary {
    /// The vendor's name as the register spells it (or as signatures name it, if unregistered).
    pub vendor: String,
    /// Whether the vendor is in the hospital's register; exposed services of an unregistered
    /// vendor are called out.
    pub in_register: bool,
    /// Risk tier (`critical`, `high`, `medium`, `low`), from the vendor DREAD score.
    pub tier: String,
    /// Vendor DREAD over its access paths, with evidence.
    pub dread: Option<Dread>,
    /// The access the vendor holds, in words (e.g. "remote-access account", "badge access").
    pub access: Vec<String>,
    /// Exposed services linked to this vendor (scans and imports).
    pub exposed_services: u64,
    /// Device components with known vulnerabilities (from SBOMs).
    pub vulnerable_components: u64,
    /// Security gaps from MDS2 forms, in words.
    pub mds2_gaps: Vec<String>,
    /// Next review date (YYYY-MM-DD) from the register, and whether it has passed.
    pub next_review: Option<String>,
    pub review_overdue: bool,
    /// Other remarks worth a reader's attention.
    pub notes: Vec<String>,
}
