//! Enrichment: who holds an address and where it is. Country and city from a MaxMind
//! GeoIP2/GeoLite2 City or Country database, AS number and organisation from a GeoLite2 ASN
//! database, and the organisation type (university, hospital, cloud, isp, government, other)
//! from rules kept as data in `knowledge/org-types.toml`.
//!
//! The seam is one value, [`Enricher`], and one pure step, [`Enricher::enrich`], over the
//! shared [`Service`] record, so the binary can apply it wherever services are read (stats,
//! reports) and an import and a live scan are enriched alike. What the source itself said wins:
//! a Shodan record's `location.country_code`, `asn` and `org` are kept, and the databases only
//! fill what is missing; the fields enrichment filled are listed in `geoip.filled` so a reader
//! can tell the two apart. The organisation type is computed from the rules even without
//! databases (from the source's org, ISP, host names and certificate), and the deciding rule is
//! kept in `org_type.rule`.

mod error;
mod mmdb;
mod org_type;

use std::path::Path;

use medsurface_model::Service;

pub use error::{DbRole, EnrichError, OrgRulesError, OrgRulesErrorKind};
pub use mmdb::{AsnFacts, Db, GeoFacts};
pub use org_type::{
    fold, OrgInputs, OrgRule, OrgType, OrgTypes, OrgVerdict, BUILTIN_NAME, BUILTIN_TOML,
};

/// Details key: the city the GeoIP database places the address in (when the source named
/// none in `geo.city`).
pub const GEOIP_CITY: &str = "geoip.city";
/// Details key: the record fields enrichment filled from the databases.
pub const GEOIP_FILLED: &str = "geoip.filled";
/// Details key: the rule that decided `org_type`, and the field it matched.
pub const ORG_TYPE_RULE: &str = "org_type.rule";

/// Where the MaxMind databases are; either may be absent.
#[derive(Debug, Clone, Copy, Default)]
pub struct DbPaths<'a> {
    /// A GeoIP2/GeoLite2 City or Country database.
    pub geoip: Option<&'a Path>,
    /// A GeoLite2 ASN (or GeoIP2 ISP) database.
    pub asn: Option<&'a Path>,
}

/// Fills country, city, ASN, organisation and organisation type of service records.
#[derive(Debug)]
pub struct Enricher {
    geo: Option<Db>,
    asn: Option<Db>,
    org_types: OrgTypes,
}

impl Enricher {
    /// An enricher with the given rules and no databases.
    pub fn new(org_types: OrgTypes) -> Enricher {
        Enricher {
            geo: None,
            asn: None,
            org_types,
        }
    }

    /// The shipped rules and the databases at `paths` (each checked to be of its kind).
    pub fn open(paths: DbPaths<'_>) -> Result<Enricher, EnrichError> {
        // The shipped rules are tested by `cargo test`; failing here would be a build defect.
        let rules = OrgTypes::builtin().map_err(|e| EnrichError::Rules(Box::new(e)))?;
        let mut e = Enricher::new(rules);
        if let Some(p) = paths.geoip {
            e = e.with_geoip_db(p)?;
        }
        if let Some(p) = paths.asn {
            e = e.with_asn_db(p)?;
        }
        Ok(e)
    }

    /// Adds a City or Country database.
    pub fn with_geoip_db(mut self, path: &Path) -> Result<Enricher, EnrichError> {
        self.geo = Some(Db::open(path, DbRole::Geo)?);
        Ok(self)
    }

    /// Adds an ASN database.
    pub fn with_asn_db(mut self, path: &Path) -> Result<Enricher, EnrichError> {
        self.asn = Some(Db::open(path, DbRole::Asn)?);
        Ok(self)
    }

    pub fn org_types(&self) -> &OrgTypes {
        &self.org_types
    }

    /// Fills what the record lacks: `country` and `geoip.city` from the City/Country database,
    /// `asn` (as `AS<number>`, the form importers use) and `org` from the ASN database, then
    /// `org_type` from the rules. Values already there are kept. An address the databases do not
    /// hold is not an error; corrupt database data is.
    pub fn enrich(&self, s: &mut Service) -> Result<(), EnrichError> {
        let mut filled: Vec<&str> = Vec::new();
        if let Some(db) = &self.geo {
            let want_city =
                !s.details.contains_key("geo.city") && !s.details.contains_key(GEOIP_CITY);
            if s.country.is_none() || want_city {
                let facts = db.geo(s.ip)?;
                if s.country.is_none() {
                    if let Some(c) = facts.country {
                        s.country = Some(c);
                        filled.push("country");
                    }
                }
                if want_city {
                    if let Some(city) = facts.city {
                        s.details.insert(GEOIP_CITY.into(), city.into());
                    }
                }
            }
        }
        if let Some(db) = &self.asn {
            if s.asn.is_none() || s.org.is_none() {
                let facts = db.asn(s.ip)?;
                if s.asn.is_none() {
                    if let Some(n) = facts.number {
                        s.asn = Some(format!("AS{n}"));
                        filled.push("asn");
                    }
                }
                if s.org.is_none() {
                    if let Some(o) = facts.organisation {
                        s.org = Some(o);
                        filled.push("org");
                    }
                }
            }
        }
        if !filled.is_empty() {
            let mut list: Vec<serde_json::Value> = s
                .details
                .get(GEOIP_FILLED)
                .and_then(|v| v.as_array())
                .cloned()
                .unwrap_or_default();
            for f in filled {
                if !list.iter().any(|v| v == f) {
                    list.push(f.into());
                }
            }
            s.details.insert(GEOIP_FILLED.into(), list.into());
        }
        if s.org_type.is_none() {
            if let Some(v) = self.org_types.classify(&OrgInputs::of_service(s)) {
                s.org_type = Some(v.org_type.as_str().to_string());
                if let (Some(rule), Some(field)) = (v.rule, v.field) {
                    s.details
                        .insert(ORG_TYPE_RULE.into(), format!("{rule} ({field})").into());
                }
            }
        }
        Ok(())
    }
}
