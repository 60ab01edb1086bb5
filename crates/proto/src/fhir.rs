//! FHIR facts: where a server's CapabilityStatement lives, what it says about the software and
//! its security, and how to read the answer to a search without keeping a record.
//!
//! The search answer is decoded into a struct that has only `resourceType`, `type`, `total` and
//! the *number* of entries: serde skips every other member, and each entry is counted and
//! dropped while parsing (never built into a value), so a server that ignores our search keys
//! and sends whole patients hands nothing to the caller but a count.

use std::fmt;

use medsurface_model::text::printable;
use serde::de::{Deserializer, IgnoredAny, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

/// Base paths tried, in order (the CapabilityStatement is at `{base}/metadata`).
pub const BASES: &[&str] = &[
    "",
    "/fhir",
    "/fhir/r4",
    "/fhir/R4",
    "/baseR4",
    "/4_0_1",
    "/r4",
    "/api/FHIR/R4",
];

/// The media type we ask for.
pub const ACCEPT: &str = "application/fhir+json, application/json;q=0.9";

const TEXT_CAP: usize = 256;

/// What a CapabilityStatement says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capability {
    pub software: Option<String>,
    pub software_version: Option<String>,
    pub implementation: Option<String>,
    pub fhir_version: Option<String>,
    /// Declared security services (`SMART-on-FHIR`, `OAuth`, …), comma-separated, or `none`.
    pub security: String,
}

/// Reads a CapabilityStatement (or a DSTU2 Conformance); `None` when `body` is not one.
pub fn parse_capability(body: &[u8]) -> Option<Capability> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let rt = v.get("resourceType")?.as_str()?;
    if rt != "CapabilityStatement" && rt != "Conformance" {
        return None;
    }
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .map(|s| printable(s.as_bytes(), TEXT_CAP))
            .filter(|s| !s.is_empty())
    };
    let mut services: Vec<String> = Vec::new();
    for rest in v
        .get("rest")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(16)
    {
        let Some(sec) = rest.get("security") else {
            continue;
        };
        for service in sec
            .get("service")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(16)
        {
            let codes = service
                .get("coding")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .take(8);
            let mut named = false;
            for coding in codes {
                if let Some(c) = text(coding.get("code")) {
                    services.push(c);
                    named = true;
                }
            }
            if !named {
                if let Some(t) = text(service.get("text")) {
                    services.push(t);
                }
            }
        }
        let oauth_ext = sec
            .get("extension")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .take(16)
            .any(|e| {
                e.get("url")
                    .and_then(Value::as_str)
                    .is_some_and(|u| u.contains("oauth-uris"))
            });
        if oauth_ext {
            services.push("SMART-on-FHIR".into());
        }
    }
    services.sort();
    services.dedup();
    services.truncate(8);
    Some(Capability {
        software: text(v.pointer("/software/name")),
        software_version: text(v.pointer("/software/version")),
        implementation: text(v.pointer("/implementation/description")),
        fhir_version: text(v.get("fhirVersion")),
        security: if services.is_empty() {
            "none".into()
        } else {
            services.join(", ")
        },
    })
}

/// The only parts of a search answer medsurface looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SearchAnswer {
    #[serde(rename = "resourceType", default)]
    pub resource_type: Option<String>,
    #[serde(rename = "type", default)]
    pub bundle_type: Option<String>,
    #[serde(default)]
    pub total: Option<u64>,
    /// How many entries the bundle held (their content is never decoded).
    #[serde(rename = "entry", default, deserialize_with = "count_entries")]
    pub entries: usize,
}

impl SearchAnswer {
    /// A Bundle of type searchset.
    pub fn is_searchset(&self) -> bool {
        self.resource_type.as_deref() == Some("Bundle")
            && self.bundle_type.as_deref() == Some("searchset")
    }

    /// Whether this is an answer to a search: a searchset, or the bare JSON array of resources
    /// some servers send instead (node-fhir-server-core does for R4).
    pub fn answers_search(&self) -> bool {
        self.is_searchset()
            || self.resource_type.is_none() && self.bundle_type.is_none() && self.total.is_none()
    }

    /// `total` of a searchset; for a bare array, the number of elements (counted, never read).
    pub fn count(&self) -> Option<u64> {
        if self.is_searchset() {
            self.total
        } else if self.answers_search() {
            Some(self.entries as u64)
        } else {
            None
        }
    }
}

/// Reads a search answer: a JSON object (only `resourceType`, `type`, `total` and the number
/// of entries are kept) or a bare JSON array (only its length is kept); `None` otherwise.
pub fn parse_search(body: &[u8]) -> Option<SearchAnswer> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first == b'[' {
        let mut de = serde_json::Deserializer::from_slice(body);
        let entries = count_entries(&mut de).ok()?;
        de.end().ok()?;
        return Some(SearchAnswer {
            entries,
            ..SearchAnswer::default()
        });
    }
    let answer: SearchAnswer = serde_json::from_slice(body).ok()?;
    // An object that is not a resource (no resourceType) is not an answer to a search.
    answer.resource_type.as_ref()?;
    Some(answer)
}

fn count_entries<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an array")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
        fn visit_unit<E>(self) -> Result<usize, E> {
            Ok(0)
        }
    }
    d.deserialize_any(Count)
}

/// The search that cannot match: a random resource id.
pub fn non_matching_search(base: &str) -> Option<String> {
    Some(format!(
        "{base}/Patient?_id=medsurface-{}",
        crate::http::random_hex(16)?
    ))
}

/// The opt-in count: `_summary=count` (servers that ignore it send records, which are dropped).
pub fn count_search(base: &str) -> String {
    format!("{base}/Patient?_summary=count")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_facts() {
        let cs = br#"{"resourceType":"CapabilityStatement","fhirVersion":"4.0.1",
            "software":{"name":"HAPI FHIR Server","version":"6.4.0"},
            "implementation":{"description":"HAPI FHIR R4 Server"},
            "rest":[{"security":{"service":[{"coding":[{"code":"SMART-on-FHIR"}]}],
              "extension":[{"url":"http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"}]}}]}"#;
        let c = parse_capability(cs).unwrap();
        assert_eq!(c.software.as_deref(), Some("HAPI FHIR Server"));
        assert_eq!(c.software_version.as_deref(), Some("6.4.0"));
        assert_eq!(c.fhir_version.as_deref(), Some("4.0.1"));
        assert_eq!(c.security, "SMART-on-FHIR");
        let open =
            parse_capability(br#"{"resourceType":"CapabilityStatement","rest":[{}]}"#).unwrap();
        assert_eq!(open.security, "none");
        assert!(parse_capability(br#"{"resourceType":"Patient"}"#).is_none());
        assert!(parse_capability(b"<html>").is_none());
    }

    #[test]
    fn search_answers_keep_counts_only() {
        let body = br#"{"resourceType":"Bundle","type":"searchset","total":2,
            "entry":[{"resource":{"resourceType":"Patient","name":[{"family":"CANARY"}]}},{"resource":{}}]}"#;
        let s = parse_search(body).unwrap();
        assert!(s.is_searchset());
        assert_eq!((s.total, s.entries), (Some(2), 2));
        assert!(!format!("{s:?}").contains("CANARY"));
        let empty =
            parse_search(br#"{"resourceType":"Bundle","type":"searchset","total":0}"#).unwrap();
        assert_eq!((empty.total, empty.entries), (Some(0), 0));
        assert!(parse_search(br#"{"resourceType":"OperationOutcome"}"#)
            .is_some_and(|s| !s.is_searchset()));
        let bare = parse_search(br#"[{"resourceType":"Patient","name":"CANARY"}]"#).unwrap();
        assert!(bare.answers_search() && !bare.is_searchset());
        assert_eq!(bare.count(), Some(1));
        assert_eq!(parse_search(b"[]").unwrap().count(), Some(0));
        assert!(parse_search(br#"{"a":1}"#).is_none());
        assert!(parse_search(b"[1,").is_none());
    }
}
