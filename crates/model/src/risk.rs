//! Risk vocabulary: DREAD factors, severity bands, the evidence behind each factor, and the
//! honeypot verdict. The rubric that sets these values lives in `crates/analyze` and its data in
//! `risk/`; this module only names them, so reports, the store and the supply-chain stage speak
//! the same words.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One of the five DREAD factors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Factor {
    Damage,
    Reproducibility,
    Exploitability,
    AffectedUsers,
    Discoverability,
}

impl Factor {
    pub const ALL: [Factor; 5] = [
        Factor::Damage,
        Factor::Reproducibility,
        Factor::Exploitability,
        Factor::AffectedUsers,
        Factor::Discoverability,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Factor::Damage => "damage",
            Factor::Reproducibility => "reproducibility",
            Factor::Exploitability => "exploitability",
            Factor::AffectedUsers => "affected_users",
            Factor::Discoverability => "discoverability",
        }
    }

    pub fn parse(s: &str) -> Option<Factor> {
        Factor::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

impl fmt::Display for Factor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Severity band of a DREAD score, ordered from least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    #[default]
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(s: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a factor has its value: the rule that set it and a sentence a person can check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    /// Id of the rubric rule (e.g. `dicom-query-without-auth`).
    pub rule: String,
    /// The facts that made the rule apply, in words.
    pub reason: String,
}

/// DREAD factors of a service (or of a vendor's access path), each 0–10, the overall score, its
/// band, and the evidence for each factor keyed by [`Factor::as_str`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Dread {
    pub damage: u8,
    pub reproducibility: u8,
    pub exploitability: u8,
    pub affected_users: u8,
    pub discoverability: u8,
    pub score: f32,
    pub severity: Severity,
    pub evidence: BTreeMap<String, Evidence>,
}

impl Dread {
    pub fn get(&self, f: Factor) -> u8 {
        match f {
            Factor::Damage => self.damage,
            Factor::Reproducibility => self.reproducibility,
            Factor::Exploitability => self.exploitability,
            Factor::AffectedUsers => self.affected_users,
            Factor::Discoverability => self.discoverability,
        }
    }

    pub fn set(&mut self, f: Factor, value: u8) {
        let slot = match f {
            Factor::Damage => &mut self.damage,
            Factor::Reproducibility => &mut self.reproducibility,
            Factor::Exploitability => &mut self.exploitability,
            Factor::AffectedUsers => &mut self.affected_users,
            Factor::Discoverability => &mut self.discoverability,
        };
        *slot = value.min(10);
    }
}

/// Whether a service is probably a honeypot, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Honeypot {
    /// 0.0 (no sign) to 1.0 (certain).
    pub likelihood: f32,
    /// One sentence per sign seen (e.g. "same DICOM answer as 212 other addresses").
    pub reasons: Vec<String>,
}
