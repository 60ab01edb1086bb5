//! Port lists: parsing `--ports 104,11112,8000-8100` and the built-in `medical` profile.
//!
//! A [`Ports`] is a sorted list without duplicates, so the probe space has a stable order and
//! `--resume` finds the same sequence again. The profile is one table, [`MEDICAL_PROFILE`],
//! with the reason each port is in it: the table is the single place to add a port, its
//! invariants (sorted, unique, every reason written) are tested, and help text or reports can
//! show the reasons rather than a bare list of numbers.

use std::fmt;

/// A sorted list of distinct TCP ports, none of them 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ports(Vec<u16>);

impl Ports {
    /// Ports from any list: sorted and deduplicated. Port 0 is refused, as is an empty list.
    pub fn new(ports: impl IntoIterator<Item = u16>) -> Result<Ports, PortError> {
        let mut list: Vec<u16> = ports.into_iter().collect();
        if list.contains(&0) {
            return Err(PortError::Zero {
                item: "0".to_string(),
            });
        }
        if list.is_empty() {
            return Err(PortError::Empty);
        }
        list.sort_unstable();
        list.dedup();
        Ok(Ports(list))
    }

    pub fn as_slice(&self) -> &[u16] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<u16> {
        self.0.get(i).copied()
    }

    pub fn contains(&self, port: u16) -> bool {
        self.0.binary_search(&port).is_ok()
    }

    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        self.0.iter().copied()
    }

    /// Both lists together.
    pub fn union(&self, other: &Ports) -> Ports {
        let mut list = self.0.clone();
        list.extend_from_slice(&other.0);
        list.sort_unstable();
        list.dedup();
        Ports(list)
    }
}

impl fmt::Display for Ports {
    /// The compact form that [`parse_ports`] reads back: `80,104,8000-8100`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut i = 0;
        let mut first = true;
        while i < self.0.len() {
            let start = self.0[i];
            let mut end = start;
            while i + 1 < self.0.len() && self.0[i + 1] == end + 1 {
                i += 1;
                end = self.0[i];
            }
            if !first {
                f.write_str(",")?;
            }
            first = false;
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            i += 1;
        }
        Ok(())
    }
}

/// Why a port list could not be parsed. `item` is the offending comma-separated piece.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortError {
    #[error("the port list is empty")]
    Empty,
    #[error(
        "item {position} of the port list is empty (two commas in a row, or a trailing comma?)"
    )]
    EmptyItem { position: usize },
    #[error("{item:?} is not a port number or a range like 8000-8100")]
    NotANumber { item: String },
    #[error("{item:?}: port 0 cannot be scanned")]
    Zero { item: String },
    #[error("{item:?}: ports go up to 65535")]
    TooLarge { item: String },
    #[error("{item:?}: the range ends before it starts")]
    Reversed { item: String },
}

/// Parses `104,11112,8000-8100` (spaces around items allowed) into sorted, distinct ports.
pub fn parse_ports(s: &str) -> Result<Ports, PortError> {
    if s.trim().is_empty() {
        return Err(PortError::Empty);
    }
    let mut list = Vec::new();
    for (position, raw) in s.split(',').enumerate() {
        let item = raw.trim();
        if item.is_empty() {
            return Err(PortError::EmptyItem {
                position: position + 1,
            });
        }
        match item.split_once('-') {
            Some((a, b)) => {
                let start = port_number(a.trim(), item)?;
                let end = port_number(b.trim(), item)?;
                if end < start {
                    return Err(PortError::Reversed {
                        item: item.to_string(),
                    });
                }
                list.extend(start..=end);
            }
            None => list.push(port_number(item, item)?),
        }
    }
    Ports::new(list)
}

fn port_number(text: &str, item: &str) -> Result<u16, PortError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::NotANumber {
            item: item.to_string(),
        });
    }
    // All digits: the only way to fail is to be too large.
    let value: u32 = text.parse().unwrap_or(u32::MAX);
    match value {
        0 => Err(PortError::Zero {
            item: item.to_string(),
        }),
        1..=65535 => Ok(value as u16),
        _ => Err(PortError::TooLarge {
            item: item.to_string(),
        }),
    }
}

/// One port of a built-in profile, with the service usually found there and why it matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfilePort {
    pub port: u16,
    pub service: &'static str,
    pub why: &'static str,
}

/// `--profile medical`: where exposed hospital systems answer. Sorted by port (tested).
#[rustfmt::skip]
pub const MEDICAL_PROFILE: &[ProfilePort] = &[
    ProfilePort { port: 80, service: "http", why: "web front ends of PACS viewers, EMR portals and device admin pages" },
    ProfilePort { port: 104, service: "dicom", why: "the DICOM well-known port (PS3.8) used by PACS and modalities" },
    ProfilePort { port: 443, service: "https", why: "TLS web front ends: EMR portals, DICOMweb and FHIR servers" },
    ProfilePort { port: 1433, service: "mssql", why: "Microsoft SQL Server, the database under many EMR, RIS and PACS products" },
    ProfilePort { port: 1521, service: "oracle", why: "Oracle database listener, used by large EMR and PACS installations" },
    ProfilePort { port: 1972, service: "iris", why: "InterSystems Cache/IRIS superserver, the database of several EMRs (e.g. Epic Chronicles, TrakCare)" },
    ProfilePort { port: 2575, service: "hl7-mllp", why: "HL7 v2 over MLLP, the IANA-registered port for clinical interface feeds" },
    ProfilePort { port: 2761, service: "dicom-iscl", why: "DICOM Integrated Secure Communication Layer (IANA-registered)" },
    ProfilePort { port: 2762, service: "dicom-tls", why: "DICOM over TLS (IANA-registered)" },
    ProfilePort { port: 3306, service: "mysql", why: "MySQL/MariaDB, the database of OpenEMR, OpenMRS and many small RIS/PACS" },
    ProfilePort { port: 4242, service: "dicom", why: "Orthanc's default DICOM port" },
    ProfilePort { port: 5432, service: "postgresql", why: "PostgreSQL, the index database of Orthanc, dcm4chee-arc and many EMRs" },
    ProfilePort { port: 6379, service: "redis", why: "Redis, often unauthenticated, used as cache and queue by clinical web apps" },
    ProfilePort { port: 6661, service: "hl7-mllp", why: "HL7 v2 MLLP listener port used by default in Mirth Connect channels" },
    ProfilePort { port: 8042, service: "orthanc-http", why: "Orthanc's REST API and web UI (DICOMweb plugin included)" },
    ProfilePort { port: 8080, service: "http-alt", why: "HAPI FHIR, dcm4chee-arc UI and Mirth Connect default HTTP port" },
    ProfilePort { port: 8443, service: "https-alt", why: "Mirth Connect administrator and API, dcm4chee-arc over TLS" },
    ProfilePort { port: 9200, service: "elasticsearch", why: "Elasticsearch HTTP API, search indices that often hold clinical text" },
    ProfilePort { port: 9443, service: "https-alt", why: "IBM/LinuxForHealth FHIR Server default HTTPS port" },
    ProfilePort { port: 11112, service: "dicom", why: "the IANA-registered DICOM port for non-privileged servers (dcm4che, DCMTK)" },
    ProfilePort { port: 27017, service: "mongodb", why: "MongoDB, often unauthenticated, used by newer clinical and imaging apps" },
    ProfilePort { port: 52773, service: "iris-web", why: "InterSystems IRIS web server: management portal and IRIS for Health FHIR endpoint" },
];

/// The ports of [`MEDICAL_PROFILE`].
pub fn medical_profile() -> Ports {
    Ports(MEDICAL_PROFILE.iter().map(|p| p.port).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_table_is_sorted_unique_and_explained() {
        for pair in MEDICAL_PROFILE.windows(2) {
            assert!(
                pair[0].port < pair[1].port,
                "{} before {}",
                pair[0].port,
                pair[1].port
            );
        }
        for p in MEDICAL_PROFILE {
            assert!(p.port != 0);
            assert!(
                !p.service.trim().is_empty(),
                "port {} has no service",
                p.port
            );
            assert!(!p.why.trim().is_empty(), "port {} has no reason", p.port);
        }
        let profile = medical_profile();
        assert_eq!(profile.len(), MEDICAL_PROFILE.len());
        for port in [104, 11112, 4242, 2575, 8042, 1972, 52773] {
            assert!(profile.contains(port), "{port}");
        }
        assert_eq!(parse_ports(&profile.to_string()), Ok(profile));
    }

    #[test]
    fn lists_and_ranges() {
        let p = parse_ports("11112, 104,8000-8003,104").unwrap();
        assert_eq!(p.as_slice(), [104, 8000, 8001, 8002, 8003, 11112]);
        assert_eq!(p.to_string(), "104,8000-8003,11112");
        assert_eq!(parse_ports("1-65535").unwrap().len(), 65535);
        assert_eq!(parse_ports("65535").unwrap().as_slice(), [65535]);
        assert_eq!(parse_ports("7-7").unwrap().as_slice(), [7]);
    }

    #[test]
    fn garbage_is_refused_with_the_item() {
        use PortError::*;
        assert_eq!(parse_ports(""), Err(Empty));
        assert_eq!(parse_ports("  "), Err(Empty));
        assert_eq!(parse_ports("80,,443"), Err(EmptyItem { position: 2 }));
        assert_eq!(parse_ports("80,"), Err(EmptyItem { position: 2 }));
        assert_eq!(parse_ports("0"), Err(Zero { item: "0".into() }));
        assert_eq!(
            parse_ports("0-10"),
            Err(Zero {
                item: "0-10".into()
            })
        );
        assert_eq!(
            parse_ports("65536"),
            Err(TooLarge {
                item: "65536".into()
            })
        );
        assert_eq!(
            parse_ports("99999999999999999999"),
            Err(TooLarge {
                item: "99999999999999999999".into()
            })
        );
        assert_eq!(
            parse_ports("100-90"),
            Err(Reversed {
                item: "100-90".into()
            })
        );
        assert_eq!(
            parse_ports("http"),
            Err(NotANumber {
                item: "http".into()
            })
        );
        assert_eq!(parse_ports("-5"), Err(NotANumber { item: "-5".into() }));
        assert_eq!(parse_ports("5-"), Err(NotANumber { item: "5-".into() }));
        assert_eq!(
            parse_ports("1-2-3"),
            Err(NotANumber {
                item: "1-2-3".into()
            })
        );
        assert_eq!(parse_ports("+80"), Err(NotANumber { item: "+80".into() }));
        let msg = parse_ports("100-90").unwrap_err().to_string();
        assert!(msg.contains("100-90"), "{msg}");
        assert_eq!(Ports::new([]), Err(Empty));
        assert!(Ports::new([0, 1]).is_err());
    }
}
