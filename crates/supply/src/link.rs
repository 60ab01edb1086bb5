//! Linking exposed services to the vendors of the register.
//!
//! A service names its maker in up to four places, tried in this order: the register's own
//! `dicom_uid_roots` (what the hospital knows of its devices' implementation class UIDs), the
//! signature's vendor and product (`Service.vendor`, `Service.product`), the vendor the DICOM
//! fingerprint named while probing or importing (`dicom.vendor`), and the implementation class
//! UID looked up again in `knowledge/dicom-implementations.toml` through
//! `medsurface_proto::dicom::fingerprint::Fingerprints` — the same table, loaded once by the
//! proto crate, never re-parsed here. Names are compared without case and punctuation
//! ([`normalize`]), against each vendor's name and aliases.
//!
//! A service whose maker is known but absent from the register is attributed to that maker as
//! an unregistered vendor, so the report calls it out; a service nobody can name (a generic
//! signature, vendor `unknown`) is left out of the vendor view.

use std::collections::{BTreeMap, HashMap};

use medsurface_model::Service;
use medsurface_proto::dicom::fingerprint::{Fingerprints, Kind};

use crate::error::SupplyError;
use crate::register::Register;

/// A name folded for comparison: lower-case letters and digits only ("GE HealthCare, Inc." and
/// "ge-healthcare inc" fold alike).
pub fn normalize(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// How a service was tied to a vendor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    /// A `dicom_uid_roots` entry of the register (the root).
    RegisterUidRoot(String),
    /// The signature's vendor or product name (the name).
    Signature(String),
    /// The DICOM fingerprint's vendor (the name; `toolkit` when the entry is a toolkit many
    /// products embed, so the supplier may be someone else).
    DicomFingerprint { vendor: String, toolkit: bool },
}

/// Where one service belongs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Index of a vendor of the register.
    Registered(usize),
    /// A maker absent from the register (its name as the evidence spells it).
    Unregistered(String),
    /// Nobody can be named.
    Unattributed,
}

/// One service's attribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribution {
    pub link: Link,
    pub via: Option<Via>,
}

/// The register's names, folded, ready to link many services.
pub struct Linker<'r> {
    register: &'r Register,
    names: HashMap<String, usize>,
    /// (root, vendor index), longest root first.
    roots: Vec<(String, usize)>,
    fingerprints: &'static Fingerprints,
}

impl<'r> Linker<'r> {
    pub fn new(register: &'r Register) -> Result<Linker<'r>, SupplyError> {
        let fingerprints =
            Fingerprints::builtin().map_err(|e| SupplyError::Knowledge(e.to_string()))?;
        let mut names = HashMap::new();
        let mut roots = Vec::new();
        for (i, v) in register.vendors.iter().enumerate() {
            for n in v.names() {
                names.entry(normalize(n)).or_insert(i);
            }
            for r in &v.dicom_uid_roots {
                roots.push((r.clone(), i));
            }
        }
        roots.sort_by_key(|(r, _)| std::cmp::Reverse(r.len()));
        Ok(Linker {
            register,
            names,
            roots,
            fingerprints,
        })
    }

    pub fn register(&self) -> &'r Register {
        self.register
    }

    fn lookup(&self, name: &str) -> Option<usize> {
        let key = normalize(name);
        if key.is_empty() || key == "unknown" {
            return None;
        }
        self.names.get(&key).copied()
    }

    /// The vendor of one service.
    pub fn attribute(&self, s: &Service) -> Attribution {
        let detail = |k: &str| s.details.get(k).and_then(|v| v.as_str());
        let uid = detail("dicom.implementation_class_uid");
        if let Some(uid) = uid {
            if let Some((root, i)) = self.roots.iter().find(|(r, _)| uid_under(uid, r)) {
                return Attribution {
                    link: Link::Registered(*i),
                    via: Some(Via::RegisterUidRoot(root.clone())),
                };
            }
        }
        let known = |n: &Option<String>| {
            n.as_deref()
                .filter(|n| !matches!(normalize(n).as_str(), "" | "unknown"))
                .map(str::to_string)
        };
        let sig_vendor = known(&s.vendor);
        let sig_product = known(&s.product);
        // The fingerprint: as the probe or importer recorded it, else looked up again.
        let recorded = detail("dicom.vendor").map(|v| {
            let toolkit = detail("dicom.fingerprint")
                .and_then(|id| self.fingerprints.entries().iter().find(|e| e.id == id))
                .is_some_and(|e| e.kind == Kind::Toolkit);
            (v.to_string(), toolkit)
        });
        let looked_up = || {
            self.fingerprints
                .identify(uid, detail("dicom.implementation_version_name"))
                .map(|id| (id.vendor, id.kind == Kind::Toolkit))
        };
        let fingerprint = recorded.or_else(looked_up);
        // A signature that only restates a toolkit fingerprint (DCMTK's maker) is reported as
        // the toolkit link it is, so the summary can say the supplier may be someone else.
        let by_signature = |name: &str| match &fingerprint {
            Some((vendor, true)) if normalize(vendor) == normalize(name) => Via::DicomFingerprint {
                vendor: vendor.clone(),
                toolkit: true,
            },
            _ => Via::Signature(name.to_string()),
        };
        for name in [&sig_vendor, &sig_product].into_iter().flatten() {
            if let Some(i) = self.lookup(name) {
                return Attribution {
                    link: Link::Registered(i),
                    via: Some(by_signature(name)),
                };
            }
        }
        if let Some((vendor, toolkit)) = &fingerprint {
            if let Some(i) = self.lookup(vendor) {
                return Attribution {
                    link: Link::Registered(i),
                    via: Some(Via::DicomFingerprint {
                        vendor: vendor.clone(),
                        toolkit: *toolkit,
                    }),
                };
            }
        }
        if let Some(name) = sig_vendor {
            return Attribution {
                via: Some(by_signature(&name)),
                link: Link::Unregistered(name),
            };
        }
        match fingerprint {
            Some((vendor, toolkit)) if !matches!(normalize(&vendor).as_str(), "" | "unknown") => {
                Attribution {
                    link: Link::Unregistered(vendor.clone()),
                    via: Some(Via::DicomFingerprint { vendor, toolkit }),
                }
            }
            _ => Attribution {
                link: Link::Unattributed,
                via: None,
            },
        }
    }

    /// Every service's attribution, grouped.
    pub fn link<'s>(&self, services: &'s [Service]) -> Linked<'s> {
        let mut out = Linked {
            registered: vec![Vec::new(); self.register.vendors.len()],
            unregistered: BTreeMap::new(),
            unattributed: 0,
        };
        for s in services {
            let a = self.attribute(s);
            match a.link {
                Link::Registered(i) => out.registered[i].push((s, a.via)),
                Link::Unregistered(name) => {
                    let entry =
                        out.unregistered
                            .entry(normalize(&name))
                            .or_insert_with(|| Unregistered {
                                name,
                                services: Vec::new(),
                            });
                    entry.services.push((s, a.via));
                }
                Link::Unattributed => out.unattributed += 1,
            }
        }
        out
    }
}

/// A maker absent from the register, with its services.
#[derive(Debug, Clone)]
pub struct Unregistered<'s> {
    pub name: String,
    pub services: Vec<(&'s Service, Option<Via>)>,
}

/// Services grouped by vendor.
#[derive(Debug, Clone)]
pub struct Linked<'s> {
    /// Per register vendor (same index), its services and how each was tied.
    pub registered: Vec<Vec<(&'s Service, Option<Via>)>>,
    /// Makers absent from the register, by folded name.
    pub unregistered: BTreeMap<String, Unregistered<'s>>,
    /// Services no vendor could be named for.
    pub unattributed: usize,
}

/// Whether `uid` is `root` or below it (`root` followed by a dot).
fn uid_under(uid: &str, root: &str) -> bool {
    uid == root
        || uid
            .strip_prefix(root)
            .is_some_and(|rest| rest.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding() {
        assert_eq!(
            normalize("GE HealthCare, Inc."),
            normalize("ge-healthcare inc")
        );
        assert_eq!(normalize("Orthanc project"), "orthancproject");
        assert_eq!(normalize("--"), "");
        assert_eq!(normalize("Hôpital"), "hôpital");
    }

    #[test]
    fn uid_roots_match_on_dot_boundaries() {
        assert!(uid_under("1.2.840.113619.6.1", "1.2.840.113619"));
        assert!(uid_under("1.2.840.113619", "1.2.840.113619"));
        assert!(!uid_under("1.2.840.1136190.1", "1.2.840.113619"));
    }
}
