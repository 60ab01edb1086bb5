//! The DICOMweb stage of the web probe: does QIDO-RS answer a query that cannot match without
//! authentication?
//!
//! For each base of [`medsurface_proto::dicomweb::BASES`] it sends
//! `GET {base}/studies?StudyInstanceUID=2.25.<random>` until one answers like QIDO-RS: 200 with
//! a JSON array or 204 means anyone may query (`dicomweb.query_without_auth = true`), 401/403
//! means not. The stage is skipped when the site's root demanded authentication itself: behind
//! a site-wide login every path says 401, which tells nothing about DICOMweb. The answer
//! body is only checked to be a JSON array (elements counted and dropped) and never kept.

use medsurface_model::Details;
use medsurface_proto::dicomweb::{self as wire, QidoVerdict};
use serde_json::json;

use super::http::{Fault, Web};

/// Most body bytes read from a QIDO answer: an array that cannot match is `[]`; anything
/// larger is a server ignoring the key, judged by its start.
const QIDO_CAP: usize = 64 * 1024;

/// Runs the DICOMweb stage; `true` when a base answered like QIDO-RS.
pub(super) async fn check(web: &mut Web<'_>, root_status: u16, details: &mut Details) -> bool {
    // Behind a site-wide login every path says 401: no verdict is possible, ask nothing.
    if matches!(root_status, 401 | 403) {
        return false;
    }
    for base in wire::BASES {
        let Some(target) = wire::non_matching_query(base) else {
            return false;
        };
        let answer = match web.get(&target, wire::ACCEPT, QIDO_CAP).await {
            Ok(a) => a,
            // Out of time, or the service stopped answering: no point in the next base.
            Err(Fault::Budget | Fault::Timeout | Fault::Connect | Fault::Tls(_)) => return false,
            Err(_) => continue,
        };
        let verdict = if answer.complete {
            wire::judge(answer.head.status, &answer.body)
        } else if answer.head.status == 200 && answer.body.trim_ascii_start().starts_with(b"[") {
            // Too large to parse within the cap: a server ignoring the key, answering anyway.
            QidoVerdict::Open { matches: 1 }
        } else {
            wire::judge(answer.head.status, b"")
        };
        drop(answer);
        let open = match verdict {
            QidoVerdict::Open { .. } => true,
            QidoVerdict::Closed => false,
            QidoVerdict::NotHere => continue,
        };
        details.insert("dicomweb.base".into(), json!(web.origin.url(base)));
        details.insert("dicomweb.query_without_auth".into(), json!(open));
        return true;
    }
    false
}
