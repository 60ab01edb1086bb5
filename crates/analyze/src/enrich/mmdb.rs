//! The two MaxMind databases enrichment reads: a GeoIP2/GeoLite2 City or Country database
//! (country, city) and a GeoLite2 ASN database (AS number, AS organisation).
//!
//! A database is opened once, its kind checked from the metadata's `database_type` (an ASN file
//! passed where a City file is expected is an error at open, not a silent run without
//! countries), and then only read: lookups decode just the few values enrichment uses, with
//! borrowed strings, so nothing is allocated for a miss. The file is not verified whole at open
//! (that walks every record of a 70 MB database); a lookup that meets corrupt data returns an
//! error with the byte offset instead.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::Reader;
use serde::Deserialize;

use super::error::{DbRole, EnrichError};

/// What a City/Country database says about an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GeoFacts {
    /// ISO 3166-1 alpha-2, upper case (the located country, else the registered one).
    pub country: Option<String>,
    /// The English city name.
    pub city: Option<String>,
}

/// What an ASN database says about an address.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AsnFacts {
    pub number: Option<u32>,
    pub organisation: Option<String>,
}

#[derive(Deserialize)]
struct GeoRecord<'a> {
    #[serde(borrow, default)]
    country: Option<CountryRecord<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<CountryRecord<'a>>,
    #[serde(borrow, default)]
    city: Option<CityRecord<'a>>,
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct CityRecord<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Deserialize)]
struct AsnRecord<'a> {
    #[serde(default)]
    autonomous_system_number: Option<u32>,
    #[serde(borrow, default)]
    autonomous_system_organization: Option<&'a str>,
}

/// One opened MaxMind database in a role.
#[derive(Debug)]
pub struct Db {
    path: PathBuf,
    role: DbRole,
    reader: Reader<Vec<u8>>,
}

impl Db {
    /// Opens `path` and checks that its `database_type` fits `role`: a City, Country or
    /// Enterprise database for [`DbRole::Geo`]; an ASN or ISP database for [`DbRole::Asn`].
    pub fn open(path: &Path, role: DbRole) -> Result<Db, EnrichError> {
        let reader = Reader::open_readfile(path).map_err(|source| EnrichError::Open {
            path: path.to_path_buf(),
            role,
            source,
        })?;
        let database_type = reader.metadata().database_type.clone();
        if !fits(&database_type, role) {
            return Err(EnrichError::WrongDatabase {
                path: path.to_path_buf(),
                role,
                database_type,
            });
        }
        Ok(Db {
            path: path.to_path_buf(),
            role,
            reader,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn role(&self) -> DbRole {
        self.role
    }

    /// The `database_type` of the metadata (`GeoLite2-City`, …).
    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    fn decode<'a, T: Deserialize<'a>>(&'a self, ip: IpAddr) -> Result<Option<T>, EnrichError> {
        // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) is looked up as the IPv4 address.
        let ip = ip.to_canonical();
        // An IPv6 address cannot be in an IPv4-only database: a miss, not an error.
        if ip.is_ipv6() && self.reader.metadata().ip_version == 4 {
            return Ok(None);
        }
        let err = |source| EnrichError::Lookup {
            path: self.path.clone(),
            ip,
            source,
        };
        let found = self.reader.lookup(ip).map_err(err)?;
        found.decode::<T>().map_err(err)
    }

    /// Country and city of `ip` (a City or Country database).
    pub fn geo(&self, ip: IpAddr) -> Result<GeoFacts, EnrichError> {
        let Some(rec) = self.decode::<GeoRecord<'_>>(ip)? else {
            return Ok(GeoFacts::default());
        };
        let iso = |c: &Option<CountryRecord<'_>>| {
            c.as_ref()
                .and_then(|c| c.iso_code)
                .filter(|code| code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()))
                .map(str::to_ascii_uppercase)
        };
        Ok(GeoFacts {
            country: iso(&rec.country).or_else(|| iso(&rec.registered_country)),
            city: rec
                .city
                .and_then(|c| c.names)
                .and_then(|n| n.en)
                .filter(|n| !n.trim().is_empty())
                .map(|n| medsurface_model::text::printable(n.as_bytes(), 128)),
        })
    }

    /// AS number and organisation of `ip` (an ASN or ISP database).
    pub fn asn(&self, ip: IpAddr) -> Result<AsnFacts, EnrichError> {
        let Some(rec) = self.decode::<AsnRecord<'_>>(ip)? else {
            return Ok(AsnFacts::default());
        };
        Ok(AsnFacts {
            number: rec.autonomous_system_number,
            organisation: rec
                .autonomous_system_organization
                .filter(|o| !o.trim().is_empty())
                .map(|o| medsurface_model::text::printable(o.as_bytes(), 256)),
        })
    }
}

/// Whether a `database_type` fits a role. MaxMind's names: `GeoIP2-City`, `GeoLite2-Country`,
/// `GeoIP2-Enterprise`, `GeoLite2-ASN`, `GeoIP2-ISP`; other publishers of the format follow the
/// same words (`DBIP-City-Lite`, `DBIP-ASN-Lite`).
fn fits(database_type: &str, role: DbRole) -> bool {
    let t = database_type.to_ascii_lowercase();
    let has = |w: &str| t.split(['-', '_', ' ']).any(|part| part == w);
    match role {
        DbRole::Geo => (has("city") || has("country") || has("enterprise")) && !has("asn"),
        DbRole::Asn => has("asn") || has("isp"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_types_fit_their_roles() {
        for t in [
            "GeoIP2-City",
            "GeoLite2-Country",
            "GeoIP2-Enterprise",
            "DBIP-City-Lite",
        ] {
            assert!(fits(t, DbRole::Geo), "{t}");
            assert!(!fits(t, DbRole::Asn), "{t}");
        }
        for t in ["GeoLite2-ASN", "GeoIP2-ISP", "DBIP-ASN-Lite"] {
            assert!(fits(t, DbRole::Asn), "{t}");
            assert!(!fits(t, DbRole::Geo), "{t}");
        }
        assert!(!fits("GeoIP2-Anonymous-IP", DbRole::Geo));
        assert!(!fits("GeoIP2-Anonymous-IP", DbRole::Asn));
    }
}
