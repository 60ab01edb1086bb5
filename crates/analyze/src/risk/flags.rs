//! The flags the assessment sets, in one place: name, meaning, and the test that sets it.
//!
//! Flags are short, stable names for reports, `--json` output and filters. The assessor owns
//! exactly the flags of [`FLAGS`]: it removes them and sets them again on every run (so a second
//! assessment gives the same result), and keeps any other flag a service already has.

use medsurface_model::Service;
use serde_json::Value;

use super::facts::service_tls;

/// Every flag the assessment sets, with its meaning.
pub const FLAGS: &[(&str, &str)] = &[
    (ANY_AE_ACCEPTED, "the DICOM server accepted an association to a random called AE title"),
    (CERT_EXPIRED, "the TLS certificate's validity has ended"),
    (CERT_SELF_SIGNED, "the TLS certificate is self-signed"),
    (DB_WITHOUT_AUTH, "the database answered an information request without authentication"),
    (DEFAULT_CREDENTIALS_PAGE, "the login page of a product that ships with documented default credentials (knowledge/vulns.toml [[default_credentials]]); medsurface never tries them"),
    (KNOWN_EXPLOITED, "a known vulnerability of the service is in CISA's Known Exploited Vulnerabilities catalogue"),
    (LEGACY_TLS, "TLS 1.0, TLS 1.1 or SSL was negotiated"),
    (LIKELY_HONEYPOT, "honeypot likelihood at or above the threshold of knowledge/honeypots.toml; reports leave these out of headline numbers by default"),
    (QUERY_WITHOUT_AUTH, "a query that cannot match was answered without authentication (DICOM C-FIND, DICOMweb QIDO-RS or FHIR search)"),
    (TLS_MISSING, "a DICOM, HL7, HTTP, FHIR or DICOMweb service reached without TLS"),
    (VERSION_UNKNOWN_VULNS_POSSIBLE, "the product has known vulnerabilities but its version is unknown, so none is claimed"),
];

pub const ANY_AE_ACCEPTED: &str = "any-ae-accepted";
pub const CERT_EXPIRED: &str = "cert-expired";
pub const CERT_SELF_SIGNED: &str = "cert-self-signed";
pub const DB_WITHOUT_AUTH: &str = "db-without-auth";
pub const DEFAULT_CREDENTIALS_PAGE: &str = "default-credentials-page";
pub const KNOWN_EXPLOITED: &str = "known-exploited";
pub const LEGACY_TLS: &str = "legacy-tls";
pub const LIKELY_HONEYPOT: &str = "likely-honeypot";
pub const QUERY_WITHOUT_AUTH: &str = "query-without-auth";
pub const TLS_MISSING: &str = "tls-missing";
pub const VERSION_UNKNOWN_VULNS_POSSIBLE: &str = "version-unknown-vulns-possible";

/// Protocols that should run inside TLS when exposed.
const NEEDS_TLS: &[&str] = &["dicom", "hl7", "http", "fhir", "dicomweb"];

fn is_true(s: &Service, k: &str) -> bool {
    s.details.get(k).and_then(Value::as_bool) == Some(true)
}

/// The flags that follow from a service's own facts (everything but the honeypot verdict, the
/// version-unknown note and the default-credentials table, which the assessor adds).
pub(crate) fn fact_flags(s: &Service, out: &mut Vec<&'static str>) {
    if s.protocol
        .as_deref()
        .is_some_and(|p| NEEDS_TLS.contains(&p))
        && !service_tls(s)
    {
        out.push(TLS_MISSING);
    }
    if is_true(s, "dicom.accepts_any_ae") {
        out.push(ANY_AE_ACCEPTED);
    }
    if [
        "dicom.query_without_auth",
        "dicomweb.query_without_auth",
        "fhir.search_without_auth",
    ]
    .iter()
    .any(|k| is_true(s, k))
    {
        out.push(QUERY_WITHOUT_AUTH);
    }
    if s.details.get("db.auth_required").and_then(Value::as_bool) == Some(false) {
        out.push(DB_WITHOUT_AUTH);
    }
    if is_true(s, "tls.cert_expired") {
        out.push(CERT_EXPIRED);
    }
    if is_true(s, "tls.cert_self_signed") {
        out.push(CERT_SELF_SIGNED);
    }
    if s.details
        .get("tls.version")
        .and_then(Value::as_str)
        .is_some_and(|v| matches!(v, "TLSv1.0" | "TLSv1.1" | "TLSv1" | "SSLv3" | "SSLv2"))
    {
        out.push(LEGACY_TLS);
    }
    if s.vulnerabilities.iter().any(|v| v.known_exploited) {
        out.push(KNOWN_EXPLOITED);
    }
}

/// Replaces the assessment's own flags with `ours`, keeping other flags; sorted, unique.
pub(crate) fn replace_flags(s: &mut Service, ours: &[&str]) {
    s.flags.retain(|f| !FLAGS.iter().any(|(name, _)| name == f));
    s.flags.extend(ours.iter().map(|f| f.to_string()));
    s.flags.sort();
    s.flags.dedup();
}
