//! The synthetic vendor register of `medsurface demo` (`data/demo-vendors/`), compiled in so the
//! binary needs no data directory, and written out on demand: a register names its SBOMs by
//! paths relative to itself, so the files must exist side by side on disk to be loaded.

use std::io;
use std::path::{Path, PathBuf};

/// (path relative to the demo directory, contents).
pub const FILES: &[(&str, &str)] = &[
    (
        "vendors.toml",
        include_str!("../../../data/demo-vendors/vendors.toml"),
    ),
    (
        "sbom/imaging-gateway.cdx.json",
        include_str!("../../../data/demo-vendors/sbom/imaging-gateway.cdx.json"),
    ),
    (
        "osv/MEDSURFACE-DEMO-0001.json",
        include_str!("../../../data/demo-vendors/osv/MEDSURFACE-DEMO-0001.json"),
    ),
    (
        "osv/MEDSURFACE-DEMO-0002.json",
        include_str!("../../../data/demo-vendors/osv/MEDSURFACE-DEMO-0002.json"),
    ),
];

/// Where the written demo files are.
#[derive(Debug, Clone)]
pub struct DemoFiles {
    /// The register (`vendors.toml`).
    pub register: PathBuf,
    /// The directory of fictional OSV advisories, for `VulnSources::osv`.
    pub osv: PathBuf,
}

/// Writes the demo register, its SBOM and the demo advisories under `dir` (created if needed).
pub fn write_to(dir: &Path) -> io::Result<DemoFiles> {
    for (rel, text) in FILES {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, text)?;
    }
    Ok(DemoFiles {
        register: dir.join("vendors.toml"),
        osv: dir.join("osv"),
    })
}
