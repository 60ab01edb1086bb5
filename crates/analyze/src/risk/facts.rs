//! Facts: the flat key → JSON value map that rubric conditions and honeypot identities read,
//! and the vocabularies that say which keys a file may name.
//!
//! The rubric engine knows nothing of [`Service`]: it evaluates conditions over [`Facts`]. A
//! service becomes facts through [`service_facts`] (its detail keys plus the `service.*` keys
//! below); another stage (the vendor access paths of the supply chain) builds its own facts and
//! its own [`Vocabulary`], and loads its own rubric file against it. Facts borrow what they can
//! from the service, so building them for 100k services costs little.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::net::IpAddr;

use medsurface_model::fields::{self, FieldType};
use medsurface_model::Service;
use serde_json::Value;

/// The JSON type of a fact, used to check operators when a file loads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactType {
    Str,
    /// An integer.
    Int,
    /// Any number (integer or not).
    Num,
    Bool,
    /// A list of strings.
    StrList,
    /// Any JSON value: only `exists` / `absent` apply.
    Json,
}

impl From<FieldType> for FactType {
    fn from(t: FieldType) -> FactType {
        match t {
            FieldType::Str => FactType::Str,
            FieldType::Int => FactType::Int,
            FieldType::Bool => FactType::Bool,
            FieldType::StrList => FactType::StrList,
            FieldType::Json => FactType::Json,
        }
    }
}

/// The fact keys a data file may name, with their types.
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    keys: BTreeMap<String, FactType>,
}

/// The `service.*` facts [`service_facts`] adds to a service's details, with their meaning.
pub const SERVICE_FACTS: &[(&str, FactType, &str)] = &[
    ("service.category", FactType::Str, "classifier category (imaging, emr, pharmacy, scheduling, admin-console, interface, database, medical-device, other)"),
    ("service.country", FactType::Str, "ISO 3166 alpha-2 country"),
    ("service.flags", FactType::StrList, "assessment flags set before scoring (see risk::flags::FLAGS)"),
    ("service.honeypot_likelihood", FactType::Num, "honeypot likelihood 0.0–1.0 (0 when no sign)"),
    ("service.kev_count", FactType::Int, "known vulnerabilities that CISA lists as known exploited"),
    ("service.max_cvss", FactType::Num, "highest CVSS base score among known vulnerabilities (absent when none has a score)"),
    ("service.org_type", FactType::Str, "university, hospital, cloud, isp, government, other"),
    ("service.port", FactType::Int, "TCP/UDP port"),
    ("service.product", FactType::Str, "product named by the signature"),
    ("service.protocol", FactType::Str, "application protocol (dicom, hl7, fhir, dicomweb, http, https, tls, mysql, …)"),
    ("service.signature", FactType::Str, "id of the matching signature"),
    ("service.source", FactType::Str, "scan, shodan, censys, nmap, masscan or zgrab2"),
    ("service.tls", FactType::Bool, "whether the service was reached over TLS (https, DICOM TLS, a TLS handshake)"),
    ("service.transport", FactType::Str, "tcp or udp"),
    ("service.vendor", FactType::Str, "vendor named by the signature"),
    ("service.version", FactType::Str, "product version, when the signature extracted one"),
    ("service.vuln_count", FactType::Int, "number of known vulnerabilities attached"),
];

impl Vocabulary {
    /// An empty vocabulary; add keys with [`Vocabulary::with`].
    pub fn new() -> Vocabulary {
        Vocabulary::default()
    }

    /// Adds a key (builder style).
    pub fn with(mut self, key: impl Into<String>, ty: FactType) -> Vocabulary {
        self.keys.insert(key.into(), ty);
        self
    }

    /// The vocabulary of service facts: every stored detail key of
    /// [`medsurface_model::fields::FIELDS`] (transient `_` keys excluded: they are gone by the
    /// time a service is assessed) plus [`SERVICE_FACTS`].
    pub fn service() -> Vocabulary {
        let mut v = Vocabulary::new();
        for f in fields::FIELDS.iter().filter(|f| !f.name.starts_with('_')) {
            v.keys.insert(f.name.to_string(), f.ty.into());
        }
        for (k, ty, _) in SERVICE_FACTS {
            v.keys.insert((*k).to_string(), *ty);
        }
        v
    }

    pub fn get(&self, key: &str) -> Option<FactType> {
        self.keys.get(key).copied()
    }

    pub fn contains(&self, key: &str) -> bool {
        self.keys.contains_key(key)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

/// A flat map of fact key → JSON value. Values are borrowed where possible.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    map: BTreeMap<Cow<'a, str>, Cow<'a, Value>>,
}

impl<'a> Facts<'a> {
    pub fn new() -> Facts<'a> {
        Facts::default()
    }

    /// Sets a fact to an owned value. A JSON null is treated as absent.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: impl Into<Value>) {
        let value = value.into();
        if !value.is_null() {
            self.map.insert(key.into(), Cow::Owned(value));
        }
    }

    /// Sets a fact to a borrowed value. A JSON null is treated as absent.
    pub fn insert_ref(&mut self, key: &'a str, value: &'a Value) {
        if !value.is_null() {
            self.map.insert(Cow::Borrowed(key), Cow::Borrowed(value));
        }
    }

    /// Facts borrowed from a JSON-like map (e.g. a service's details).
    pub fn from_map(map: &'a BTreeMap<String, Value>) -> Facts<'a> {
        let mut f = Facts::new();
        for (k, v) in map {
            f.insert_ref(k, v);
        }
        f
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.map.get(key).map(|v| v.as_ref())
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.map.iter().map(|(k, v)| (k.as_ref(), v.as_ref()))
    }
}

/// A borrowed view of one fact's value: what conditions and templates read. Borrowing (instead
/// of building JSON values) keeps evaluation free of allocations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FactRef<'a> {
    Json(&'a Value),
    Str(&'a str),
    Int(i64),
    Num(f64),
    Bool(bool),
    List(&'a [String]),
}

impl FactRef<'_> {
    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            FactRef::Int(i) => Some(i as f64),
            FactRef::Num(x) => Some(x),
            FactRef::Json(v) => v.as_f64(),
            _ => None,
        }
    }

    /// The value as owned JSON (for listings and tests).
    pub fn to_json(&self) -> Value {
        match *self {
            FactRef::Json(v) => v.clone(),
            FactRef::Str(s) => Value::from(s),
            FactRef::Int(i) => Value::from(i),
            FactRef::Num(x) => Value::from(x),
            FactRef::Bool(b) => Value::from(b),
            FactRef::List(l) => Value::from(l.to_vec()),
        }
    }
}

/// Anything rules can be evaluated against: a map of facts, or a view over a record.
pub trait FactSource {
    /// The fact of that key; `None` when absent (a JSON null counts as absent).
    fn fact(&self, key: &str) -> Option<FactRef<'_>>;
}

impl FactSource for Facts<'_> {
    fn fact(&self, key: &str) -> Option<FactRef<'_>> {
        self.get(key).map(FactRef::Json)
    }
}

/// Whether the service was reached over TLS: `https`, DICOM inside TLS, a TLS handshake read,
/// or an `https://` base or final location.
pub fn service_tls(s: &Service) -> bool {
    let d = &s.details;
    let https = |k: &str| {
        d.get(k).and_then(Value::as_str).is_some_and(|u| {
            u.get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        })
    };
    matches!(s.protocol.as_deref(), Some("https") | Some("tls"))
        || d.get("dicom.tls").and_then(Value::as_bool) == Some(true)
        || d.contains_key("tls.version")
        || https("http.location")
        || https("fhir.base")
        || https("dicomweb.base")
}

/// The facts of a service, as a view: its details plus the `service.*` keys of
/// [`SERVICE_FACTS`], computed when asked. Build it after vulnerabilities, honeypot verdict and
/// flags are set, so the counts and flags are those the rubric should see.
#[derive(Debug, Clone, Copy)]
pub struct ServiceFacts<'a> {
    service: &'a Service,
}

/// The facts of a service (see [`ServiceFacts`]).
pub fn service_facts(s: &Service) -> ServiceFacts<'_> {
    ServiceFacts { service: s }
}

impl<'a> ServiceFacts<'a> {
    /// One fact as owned JSON.
    pub fn get(&self, key: &str) -> Option<Value> {
        self.fact(key).map(|f| f.to_json())
    }

    /// Every fact the service has, materialised (for listings, debugging and reports).
    pub fn to_facts(&self) -> Facts<'a> {
        let mut f = Facts::from_map(&self.service.details);
        for (k, _, _) in SERVICE_FACTS {
            if let Some(v) = self.fact(k) {
                f.insert(*k, v.to_json());
            }
        }
        f
    }
}

impl<'a> FactSource for ServiceFacts<'a> {
    fn fact(&self, key: &str) -> Option<FactRef<'_>> {
        let s = self.service;
        let Some(name) = key.strip_prefix("service.") else {
            return s
                .details
                .get(key)
                .filter(|v| !v.is_null())
                .map(FactRef::Json);
        };
        fn text(v: &Option<String>) -> Option<FactRef<'_>> {
            v.as_deref().map(FactRef::Str)
        }
        match name {
            "category" => text(&s.category),
            "vendor" => text(&s.vendor),
            "product" => text(&s.product),
            "version" => text(&s.version),
            "protocol" => text(&s.protocol),
            "signature" => text(&s.signature),
            "org_type" => text(&s.org_type),
            "country" => text(&s.country),
            "source" => Some(FactRef::Str(s.source.as_str())),
            "transport" => Some(FactRef::Str(s.transport.as_str())),
            "port" => Some(FactRef::Int(i64::from(s.port))),
            "tls" => Some(FactRef::Bool(service_tls(s))),
            "vuln_count" => Some(FactRef::Int(s.vulnerabilities.len() as i64)),
            "kev_count" => Some(FactRef::Int(
                s.vulnerabilities
                    .iter()
                    .filter(|v| v.known_exploited)
                    .count() as i64,
            )),
            "max_cvss" => s
                .vulnerabilities
                .iter()
                .filter_map(|v| v.cvss)
                .fold(None, |m: Option<f32>, c| Some(m.map_or(c, |m| m.max(c))))
                .map(|c| FactRef::Num(round1(c))),
            "honeypot_likelihood" => Some(FactRef::Num(round1(
                s.honeypot.as_ref().map_or(0.0, |h| h.likelihood),
            ))),
            "flags" => Some(FactRef::List(&s.flags)),
            _ => None,
        }
    }
}

/// A float rounded to one decimal, as a JSON number (f32 → f64 without binary noise).
fn round1(x: f32) -> f64 {
    (f64::from(x) * 10.0).round() / 10.0
}

/// The network an address belongs to for cluster counting: its IPv4 /16 or IPv6 /32.
pub(crate) fn network_of(ip: IpAddr) -> u64 {
    match ip {
        IpAddr::V4(v4) => u64::from(u32::from(v4) >> 16),
        IpAddr::V6(v6) => (1u64 << 40) | u64::from((u128::from(v6) >> 96) as u32),
    }
}
