//! The FHIR stage of the web probe: find the CapabilityStatement, read what it declares, and
//! check whether anyone may search — without reading a record.
//!
//! Requests, in order: `GET {base}/metadata` for each base of
//! [`medsurface_proto::fhir::BASES`] until one answers with a CapabilityStatement; then
//! `GET {base}/Patient?_id=medsurface-<random>`, a search that cannot match (an empty searchset
//! means anyone may search, 401/403 means not); then, only with `--count-records`,
//! `GET {base}/Patient?_summary=count`, of which only `total` is kept (for a server that answers
//! with a bare array, the number of elements, counted while parsing). Servers that ignore
//! `_summary` (or the `_id` key) send whole patients: the answer is decoded by
//! [`medsurface_proto::fhir::parse_search`], which keeps `resourceType`, `type`, `total` and a
//! count of entries and nothing else, and the body is dropped at the end of the step. Nothing of
//! a search answer is ever stored, logged or printed.

use medsurface_model::Details;
use medsurface_proto::fhir::{self as wire, SearchAnswer};
use serde_json::json;

use super::http::{Fault, RecordCount, Web};

/// Runs the FHIR stage; `true` when a CapabilityStatement was found.
pub(super) async fn check(web: &mut Web<'_>, details: &mut Details) -> bool {
    let cap = web.ctx.web.body_cap;
    for base in wire::BASES {
        let answer = match web
            .get(&format!("{base}/metadata"), wire::ACCEPT, cap)
            .await
        {
            Ok(a) => a,
            // Out of time, or the service stopped answering: no point in the next base.
            Err(Fault::Budget | Fault::Timeout | Fault::Connect | Fault::Tls(_)) => return false,
            Err(_) => continue,
        };
        if answer.head.status != 200 {
            continue;
        }
        let Some(capability) = wire::parse_capability(&answer.body) else {
            continue;
        };
        drop(answer);
        let base_url = web.origin.url(if base.is_empty() { "/" } else { base });
        details.insert("fhir.base".into(), json!(base_url));
        let mut put = |key: &str, v: &Option<String>| {
            if let Some(v) = v {
                details.insert(key.into(), json!(v));
            }
        };
        put("fhir.software", &capability.software);
        put("fhir.software_version", &capability.software_version);
        put("fhir.implementation", &capability.implementation);
        put("fhir.version", &capability.fhir_version);
        details.insert("fhir.security_declared".into(), json!(capability.security));

        let open = match wire::non_matching_search(base) {
            Some(target) => search(web, &target).await,
            None => None,
        };
        match open {
            Some(SearchVerdict::Open) => {
                details.insert("fhir.search_without_auth".into(), json!(true));
            }
            Some(SearchVerdict::Closed) => {
                details.insert("fhir.search_without_auth".into(), json!(false));
            }
            None => {}
        }
        if open == Some(SearchVerdict::Open) && web.ctx.web.count_records == RecordCount::Count {
            if let Some(total) = count(web, &wire::count_search(base)).await {
                details.insert("fhir.record_count".into(), json!(total));
            }
        }
        return true;
    }
    false
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SearchVerdict {
    Open,
    Closed,
}

/// The non-matching search: only the status and the bundle's type are looked at.
async fn search(web: &mut Web<'_>, target: &str) -> Option<SearchVerdict> {
    let answer = web
        .get(target, wire::ACCEPT, web.ctx.web.body_cap)
        .await
        .ok()?;
    match answer.head.status {
        401 | 403 => Some(SearchVerdict::Closed),
        200 => {
            let parsed: Option<SearchAnswer> = wire::parse_search(&answer.body);
            parsed
                .filter(SearchAnswer::answers_search)
                .map(|_| SearchVerdict::Open)
        }
        _ => None,
    }
}

/// The opt-in count: `total` of the answer, nothing else.
async fn count(web: &mut Web<'_>, target: &str) -> Option<u64> {
    let answer = web
        .get(target, wire::ACCEPT, web.ctx.web.body_cap)
        .await
        .ok()?;
    if answer.head.status != 200 {
        return None;
    }
    wire::parse_search(&answer.body)?.count()
}
