//! The shared vocabulary of medsurface.
//!
//! Every stage of the pipeline (scan, ingest, analyze, store, report) talks to the others only
//! through the types defined here, and only the `medsurface` binary wires stages together. That
//! is why this crate does no I/O and depends on nothing but serde and jiff: a stage can be
//! replaced (a PostgreSQL store, a new importer) without any other stage noticing.
//!
//! The central type is [`Observation`]: what one source (a live probe or an imported record)
//! saw about one service. A [`ProbeResult`] wraps the outcome of one probe of one
//! (address, port) pair, whether or not anything answered. [`Service`] is the record of
//! product.md that users see in `--json` output and reports.

pub mod classify;
pub mod fields;
pub mod located;
pub mod risk;
pub mod scan;
pub mod supply;
pub mod text;
pub mod version;

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use jiff::Timestamp;
pub use scan::{Checkpoint, OutcomeCounts, ScanId, ScanMeta, ScanStatus, Shard};

/// How one probe of one (address, port) ended. A closed set: failures are data, not log lines.
///
/// Errors from the network are mapped to these by their kind (`io::ErrorKind`, errno), never by
/// the text of an error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The TCP handshake completed: something listens there.
    Open,
    /// The peer answered the SYN with a reset: nothing listens, but the host is there.
    Closed,
    /// No answer before the timeout, after every retry (a firewall dropping packets, or no host).
    Filtered,
    /// The network said the host or network cannot be reached (ICMP unreachable, no route).
    Unreachable,
    /// Anything else that went wrong locally (out of ports, permission denied by the OS, …).
    Error,
}

impl Outcome {
    /// Every outcome, in a stable order (used for counters and tables).
    pub const ALL: [Outcome; 5] = [
        Outcome::Open,
        Outcome::Closed,
        Outcome::Filtered,
        Outcome::Unreachable,
        Outcome::Error,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Open => "open",
            Outcome::Closed => "closed",
            Outcome::Filtered => "filtered",
            Outcome::Unreachable => "unreachable",
            Outcome::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Transport protocol of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    #[default]
    Tcp,
    Udp,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Udp => "udp",
        }
    }
}

/// Where an observation came from: a live scan or one of the import formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Scan,
    Shodan,
    Censys,
    Nmap,
    Masscan,
    Zgrab2,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Scan,
        Source::Shodan,
        Source::Censys,
        Source::Nmap,
        Source::Masscan,
        Source::Zgrab2,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Source::Scan => "scan",
            Source::Shodan => "shodan",
            Source::Censys => "censys",
            Source::Nmap => "nmap",
            Source::Masscan => "masscan",
            Source::Zgrab2 => "zgrab2",
        }
    }

    pub fn parse(s: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Protocol facts keyed by dotted names (`banner.text`, `dicom.accepts_any_ae`, …).
///
/// A BTreeMap keeps JSON output and stored rows in a stable order.
pub type Details = BTreeMap<String, serde_json::Value>;

/// What one source saw about one service at one moment.
///
/// Produced by live probes and by importers alike; everything after this point (classify,
/// enrich, assess, store, report) is a pure function of observations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    pub ip: IpAddr,
    pub port: u16,
    pub transport: Transport,
    /// The host name the target was given as, if any (resolved once, the name kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// The application protocol the probe established (`dicom`, `http`, …), if it knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    /// The probe that produced this observation (`banner`, `dicom`, …) or the import format.
    pub probe: String,
    pub source: Source,
    pub seen_at: Timestamp,
    #[serde(default)]
    pub details: Details,
}

/// The result of probing one (address, port) pair in a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// Position of this probe in the scan's shard-local sequence (used for checkpoints).
    pub seq: u128,
    pub ip: IpAddr,
    pub port: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    pub outcome: Outcome,
    /// Connection attempts made (retries happen for timeouts only).
    pub attempts: u8,
    /// Time to the final answer of the TCP handshake, in microseconds, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_us: Option<u64>,
    /// A short, stable reason for `unreachable` and `error` outcomes (an errno name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What the application probe saw, for open ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observation: Option<Observation>,
    /// What the classifier made of the observation. The engine leaves it empty; the binary
    /// classifies while the observation's transient fields are still there, and the store keeps
    /// the verdict with the observation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classification: Option<classify::Classification>,
}

pub use risk::{Dread, Evidence, Factor, Honeypot, Severity};

/// A known vulnerability attached to a service, with where the link came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VulnerabilityRef {
    /// CVE id (or another advisory id when there is no CVE).
    pub id: String,
    /// Where the link came from: `shodan`, `medsurface` (the curated knowledge file), `nvd`,
    /// `kev`, `osv`, or a user file.
    pub source: String,
    /// CVSS base score, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss: Option<f32>,
    /// Whether CISA lists it as known exploited.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub known_exploited: bool,
    /// One line on what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// A reference URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
}

/// The service record of product.md: one per (ip, port, transport), as users see it.
///
/// Field names are a contract: they may be added to, never renamed without a deprecation note.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Service {
    pub ip: IpAddr,
    pub port: u16,
    pub transport: Transport,
    pub hostname: Option<String>,
    pub protocol: Option<String>,
    pub category: Option<String>,
    pub vendor: Option<String>,
    pub product: Option<String>,
    pub version: Option<String>,
    pub signature: Option<String>,
    pub country: Option<String>,
    pub asn: Option<String>,
    pub org: Option<String>,
    pub org_type: Option<String>,
    pub source: Source,
    pub seen_at: Timestamp,
    pub details: Details,
    pub dread: Option<Dread>,
    pub vulnerabilities: Vec<VulnerabilityRef>,
    pub flags: Vec<String>,
    /// Honeypot likelihood and its reasons, when the assessment saw any sign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub honeypot: Option<Honeypot>,
}

impl Service {
    /// Fills the product fields from a classifier verdict.
    pub fn apply_classification(&mut self, c: &classify::Classification) {
        self.signature = Some(c.signature.clone());
        self.category = Some(c.category.as_str().to_string());
        self.vendor = Some(c.vendor.clone());
        self.product = Some(c.product.clone());
        self.version = c.version.clone();
    }

    /// The record for a service seen in one observation, before classification or enrichment.
    ///
    /// What a source itself says about the address (an import's `geo.country`, `net.asn`,
    /// `net.org`, Shodan's `vulns`) fills the matching record fields; enrichment from GeoIP
    /// databases comes later and does not override it.
    pub fn from_observation(obs: &Observation) -> Service {
        Service::from_parts(obs, obs.details.clone())
    }

    /// [`Service::from_observation`] for an observation that is no longer needed: its details
    /// move into the record instead of being copied (what the store does for every row read).
    pub fn from_observation_owned(obs: Observation) -> Service {
        let mut s = Service::from_parts(&obs, Details::new());
        s.details = obs.details;
        s
    }

    /// The record's fields read from `obs`, with `details` as given.
    fn from_parts(obs: &Observation, details: Details) -> Service {
        let text = |k: &str| {
            obs.details
                .get(k)
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let vulnerabilities = obs
            .details
            .get("shodan.vulns")
            .and_then(|v| v.as_array())
            .map(|ids| {
                ids.iter()
                    .filter_map(|id| id.as_str())
                    .map(|id| VulnerabilityRef {
                        id: id.to_owned(),
                        source: "shodan".to_owned(),
                        cvss: None,
                        known_exploited: false,
                        summary: None,
                        reference: None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        Service {
            ip: obs.ip,
            port: obs.port,
            transport: obs.transport,
            hostname: obs.hostname.clone(),
            protocol: obs.protocol.clone(),
            category: None,
            vendor: None,
            product: None,
            version: None,
            signature: None,
            country: text("geo.country"),
            asn: text("net.asn"),
            org: text("net.org"),
            org_type: None,
            source: obs.source,
            seen_at: obs.seen_at,
            details,
            dread: None,
            vulnerabilities,
            flags: Vec::new(),
            honeypot: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Outcome::ALL.iter().map(|o| o.as_str()).collect();
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Outcome::ALL.len());
        assert_eq!(Outcome::parse("opne"), None);
    }

    #[test]
    fn source_names_round_trip() {
        for s in Source::ALL {
            assert_eq!(Source::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
    }

    #[test]
    fn service_record_has_the_contract_fields() {
        let obs = Observation {
            ip: "192.0.2.7".parse().unwrap(),
            port: 104,
            transport: Transport::Tcp,
            hostname: None,
            protocol: Some("dicom".into()),
            probe: "banner".into(),
            source: Source::Scan,
            seen_at: "2026-01-02T03:04:05Z".parse().unwrap(),
            details: Details::new(),
        };
        let v = serde_json::to_value(Service::from_observation(&obs)).unwrap();
        for field in [
            "ip",
            "port",
            "transport",
            "protocol",
            "category",
            "vendor",
            "product",
            "version",
            "signature",
            "country",
            "asn",
            "org",
            "org_type",
            "source",
            "seen_at",
            "details",
            "dread",
            "vulnerabilities",
            "flags",
        ] {
            assert!(v.get(field).is_some(), "missing {field}");
        }
        assert_eq!(v["seen_at"], "2026-01-02T03:04:05Z");
        assert_eq!(v["ip"], "192.0.2.7");
    }
}
