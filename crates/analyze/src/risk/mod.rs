//! Assessment: what each exposed service means for a hospital, with the reason for every number.
//!
//! Three kinds of knowledge, all data, all validated strictly on load (an unknown key, an
//! unknown fact, a value out of range or a duplicate id is an error naming file and line):
//!
//! - the DREAD rubric (`risk/dread.toml`, [`Rubric`]): rules over [`Facts`] that set factor
//!   values, combined by maximum, scored by the mean, each factor citing the rule that set it;
//! - known vulnerabilities (`knowledge/vulns.toml`, [`KnownVulns`]): product and version range
//!   → CVE, CVSS, KEV status; more advisories can be added from the NVD / KEV importers;
//! - honeypots (`knowledge/honeypots.toml`, [`HoneypotRules`]): known identities plus cluster and
//!   many-ports heuristics whose thresholds live in the same file.
//!
//! [`Assessor`] applies them to a set of services. The rubric engine is generic over facts and
//! vocabularies ([`Vocabulary`]), so other stages (vendor access paths) reuse it with their own
//! rubric file. Formulas, thresholds and flags are documented in `risk/README.md`.

mod assessor;
mod cond;
mod error;
mod facts;
pub mod flags;
mod honeypot;
mod rubric;
mod vulns;

pub use assessor::Assessor;
pub use cond::{Template, CITE_CAP};
pub use error::{RiskError, RiskErrorKind};
pub use facts::{
    service_facts, service_tls, FactRef, FactSource, FactType, Facts, ServiceFacts, Vocabulary,
    SERVICE_FACTS,
};
pub use flags::FLAGS;
pub use honeypot::{
    fingerprint, Heuristics, HoneypotIndex, HoneypotIndexBuilder, HoneypotRules, Identity,
    BUILTIN_HONEYPOTS, BUILTIN_HONEYPOTS_NAME, FINGERPRINT_KEYS, FINGERPRINT_MIN_FACTS,
};
pub use rubric::{
    score_of, severity_of, Rubric, Rule, BUILTIN_RUBRIC, BUILTIN_RUBRIC_NAME, CRITICAL_FROM,
    HIGH_FROM, MEDIUM_FROM,
};
pub use vulns::{
    match_vulns, merge_vulns, Advisory, DefaultCredentials, KnownVulns, Matched, BUILTIN_VULNS,
    BUILTIN_VULNS_NAME, CURATED_SOURCE,
};
