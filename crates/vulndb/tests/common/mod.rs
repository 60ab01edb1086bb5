//! Shared by the integration tests: where the fixtures and the generators' outputs are, and
//! making the outputs when they are missing.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

const OUTPUTS: &[&str] = &[
    "env.cdx-1.3.json",
    "env.cdx-1.4.json",
    "env.cdx-1.5.json",
    "env.cdx-1.6.json",
    "env.spdx.json",
    "mds2-standard.xlsx",
    "mds2-shifted.xlsx",
    "mds2-no-id.xlsx",
    "mds2-truncated.xlsx",
];

/// The directory holding what scripts/peers/sbom/install generates (CycloneDX from
/// cyclonedx-py, SPDX from spdx-tools, MDS2 workbooks from openpyxl), running the script when
/// something is missing. `None` (the caller skips) only outside CI when the project venv is
/// missing; under CI=true, or when the script fails with a venv present, the test fails.
pub fn generated() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = repo_root();
        let out = root.join("target/sbom-peers");
        let complete = || OUTPUTS.iter().all(|f| out.join(f).is_file());
        if complete() {
            return Some(out);
        }
        let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
        let status = Command::new("bash")
            .arg(root.join("scripts/peers/sbom/install"))
            .status();
        match status {
            Ok(s) if s.success() && complete() => Some(out),
            other => {
                let venv = root.join(".venv/bin/python").exists();
                if !ci && !venv {
                    eprintln!(
                        "SKIPPED: SBOM/MDS2 generator outputs are missing and the project venv (.venv) \
                         is not there; run scripts/install-test-deps (or scripts/peers/sbom/install) \
                         to test against real cyclonedx-py, spdx-tools and openpyxl outputs"
                    );
                    None
                } else {
                    panic!("scripts/peers/sbom/install did not produce {OUTPUTS:?} in {}: {other:?}", out.display())
                }
            }
        }
    })
    .clone()
}

/// A fresh directory under the target dir for files a test writes.
pub fn scratch(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("vulndb-{name}"));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
