//! Observation keys that only imports fill: what a foreign source says about a service that no
//! live probe can see (its geography, its network owner, the source's own product guess and
//! vulnerability list).
//!
//! They are listed here, with type and meaning, so that they can join the one vocabulary in
//! `medsurface_model::fields` (where signatures may match on them); a test checks that every
//! key an importer writes is either there, among the DICOM keys of `medsurface-proto`, or here.

/// One import-only key: name, JSON type, meaning.
pub struct ExtraKey {
    pub name: &'static str,
    pub ty: &'static str,
    pub description: &'static str,
}

pub const GEO_COUNTRY: &str = "geo.country";
pub const GEO_CITY: &str = "geo.city";
pub const NET_ASN: &str = "net.asn";
pub const NET_ORG: &str = "net.org";
pub const NET_ISP: &str = "net.isp";
pub const NET_HOSTNAMES: &str = "net.hostnames";
pub const NET_DOMAINS: &str = "net.domains";
pub const SHODAN_MODULE: &str = "shodan.module";
pub const SHODAN_PRODUCT: &str = "shodan.product";
pub const SHODAN_VERSION: &str = "shodan.version";
pub const SHODAN_CPE23: &str = "shodan.cpe23";
pub const SHODAN_TAGS: &str = "shodan.tags";
pub const SHODAN_VULNS: &str = "shodan.vulns";
pub const SHODAN_OS: &str = "shodan.os";
pub const CENSYS_SERVICE: &str = "censys.service_name";
pub const CENSYS_SOFTWARE: &str = "censys.software";
pub const NMAP_SERVICE: &str = "nmap.service";
pub const NMAP_PRODUCT: &str = "nmap.product";
pub const NMAP_VERSION: &str = "nmap.version";
pub const NMAP_EXTRAINFO: &str = "nmap.extrainfo";
pub const NMAP_CPE: &str = "nmap.cpe";
pub const NMAP_SCRIPTS: &str = "nmap.scripts";
pub const MASSCAN_SERVICE: &str = "masscan.service";
pub const ZGRAB2_MODULE: &str = "zgrab2.module";
pub const ZGRAB2_STATUS: &str = "zgrab2.status";

/// Every import-only key, sorted by name.
pub const EXTRA: &[ExtraKey] = &[
    ExtraKey {
        name: CENSYS_SERVICE,
        ty: "str",
        description: "Censys service_name (DICOM, HTTP, …)",
    },
    ExtraKey {
        name: CENSYS_SOFTWARE,
        ty: "str_list",
        description: "Censys software[] as vendor/product/version strings",
    },
    ExtraKey {
        name: GEO_CITY,
        ty: "str",
        description: "city the source located the address in",
    },
    ExtraKey {
        name: GEO_COUNTRY,
        ty: "str",
        description: "ISO 3166 alpha-2 country the source located the address in",
    },
    ExtraKey {
        name: MASSCAN_SERVICE,
        ty: "str",
        description: "service name of a masscan banner record",
    },
    ExtraKey {
        name: NET_ASN,
        ty: "str",
        description: "autonomous system, as AS<number>",
    },
    ExtraKey {
        name: NET_DOMAINS,
        ty: "str_list",
        description: "domains the source associates with the address",
    },
    ExtraKey {
        name: NET_HOSTNAMES,
        ty: "str_list",
        description: "host names the source associates with the address (PTR and others)",
    },
    ExtraKey {
        name: NET_ISP,
        ty: "str",
        description: "ISP the source names for the address",
    },
    ExtraKey {
        name: NET_ORG,
        ty: "str",
        description:
            "organisation the source names for the address (Shodan org, Censys AS name, …)",
    },
    ExtraKey {
        name: NMAP_CPE,
        ty: "str_list",
        description: "nmap service CPEs",
    },
    ExtraKey {
        name: NMAP_EXTRAINFO,
        ty: "str",
        description: "nmap service extrainfo",
    },
    ExtraKey {
        name: NMAP_PRODUCT,
        ty: "str",
        description: "nmap service product",
    },
    ExtraKey {
        name: NMAP_SCRIPTS,
        ty: "json",
        description: "other NSE script outputs, id → output (capped, escaped)",
    },
    ExtraKey {
        name: NMAP_SERVICE,
        ty: "str",
        description: "nmap service name",
    },
    ExtraKey {
        name: NMAP_VERSION,
        ty: "str",
        description: "nmap service version",
    },
    ExtraKey {
        name: SHODAN_CPE23,
        ty: "str_list",
        description: "Shodan cpe23 (or cpe) list",
    },
    ExtraKey {
        name: SHODAN_MODULE,
        ty: "str",
        description: "the Shodan crawler module that produced the banner (_shodan.module)",
    },
    ExtraKey {
        name: SHODAN_OS,
        ty: "str",
        description: "Shodan os",
    },
    ExtraKey {
        name: SHODAN_PRODUCT,
        ty: "str",
        description: "Shodan product",
    },
    ExtraKey {
        name: SHODAN_TAGS,
        ty: "str_list",
        description: "Shodan tags (medical, cloud, honeypot, …)",
    },
    ExtraKey {
        name: SHODAN_VERSION,
        ty: "str",
        description: "Shodan version",
    },
    ExtraKey {
        name: SHODAN_VULNS,
        ty: "str_list",
        description: "CVE ids Shodan lists under vulns (its own, unverified, matching)",
    },
    ExtraKey {
        name: ZGRAB2_MODULE,
        ty: "str",
        description: "the zgrab2 module name the result came from",
    },
    ExtraKey {
        name: ZGRAB2_STATUS,
        ty: "str",
        description: "zgrab2 status (success, connection-timeout, …)",
    },
];

/// Whether `name` is a key some importer may write: the shared vocabulary, the DICOM keys, or
/// an import-only key.
pub fn is_known(name: &str) -> bool {
    medsurface_model::fields::field(name).is_some()
        || medsurface_proto::dicom::details::keys::ALL.contains(&name)
        || EXTRA.binary_search_by(|k| k.name.cmp(name)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_are_sorted_unique_and_described() {
        for pair in EXTRA.windows(2) {
            assert!(
                pair[0].name < pair[1].name,
                "{} before {}",
                pair[0].name,
                pair[1].name
            );
        }
        for k in EXTRA {
            assert!(
                !k.description.is_empty() && k.name.contains('.'),
                "{}",
                k.name
            );
            assert!(
                ["str", "str_list", "json", "int", "bool"].contains(&k.ty),
                "{}",
                k.name
            );
        }
        assert!(is_known("http.title") && is_known("dicom.called_ae") && is_known("geo.country"));
        assert!(!is_known("geo.countyr"));
    }
}
