//! Honeypot likelihood: known honeypot identities (data, `knowledge/honeypots.toml`) and two
//! heuristics over the whole set of services (code, thresholds in the same file).
//!
//! Signs, each with a probability that it alone means "honeypot":
//!
//! - **Known identity**: a `[[identity]]` whose conditions hold for the service's facts (the
//!   defaults of public honeypots, Shodan's own `honeypot` tag), with its own likelihood.
//! - **Cluster of identical answers**: the same protocol answer fingerprint (see
//!   [`FINGERPRINT_KEYS`]) from at least `cluster_min_addresses` distinct addresses spread over at
//!   least `cluster_min_networks` distinct networks (IPv4 /16, IPv6 /32). Default installs of one
//!   product version also look alike, so a cluster at the minimum size gives
//!   `cluster_likelihood` (below the flag threshold by default); a cluster at least
//!   `cluster_large_factor` times the minimum gives `cluster_large_likelihood`.
//! - **Implausibly many medical ports**: one address answering on at least
//!   `host_min_medical_ports` distinct ports with a medical protocol (dicom, hl7, fhir,
//!   dicomweb) or a medical classification (every category but database and other).
//!
//! Signs combine as independent evidence (noisy-OR): `1 − Π(1 − pᵢ)`, rounded to two decimals.
//! A service with no sign gets no verdict (`None`). The flag `likely-honeypot` is set at
//! `threshold` (0.5 by default).
//!
//! The two heuristics need the whole set, but not the whole records: [`HoneypotRules::index`]
//! collects, one service at a time, what they read (address, fingerprint hash, medical ports)
//! into a [`HoneypotIndex`], against which [`HoneypotRules::judge_with`] judges any chunk of the
//! set exactly as [`HoneypotRules::judge`] judges the set at once (it is built on them).

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use medsurface_model::{Honeypot, Service};
use serde::Deserialize;
use serde_json::Value;
use toml::Spanned;

use super::cond::{compile_all, Cond, RawCond};
use super::error::{read, FileCtx, RiskError, RiskErrorKind};
use super::facts::{network_of, service_facts, Vocabulary};
use crate::signature::valid_id;

/// The shipped honeypot file, as named in errors.
pub const BUILTIN_HONEYPOTS_NAME: &str = "knowledge/honeypots.toml";
/// The shipped honeypot file's text.
pub const BUILTIN_HONEYPOTS: &str = include_str!("../../../../knowledge/honeypots.toml");

/// The details that make up a service's answer fingerprint for cluster detection (with its
/// protocol and port). At least [`FINGERPRINT_MIN_FACTS`] of them must be present, so bare
/// port records (masscan) never cluster.
pub const FINGERPRINT_KEYS: &[&str] = &[
    "banner.text",
    "db.product",
    "db.version",
    "dicom.accepts_any_ae",
    "dicom.accepts_any_calling_ae",
    "dicom.association",
    "dicom.contexts",
    "dicom.echo_status",
    "dicom.implementation_class_uid",
    "dicom.implementation_version_name",
    "dicom.max_pdu_length",
    "dicom.query_status",
    "dicom.reject_reason",
    "fhir.software",
    "fhir.software_version",
    "hl7.ack_code",
    "hl7.sending_application",
    "hl7.sending_facility",
    "hl7.version",
    "http.body_sha256",
    "http.favicon_hash",
    "http.realm",
    "http.server",
    "http.status",
    "http.title",
];

/// Facts a fingerprint needs before it may count towards a cluster.
pub const FINGERPRINT_MIN_FACTS: usize = 2;

/// Protocols that count as medical for the many-ports heuristic.
const MEDICAL_PROTOCOLS: &[&str] = &["dicom", "hl7", "fhir", "dicomweb"];

/// Thresholds of the heuristics (the `[heuristics]` table).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heuristics {
    /// Likelihood at which the flag `likely-honeypot` is set.
    pub threshold: f32,
    pub cluster_min_addresses: usize,
    pub cluster_min_networks: usize,
    pub cluster_likelihood: f32,
    pub cluster_large_factor: usize,
    pub cluster_large_likelihood: f32,
    pub host_min_medical_ports: usize,
    pub host_likelihood: f32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    heuristics: Spanned<Heuristics>,
    #[serde(default)]
    identity: Vec<Spanned<RawIdentity>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentity {
    id: Spanned<String>,
    name: String,
    likelihood: Spanned<f64>,
    reason: String,
    source: Spanned<String>,
    #[serde(default)]
    note: Option<String>,
    when: Spanned<Vec<Spanned<RawCond>>>,
}

/// A known honeypot identity.
#[derive(Debug, Clone)]
pub struct Identity {
    pub id: String,
    pub name: String,
    pub likelihood: f32,
    pub reason: String,
    pub source: String,
    pub line: usize,
    pub(crate) when: Vec<Cond>,
}

/// Identities and thresholds.
#[derive(Debug, Clone)]
pub struct HoneypotRules {
    pub file: String,
    pub heuristics: Heuristics,
    pub identities: Vec<Identity>,
}

impl HoneypotRules {
    /// The shipped file.
    pub fn builtin() -> Result<HoneypotRules, RiskError> {
        HoneypotRules::parse(
            BUILTIN_HONEYPOTS_NAME,
            BUILTIN_HONEYPOTS,
            &Vocabulary::service(),
        )
    }

    /// A user's file of the same format (replacing the shipped one).
    pub fn load(path: &Path) -> Result<HoneypotRules, RiskError> {
        let text = read(path)?;
        HoneypotRules::parse(&path.display().to_string(), &text, &Vocabulary::service())
    }

    /// Parses and validates a honeypot file against a vocabulary of service facts.
    pub fn parse(file: &str, text: &str, vocab: &Vocabulary) -> Result<HoneypotRules, RiskError> {
        let cx = FileCtx { file, text };
        let raw: RawFile = cx.parse()?;
        let h = raw.heuristics.get_ref().clone();
        let h_at = raw.heuristics.span().start;
        let prob = |name: &str, p: f32| -> Result<(), RiskError> {
            if (0.0..=1.0).contains(&p) {
                Ok(())
            } else {
                Err(cx.err(
                    h_at,
                    RiskErrorKind::OutOfRange(format!("{name} = {p}: a likelihood is 0.0–1.0")),
                ))
            }
        };
        prob("threshold", h.threshold)?;
        prob("cluster_likelihood", h.cluster_likelihood)?;
        prob("cluster_large_likelihood", h.cluster_large_likelihood)?;
        prob("host_likelihood", h.host_likelihood)?;
        if h.threshold == 0.0 {
            return Err(cx.err(
                h_at,
                RiskErrorKind::OutOfRange("threshold = 0 would flag every service".into()),
            ));
        }
        for (name, n, min) in [
            ("cluster_min_addresses", h.cluster_min_addresses, 2),
            ("cluster_min_networks", h.cluster_min_networks, 1),
            ("cluster_large_factor", h.cluster_large_factor, 1),
            ("host_min_medical_ports", h.host_min_medical_ports, 2),
        ] {
            if n < min {
                return Err(cx.err(
                    h_at,
                    RiskErrorKind::OutOfRange(format!("{name} = {n}: at least {min}")),
                ));
            }
        }
        let mut identities = Vec::new();
        let mut seen: HashMap<String, usize> = HashMap::new();
        for spanned in &raw.identity {
            let at = spanned.span().start;
            let r = spanned.get_ref();
            let id = r.id.get_ref().clone();
            if !valid_id(&id) {
                return Err(cx.err(
                    r.id.span().start,
                    RiskErrorKind::Syntax(format!(
                        "bad identity id `{id}` (lower-case letters, digits and '-')"
                    )),
                ));
            }
            if let Some(first) = seen.get(&id) {
                return Err(cx.err(
                    r.id.span().start,
                    RiskErrorKind::DuplicateId {
                        id,
                        first_line: *first,
                    },
                ));
            }
            seen.insert(id.clone(), cx.line(r.id.span().start));
            let p = *r.likelihood.get_ref();
            if !(0.0..=1.0).contains(&p) || p == 0.0 {
                return Err(cx.err(
                    r.likelihood.span().start,
                    RiskErrorKind::OutOfRange(format!("likelihood = {p}: (0.0, 1.0]")),
                ));
            }
            let src = r.source.get_ref();
            if !(src.starts_with("https://") || src.starts_with("http://")) {
                return Err(cx.err(
                    r.source.span().start,
                    RiskErrorKind::Missing(format!("source `{src}` is not an http(s) URL")),
                ));
            }
            if r.reason.trim().is_empty() || r.name.trim().is_empty() {
                return Err(cx.err(at, RiskErrorKind::Missing("empty name or reason".into())));
            }
            if r.when.get_ref().is_empty() {
                return Err(cx.err(
                    r.when.span().start,
                    RiskErrorKind::Missing(
                        "an identity needs at least one condition (it would match everything)"
                            .into(),
                    ),
                ));
            }
            let _ = &r.note;
            identities.push(Identity {
                id,
                name: r.name.trim().to_string(),
                likelihood: p as f32,
                reason: r.reason.trim().to_string(),
                source: src.clone(),
                line: cx.line(at),
                when: compile_all(&cx, vocab, r.when.get_ref())?,
            });
        }
        Ok(HoneypotRules {
            file: file.to_string(),
            heuristics: h,
            identities,
        })
    }

    /// Honeypot verdicts for a whole set, in the set's order (`None`: no sign).
    ///
    /// The one-shot form of [`HoneypotRules::index`] + [`HoneypotRules::judge_with`]: the set is
    /// indexed, then judged against its own index.
    pub fn judge(&self, services: &[Service]) -> Vec<Option<Honeypot>> {
        let mut index = self.index();
        for s in services {
            index.add(s);
        }
        self.judge_with(services, &index.finish())
    }

    /// A builder of the set-wide part of the verdicts (clusters of identical answers, medical
    /// ports per address), fed one service at a time, so a set too large for memory can be
    /// judged in chunks: feed every service of the set to the builder, then judge each chunk
    /// with [`HoneypotRules::judge_with`] against the finished index.
    ///
    /// The index keeps, per service, only its address, the hash of its answer fingerprint and
    /// its port when medical: a few dozen bytes, never the details. It reads the protocol, port,
    /// category and details a service had when fed, so feed services as they will be judged as
    /// far as those go (enrichment adds no fingerprint key and no category, so it may come
    /// later). The order of feeding does not matter.
    pub fn index(&self) -> HoneypotIndexBuilder<'_> {
        HoneypotIndexBuilder {
            rules: self,
            services: 0,
            clusters: HashMap::new(),
            ports: HashMap::new(),
        }
    }

    /// Honeypot verdicts for `chunk`, part (or all) of a set whose every service was fed to
    /// `index`, in the chunk's order. Each verdict is the one [`HoneypotRules::judge`] gives the
    /// same service judged with the whole set at once.
    pub fn judge_with(&self, chunk: &[Service], index: &HoneypotIndex) -> Vec<Option<Honeypot>> {
        let mut signs: Vec<Vec<(f32, String)>> = vec![Vec::new(); chunk.len()];

        // Known identities (per service: spread over the cores for large sets).
        if !self.identities.is_empty() {
            let mut view: Vec<&Service> = chunk.iter().collect();
            super::assessor::par_zip(&mut view, &mut signs, |view, signs| {
                for (s, signs) in view.iter().zip(signs.iter_mut()) {
                    let facts = service_facts(s);
                    for id in &self.identities {
                        if id.when.iter().all(|c| c.holds(&facts)) {
                            signs.push((
                                id.likelihood,
                                format!("{} ({}; rule {})", id.reason, id.name, id.id),
                            ));
                        }
                    }
                }
            });
        }

        // Clusters of identical answers, then implausibly many medical ports on one address.
        let h = &self.heuristics;
        for (s, signs) in chunk.iter().zip(signs.iter_mut()) {
            if let Some((p, reason)) = fingerprint_hash(s).and_then(|fp| index.clusters.get(&fp)) {
                signs.push((*p, reason.clone()));
            }
            if let Some(&n) = index.ports.get(&s.ip) {
                signs.push((
                    h.host_likelihood,
                    format!(
                        "the address answers on {n} medical ports, more than a real system exposes"
                    ),
                ));
            }
        }

        signs
            .into_iter()
            .map(|s| {
                if s.is_empty() {
                    return None;
                }
                let none = s.iter().fold(1.0f32, |acc, (p, _)| acc * (1.0 - p));
                let likelihood = ((1.0 - none) * 100.0).round() / 100.0;
                Some(Honeypot {
                    likelihood,
                    reasons: s.into_iter().map(|(_, r)| r).collect(),
                })
            })
            .collect()
    }
}

/// Collects what the set-wide honeypot signs need, one service at a time
/// ([`HoneypotRules::index`]).
#[derive(Debug)]
pub struct HoneypotIndexBuilder<'r> {
    rules: &'r HoneypotRules,
    services: usize,
    /// Per fingerprint hash: the protocol of its services (part of the fingerprint, so the same
    /// for all) and their addresses.
    clusters: HashMap<u64, (Option<String>, Vec<IpAddr>)>,
    /// Per address: its distinct medical ports.
    ports: HashMap<IpAddr, BTreeSet<u16>>,
}

impl HoneypotIndexBuilder<'_> {
    /// Whether the index reads this detail of a service (the other details may be left out of
    /// the services fed to [`HoneypotIndexBuilder::add`]: the index comes out the same).
    pub fn reads_detail(key: &str) -> bool {
        // FINGERPRINT_KEYS is sorted (fingerprint_hash relies on it too).
        FINGERPRINT_KEYS.binary_search(&key).is_ok()
    }

    /// Adds one service of the set.
    pub fn add(&mut self, s: &Service) {
        self.services += 1;
        if let Some(fp) = fingerprint_hash(s) {
            self.clusters
                .entry(fp)
                .or_insert_with(|| (s.protocol.clone(), Vec::new()))
                .1
                .push(s.ip);
        }
        if is_medical(s) {
            self.ports.entry(s.ip).or_default().insert(s.port);
        }
    }

    /// How many services were added.
    pub fn len(&self) -> usize {
        self.services
    }

    pub fn is_empty(&self) -> bool {
        self.services == 0
    }

    /// The signs each fingerprint and address gives, under the rules' thresholds.
    pub fn finish(self) -> HoneypotIndex {
        let h = &self.rules.heuristics;
        let mut clusters = HashMap::new();
        for (fp, (protocol, mut addresses)) in self.clusters {
            if addresses.len() < h.cluster_min_addresses {
                continue;
            }
            addresses.sort_unstable();
            addresses.dedup();
            if addresses.len() < h.cluster_min_addresses {
                continue;
            }
            let mut networks: Vec<u64> = addresses.iter().map(|ip| network_of(*ip)).collect();
            networks.sort_unstable();
            networks.dedup();
            if networks.len() < h.cluster_min_networks {
                continue;
            }
            let large = addresses.len() >= h.cluster_min_addresses * h.cluster_large_factor;
            let p = if large {
                h.cluster_large_likelihood
            } else {
                h.cluster_likelihood
            };
            let reason = format!(
                "same {} answer as {} other addresses in {} networks (cluster of identical configuration)",
                protocol.as_deref().unwrap_or("service"),
                addresses.len() - 1,
                networks.len()
            );
            clusters.insert(fp, (p, reason));
        }
        let ports = self
            .ports
            .into_iter()
            .map(|(ip, ports)| (ip, ports.len()))
            .filter(|(_, n)| *n >= h.host_min_medical_ports)
            .collect();
        HoneypotIndex {
            services: self.services,
            clusters,
            ports,
        }
    }
}

/// The set-wide honeypot signs of a set of services, by answer fingerprint and by address
/// ([`HoneypotIndexBuilder::finish`]); only fingerprints and addresses that give a sign are
/// kept.
#[derive(Debug, Clone, Default)]
pub struct HoneypotIndex {
    services: usize,
    /// Fingerprint hash → likelihood and reason of its cluster sign.
    clusters: HashMap<u64, (f32, String)>,
    /// Address → its number of distinct medical ports, where that gives the sign.
    ports: HashMap<IpAddr, usize>,
}

impl HoneypotIndex {
    /// How many services the index was built from.
    pub fn services(&self) -> usize {
        self.services
    }
}

fn is_medical(s: &Service) -> bool {
    s.protocol
        .as_deref()
        .is_some_and(|p| MEDICAL_PROTOCOLS.contains(&p))
        || s.category
            .as_deref()
            .is_some_and(|c| !matches!(c, "database" | "other"))
}

/// The answer fingerprint of a service, or `None` when it holds too few facts.
pub fn fingerprint(s: &Service) -> Option<String> {
    let mut out = String::new();
    let mut n = 0;
    out.push_str(s.protocol.as_deref().unwrap_or("-"));
    out.push('|');
    out.push_str(&s.port.to_string());
    for k in FINGERPRINT_KEYS {
        if let Some(v) = s.details.get(*k).filter(|v| !v.is_null()) {
            n += 1;
            out.push('|');
            out.push_str(k);
            out.push('=');
            match v {
                Value::String(t) => out.push_str(t),
                other => out.push_str(&other.to_string()),
            }
        }
    }
    (n >= FINGERPRINT_MIN_FACTS).then_some(out)
}

/// [`fingerprint`] as a 64-bit hash, without building the string (a deterministic SipHash with
/// fixed keys; a collision between two different answers is a 2^-64 event).
fn fingerprint_hash(s: &Service) -> Option<u64> {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    s.protocol.as_deref().unwrap_or("-").hash(&mut h);
    s.port.hash(&mut h);
    let mut n = 0;
    // Both the details and FINGERPRINT_KEYS are sorted: walk them together.
    let mut keys = FINGERPRINT_KEYS.iter().peekable();
    for (k, v) in &s.details {
        while keys.next_if(|f| **f < k.as_str()).is_some() {}
        let Some(f) = keys.peek() else { break };
        if **f == k.as_str() && !v.is_null() {
            n += 1;
            k.hash(&mut h);
            hash_value(v, &mut h);
        }
    }
    (n >= FINGERPRINT_MIN_FACTS).then(|| h.finish())
}

fn hash_value(v: &Value, h: &mut impl std::hash::Hasher) {
    use std::hash::Hash;
    match v {
        Value::Null => 0u8.hash(h),
        Value::Bool(b) => (1u8, *b).hash(h),
        Value::Number(n) => (2u8, n.as_f64().map(f64::to_bits)).hash(h),
        Value::String(s) => (3u8, s.as_str()).hash(h),
        Value::Array(items) => {
            (4u8, items.len()).hash(h);
            items.iter().for_each(|i| hash_value(i, h));
        }
        Value::Object(map) => {
            (5u8, map.len()).hash(h);
            for (k, v) in map {
                k.hash(h);
                hash_value(v, h);
            }
        }
    }
}
