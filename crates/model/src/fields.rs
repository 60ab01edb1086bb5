//! The vocabulary of observation details: every key a probe or importer may fill, with its
//! type, meaning and the probe that fills it.
//!
//! One table, three users: probes fill only these keys (a test checks each probe's output),
//! importers map foreign formats onto them, and signature files may match only on them — a
//! matcher naming a key that nothing fills is rejected when signatures load, instead of silently
//! never matching (nuclei's weakness).
//!
//! Keys starting with `_` are transient: available to the classifier while an observation is
//! fresh, and removed before the observation is stored, printed or exported (for example a page
//! body, which might hold patient data on a badly exposed system). [`strip_transient`] does it.

use crate::Details;

/// The JSON type of a field's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Str,
    Int,
    Bool,
    /// A list of strings.
    StrList,
    /// Any JSON value (objects such as presentation contexts).
    Json,
}

/// One observation field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub ty: FieldType,
    /// The probe or importer that fills it.
    pub filled_by: &'static str,
    pub description: &'static str,
}

macro_rules! fields {
    ($( $name:literal, $ty:ident, $by:literal, $desc:literal; )*) => {
        /// Every observation field, sorted by name.
        pub const FIELDS: &[Field] = &[
            $( Field { name: $name, ty: FieldType::$ty, filled_by: $by, description: $desc }, )*
        ];
    };
}

fields! {
    "_http.body", Str, "http", "transient: the decoded page body (capped); never stored";
    "banner.bytes", Int, "banner", "number of bytes the service sent first (capped)";
    "banner.closed", Bool, "banner", "the service closed the connection before the read timeout";
    "banner.read_error", Str, "banner", "the read failed (an errno name such as ECONNRESET)";
    "banner.silent", Bool, "banner", "true when the service sent nothing before the read timeout";
    "banner.text", Str, "banner", "the first bytes the service sent, escaped for terminals";
    "censys.service_name", Str, "censys", "Censys service_name (DICOM, HTTP, …)";
    "censys.software", StrList, "censys", "Censys software[] as vendor/product/version strings";
    "db.auth_required", Bool, "db", "whether the database demanded authentication for a harmless info request";
    "db.databases", StrList, "db", "database or index names the server listed without authentication (metadata only)";
    "db.product", Str, "db", "database product named by its handshake (PostgreSQL, MySQL, MariaDB, Redis, MongoDB, Elasticsearch)";
    "db.version", Str, "db", "database version from its handshake or info answer";
    "dicom.abort_reason", Str, "dicom", "A-ABORT reason, named";
    "dicom.abort_source", Str, "dicom", "A-ABORT source, named";
    "dicom.accepted_ae_title", Str, "dicom", "the known AE title (from --ae-titles) that the server accepted";
    "dicom.accepts_any_ae", Bool, "dicom", "the server accepted an association to a random called AE title";
    "dicom.accepts_any_calling_ae", Bool, "dicom", "the server accepted an association from a random calling AE title";
    "dicom.ae_titles_tried", Int, "dicom", "how many titles of --ae-titles were tried";
    "dicom.association", Str, "dicom", "accepted, rejected, aborted, not-dicom or no-answer";
    "dicom.called_ae", Str, "dicom", "the called AE title of the main association";
    "dicom.calling_ae", Str, "dicom", "the calling AE title of the main association";
    "dicom.contexts", Json, "dicom", "each proposed presentation context with its result";
    "dicom.echo_status", Str, "dicom", "status of the C-ECHO response, named (success, refused-out-of-resources, …)";
    "dicom.error", Str, "dicom", "why the DICOM exchange stopped early (timeout, malformed PDU, …)";
    "dicom.fingerprint", Str, "dicom", "id of the implementation fingerprint that matched (knowledge/dicom-implementations.toml)";
    "dicom.implementation_class_uid", Str, "dicom", "Implementation Class UID of the A-ASSOCIATE-AC";
    "dicom.implementation_version_name", Str, "dicom", "Implementation Version Name of the A-ASSOCIATE-AC";
    "dicom.max_pdu_length", Int, "dicom", "maximum PDU length the server announced";
    "dicom.product", Str, "dicom", "product named by the implementation fingerprint";
    "dicom.query_ignores_keys", Bool, "dicom", "the server answered a query that cannot match with a record: it ignores query keys (the probe cancelled at once and kept nothing)";
    "dicom.query_status", Str, "dicom", "status of the non-matching C-FIND, named";
    "dicom.query_without_auth", Bool, "dicom", "a C-FIND that cannot match was answered with Success";
    "dicom.reject_reason", Str, "dicom", "A-ASSOCIATE-RJ reason, named";
    "dicom.reject_result", Str, "dicom", "A-ASSOCIATE-RJ result (rejected-permanent, rejected-transient)";
    "dicom.reject_source", Str, "dicom", "A-ASSOCIATE-RJ source, named";
    "dicom.study_count", Int, "dicom", "studies matched by a universal query (opt-in --count-studies; count only)";
    "dicom.study_count_capped", Bool, "dicom", "the opt-in study count stopped at its cap";
    "dicom.tls", Bool, "dicom", "whether the association ran inside TLS";
    "dicom.truncated", Bool, "dicom", "the A-ASSOCIATE-AC was cut short; the facts up to the cut were kept";
    "dicom.vendor", Str, "dicom", "vendor named by the implementation fingerprint";
    "dicom.version", Str, "dicom", "version extracted from the implementation fingerprint";
    "dicomweb.base", Str, "http", "the base URL under which QIDO-RS answered";
    "dicomweb.query_without_auth", Bool, "http", "a QIDO-RS query that cannot match was answered 200/204 without authentication";
    "fhir.base", Str, "http", "the base URL under which the CapabilityStatement was found";
    "fhir.implementation", Str, "http", "CapabilityStatement.implementation.description";
    "fhir.record_count", Int, "http", "Patient total from _summary=count (opt-in --count-records; total only)";
    "fhir.search_without_auth", Bool, "http", "a search that cannot match returned a searchset without authentication";
    "fhir.security_declared", Str, "http", "security services declared in rest[].security (SMART-on-FHIR, OAuth, …) or none";
    "fhir.software", Str, "http", "CapabilityStatement.software.name";
    "fhir.software_version", Str, "http", "CapabilityStatement.software.version";
    "fhir.version", Str, "http", "fhirVersion of the CapabilityStatement";
    "geo.city", Str, "import", "city the source located the address in";
    "geo.country", Str, "import", "ISO 3166 alpha-2 country the source located the address in";
    "geoip.city", Str, "geoip", "city the GeoIP City database places the address in, when the source named none (geo.city); added by enrichment";
    "geoip.filled", StrList, "geoip", "record fields (country, asn, org) that enrichment filled from the GeoIP/ASN databases because the source left them empty";
    "hl7.ack_code", Str, "hl7", "MSA-1 of the answer: AA, AE, AR, CA, CE, CR";
    "hl7.message_type", Str, "hl7", "MSH-9 of the answer";
    "hl7.sending_application", Str, "hl7", "MSH-3 of the answer";
    "hl7.sending_facility", Str, "hl7", "MSH-4 of the answer";
    "hl7.speaks_mllp", Bool, "hl7", "the service answered an MLLP-framed message with a framed HL7 message";
    "hl7.version", Str, "hl7", "MSH-12 of the answer";
    "http.body_sha256", Str, "http", "SHA-256 of the page body (capped)";
    "http.cookies", StrList, "http", "names of the cookies set (never their values)";
    "http.error", Str, "http", "why the HTTP exchange stopped early (timeout, closed, head-too-large, not-http, legacy-tls-only, …)";
    "http.favicon_hash", Int, "http", "Shodan's favicon hash (MurmurHash3 of the base64 icon)";
    "http.favicon_url", Str, "http", "where the favicon was fetched";
    "http.headers", Json, "http", "response headers (name → value), capped";
    "http.location", Str, "http", "the final URL after redirects";
    "http.powered_by", Str, "http", "X-Powered-By header";
    "http.realm", Str, "http", "the WWW-Authenticate realm";
    "http.server", Str, "http", "Server header";
    "http.status", Int, "http", "HTTP status of the final answer";
    "http.title", Str, "http", "the page title, decoded";
    "masscan.service", Str, "masscan", "service name of a masscan banner record";
    "net.asn", Str, "import", "autonomous system, as AS<number>";
    "net.domains", StrList, "import", "domains the source associates with the address";
    "net.hostnames", StrList, "import", "host names the source associates with the address (PTR and others)";
    "net.isp", Str, "import", "ISP the source names for the address";
    "net.org", Str, "import", "organisation the source names for the address (Shodan org, Censys AS name, …)";
    "nmap.cpe", StrList, "nmap", "nmap service CPEs";
    "nmap.extrainfo", Str, "nmap", "nmap service extrainfo";
    "nmap.product", Str, "nmap", "nmap service product";
    "nmap.scripts", Json, "nmap", "other NSE script outputs, id → output (capped, escaped)";
    "nmap.service", Str, "nmap", "nmap service name";
    "nmap.version", Str, "nmap", "nmap service version";
    "org_type.rule", Str, "org_type", "the knowledge/org-types.toml rule that decided org_type, with the field it matched, e.g. `university-names (org)`";
    "probe.error", Str, "engine", "the probe panicked or outlived its time limit (panicked, timeout); the port is still open";
    "shodan.cpe23", StrList, "shodan", "Shodan cpe23 (or cpe) list";
    "shodan.module", Str, "shodan", "the Shodan crawler module that produced the banner (_shodan.module)";
    "shodan.os", Str, "shodan", "Shodan os";
    "shodan.product", Str, "shodan", "Shodan product";
    "shodan.tags", StrList, "shodan", "Shodan tags (medical, cloud, honeypot, …)";
    "shodan.version", Str, "shodan", "Shodan version";
    "shodan.vulns", StrList, "shodan", "CVE ids Shodan lists under vulns (its own, unverified, matching)";
    "tls.cert_expired", Bool, "tls", "the certificate's notAfter is in the past";
    "tls.cert_issuer", Str, "tls", "issuer distinguished name";
    "tls.cert_not_after", Str, "tls", "end of validity, RFC 3339";
    "tls.cert_not_before", Str, "tls", "start of validity, RFC 3339";
    "tls.cert_org", Str, "tls", "subject organisation (O), which feeds enrichment";
    "tls.cert_sans", StrList, "tls", "subject alternative names";
    "tls.cert_self_signed", Bool, "tls", "issuer equals subject and the signature verifies with its own key";
    "tls.cert_subject", Str, "tls", "subject distinguished name";
    "tls.cipher", Str, "tls", "negotiated cipher suite";
    "tls.error", Str, "tls", "why no TLS facts could be read (tls-timeout, tls-handshake-failed, not-tls, tls-alert, …)";
    "tls.version", Str, "tls", "negotiated protocol version (TLSv1.0 … TLSv1.3)";
    "zgrab2.module", Str, "zgrab2", "the zgrab2 module name the result came from";
    "zgrab2.status", Str, "zgrab2", "zgrab2 status (success, connection-timeout, …)";
}

/// The field of that name, if it exists.
pub fn field(name: &str) -> Option<&'static Field> {
    FIELDS
        .binary_search_by(|f| f.name.cmp(name))
        .ok()
        .map(|i| &FIELDS[i])
}

/// Removes transient keys (those starting with `_`) before an observation leaves the pipeline.
pub fn strip_transient(details: &mut Details) {
    details.retain(|k, _| !k.starts_with('_'));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_sorted_unique_and_described() {
        for pair in FIELDS.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for f in FIELDS {
            assert!(
                !f.description.is_empty() && !f.filled_by.is_empty(),
                "{}",
                f.name
            );
            let (prefix, _) = f
                .name
                .trim_start_matches('_')
                .split_once('.')
                .expect("dotted");
            // FHIR and DICOMweb are stages of the web probe, which is named `http`.
            let web_stage = matches!(prefix, "fhir" | "dicomweb") && f.filled_by == "http";
            let engine = prefix == "probe" && f.filled_by == "engine";
            let import = matches!(prefix, "geo" | "net") && f.filled_by == "import";
            assert!(
                f.filled_by == prefix || web_stage || engine || import,
                "{}",
                f.name
            );
        }
        assert!(field("http.title").is_some());
        assert!(field("http.titel").is_none());
    }

    #[test]
    fn transient_fields_are_stripped() {
        let mut d = Details::new();
        d.insert("_http.body".into(), "<html>".into());
        d.insert("http.title".into(), "x".into());
        strip_transient(&mut d);
        assert_eq!(d.keys().collect::<Vec<_>>(), ["http.title"]);
    }
}
