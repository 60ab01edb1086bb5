//! Device evidence of a vendor: the SBOMs and MDS2 forms it has on file, read and matched by
//! `medsurface-vulndb` against the offline vulnerability data the user holds.
//!
//! This module is the seam to that crate: it loads the vulnerability sources once
//! ([`Evidence::load`]) and reduces each vendor's documents to the counts and gaps the rubric
//! and the summary need ([`DeviceFindings`]). Reading and matching (CycloneDX/SPDX, OSV/NVD/KEV,
//! version ranges, end of support, the MDS2 workbook) are that crate's; nothing is re-parsed
//! here.

use std::path::{Path, PathBuf};

use jiff::civil::Date;
use medsurface_vulndb::{match_sbom, EndOfSupport, Mds2, Sbom, VulnDb};

use crate::error::SupplyError;
use crate::register::Vendor;

/// Advisory ids named per vulnerable component in a note; the rest are counted.
const IDS_NAMED: usize = 4;

/// Offline vulnerability data the user holds (files as given on the command line).
#[derive(Debug, Clone, Default)]
pub struct VulnSources {
    /// OSV JSON files or directories of them.
    pub osv: Vec<PathBuf>,
    /// NVD CVE JSON 2.0 feeds (plain or .gz).
    pub nvd: Vec<PathBuf>,
    /// The CISA KEV catalogue (JSON).
    pub kev: Option<PathBuf>,
}

impl VulnSources {
    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.osv.iter().chain(&self.nvd).chain(&self.kev)
    }
}

/// What a vendor's device documents say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceFindings {
    /// Components with at least one known vulnerability.
    pub vulnerable_components: u64,
    /// Components with a vulnerability CISA lists as known exploited.
    pub kev_components: u64,
    /// Highest CVSS base score among the matched vulnerabilities.
    pub max_cvss: Option<f32>,
    /// Components past end of support.
    pub unsupported_components: u64,
    /// Security gaps from MDS2 forms, in words.
    pub mds2_gaps: Vec<String>,
    /// Sentences for the summary (which component, which advisory).
    pub notes: Vec<String>,
}

/// The vulnerability data, loaded once for all vendors.
pub struct Evidence {
    db: VulnDb,
    eos: EndOfSupport,
    /// Whether any vulnerability source was given (without one, SBOMs are only checked for end
    /// of support, and the summary says so).
    has_sources: bool,
}

impl Evidence {
    /// Loads every source; the first bad file is an error naming it and the place in it.
    pub fn load(sources: &VulnSources) -> Result<Evidence, SupplyError> {
        let mut db = VulnDb::new();
        for p in sources.paths() {
            db.load(p)
                .map_err(|e| SupplyError::Evidence(e.to_string()))?;
        }
        Ok(Evidence {
            db,
            eos: EndOfSupport::builtin(),
            has_sources: sources.paths().next().is_some(),
        })
    }

    /// Reads the vendor's SBOMs and MDS2 forms and matches them, as of `today` for end of
    /// support.
    pub fn findings(&self, vendor: &Vendor, today: Date) -> Result<DeviceFindings, SupplyError> {
        let mut out = DeviceFindings::default();
        let bad = |e: medsurface_vulndb::Error| SupplyError::Evidence(e.to_string());
        for path in &vendor.sbom {
            let sbom = Sbom::load(path).map_err(bad)?;
            let device = sbom.device.name.clone().unwrap_or_else(|| file_name(path));
            let mut unchecked = 0;
            for f in match_sbom(&sbom, &self.db, Some(&self.eos), today) {
                let c = &f.component;
                let what = match &c.version {
                    Some(v) => format!("{} {v}", c.name),
                    None => c.name.clone(),
                };
                if !f.advisories.is_empty() {
                    out.vulnerable_components += 1;
                    let kev = f.advisories.iter().any(|a| {
                        a.vulnerability.known_exploited
                            || self.db.is_known_exploited(&a.vulnerability.id, &a.aliases)
                    });
                    out.kev_components += u64::from(kev);
                    for cvss in f.advisories.iter().filter_map(|a| a.vulnerability.cvss) {
                        out.max_cvss = Some(out.max_cvss.map_or(cvss, |m| m.max(cvss)));
                    }
                    let mut ids: Vec<&str> = f
                        .advisories
                        .iter()
                        .map(|a| a.vulnerability.id.as_str())
                        .collect();
                    ids.sort_unstable();
                    ids.dedup();
                    let more = ids.len().saturating_sub(IDS_NAMED);
                    ids.truncate(IDS_NAMED);
                    out.notes.push(format!(
                        "{device}: component {what} has known vulnerabilities: {}{}{}",
                        ids.join(", "),
                        if more > 0 {
                            format!(" and {more} more")
                        } else {
                            String::new()
                        },
                        if kev { " (known exploited)" } else { "" }
                    ));
                }
                if let Some(e) = f.end_of_support.as_ref().filter(|e| e.past) {
                    out.unsupported_components += 1;
                    out.notes.push(format!(
                        "{device}: component {what} is past end of support ({} ended {})",
                        e.product, e.end_of_support
                    ));
                }
                unchecked += usize::from(f.unchecked.is_some());
            }
            if unchecked > 0 {
                out.notes.push(format!(
                    "{device}: {unchecked} SBOM components could not be checked (no purl, CPE or version)"
                ));
            }
            if !self.has_sources {
                out.notes.push(format!(
                    "{device}: SBOM on file, but no vulnerability data was given (--osv, --nvd, --kev)"
                ));
            }
        }
        for path in &vendor.mds2 {
            let form = Mds2::load(path).map_err(bad)?;
            let device = form
                .device
                .clone()
                .or_else(|| form.model.clone())
                .unwrap_or_else(|| file_name(path));
            for g in &form.gaps {
                out.mds2_gaps.push(format!(
                    "{device}: {} ({} answered {}): {}",
                    g.capability,
                    g.question,
                    g.answer.as_str(),
                    g.why
                ));
            }
        }
        Ok(out)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}
