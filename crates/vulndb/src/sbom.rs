//! Device SBOMs: CycloneDX JSON (spec 1.4, 1.5, 1.6) and SPDX JSON 2.3, read into one [`Sbom`],
//! and [`match_sbom`], which checks each component against a [`VulnDb`] and an
//! [`EndOfSupport`] list.
//!
//! Both formats are read from a `serde_json::Value` walked by hand, so every complaint about the
//! content names its JSON path (`components[3].components[0].purl`); syntax errors carry
//! serde_json's line and column. Only what matching needs is kept: name, version, purl, CPE,
//! supplier and the ecosystem the purl implies. CycloneDX nested components are flattened
//! (depth-first, each with its path); `metadata.component` is the device. In SPDX the package the
//! document DESCRIBES is the device and the others are its components.

use std::path::Path;

use jiff::civil::Date;
use serde::Serialize;
use serde_json::Value;

use crate::db::{Advisory, VulnDb};
use crate::eos::{EndOfSupport, EosFinding};
use crate::purl::Purl;
use crate::Error;

/// The CycloneDX spec versions read; others are refused (1.3 and older lack fields this reader
/// relies on, and later ones are unknown until tested).
pub const CYCLONEDX_VERSIONS: &[&str] = &["1.4", "1.5", "1.6"];
/// The SPDX versions read.
pub const SPDX_VERSIONS: &[&str] = &["SPDX-2.3"];

/// Which SBOM format a document was, with its version as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum SbomFormat {
    CycloneDx { spec_version: String },
    Spdx { spdx_version: String },
}

/// The device an SBOM describes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Device {
    pub name: Option<String>,
    pub version: Option<String>,
    pub supplier: Option<String>,
}

/// One software component of a device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Component {
    pub name: String,
    pub version: Option<String>,
    pub purl: Option<String>,
    pub cpe: Option<String>,
    pub supplier: Option<String>,
    /// The OSV ecosystem the purl implies (`PyPI`, `npm`, `Debian`, …), if any.
    pub ecosystem: Option<String>,
    /// Where it is in the document (`components[2]`, `packages[5]`), for evidence.
    pub path: String,
}

/// A device SBOM, whatever its format.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sbom {
    pub format: SbomFormat,
    pub device: Device,
    pub components: Vec<Component>,
}

/// What matching found for one component.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentFinding {
    pub component: Component,
    /// Advisories that apply to this component's version (by purl, and by CPE when it has
    /// one), deduplicated across sources by id and alias.
    pub advisories: Vec<Advisory>,
    /// The end-of-support entry that names this component, past or not.
    pub end_of_support: Option<EosFinding>,
    /// Why the component could not be checked against vulnerability data, when it could not
    /// (no version; no purl or CPE; a purl type without an OSV ecosystem; a bad purl).
    pub unchecked: Option<String>,
}

impl Sbom {
    /// Reads an SBOM file (CycloneDX or SPDX JSON, told apart by `bomFormat` / `spdxVersion`).
    pub fn load(path: &Path) -> Result<Sbom, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Sbom::parse(path, &bytes)
    }

    /// Parses SBOM text; `path` only names the source in errors.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Sbom, Error> {
        let v: Value = serde_json::from_slice(bytes).map_err(|e| Error::json(path, &e))?;
        let Some(obj) = v.as_object() else {
            return Err(Error::invalid(path, "$", "an SBOM is a JSON object"));
        };
        if obj.contains_key("bomFormat") {
            cyclonedx(path, &v)
        } else if obj.contains_key("spdxVersion") {
            spdx(path, &v)
        } else {
            Err(Error::invalid(
                path,
                "$",
                "neither CycloneDX (bomFormat) nor SPDX (spdxVersion)",
            ))
        }
    }
}

/// Reads an optional string member, refusing other types.
fn opt_str(path: &Path, v: &Value, at: &str, key: &str) -> Result<Option<String>, Error> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(Error::invalid(
            path,
            format!("{at}.{key}"),
            "expected a string",
        )),
    }
}

fn opt_array<'a>(path: &Path, v: &'a Value, at: &str, key: &str) -> Result<&'a [Value], Error> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(_) => Err(Error::invalid(
            path,
            format!("{at}.{key}"),
            "expected an array",
        )),
    }
}

fn join(at: &str, key: &str) -> String {
    if at == "$" {
        key.to_string()
    } else {
        format!("{at}.{key}")
    }
}

fn ecosystem_of(path: &Path, at: &str, purl: Option<&str>) -> Result<Option<String>, Error> {
    match purl {
        None => Ok(None),
        Some(p) => Purl::parse(p)
            .map(|p| p.ecosystem().map(str::to_string))
            .map_err(|e| Error::invalid(path, format!("{at}.purl"), e.to_string())),
    }
}

// ---------------------------------------------------------------------------------------------
// CycloneDX

fn cdx_supplier(path: &Path, c: &Value, at: &str) -> Result<Option<String>, Error> {
    // supplier / manufacturer (1.6) are organizational entities; publisher and author are strings.
    for key in ["supplier", "manufacturer"] {
        if let Some(org) = c.get(key).filter(|x| !x.is_null()) {
            if let Some(n) = opt_str(path, org, &join(at, key), "name")? {
                return Ok(Some(n));
            }
        }
    }
    if let Some(p) = opt_str(path, c, at, "publisher")? {
        return Ok(Some(p));
    }
    opt_str(path, c, at, "author")
}

fn cyclonedx(path: &Path, v: &Value) -> Result<Sbom, Error> {
    if v.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(Error::invalid(path, "bomFormat", "expected \"CycloneDX\""));
    }
    let spec = match v.get("specVersion") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(Error::invalid(
                path,
                "specVersion",
                "missing or not a string",
            ))
        }
    };
    if !CYCLONEDX_VERSIONS.contains(&spec.as_str()) {
        return Err(Error::invalid(
            path,
            "specVersion",
            format!(
                "CycloneDX {spec} is not supported (supported: {})",
                CYCLONEDX_VERSIONS.join(", ")
            ),
        ));
    }
    let mut device = Device::default();
    if let Some(meta) = v.get("metadata").filter(|m| !m.is_null()) {
        if let Some(dc) = meta.get("component").filter(|m| !m.is_null()) {
            let at = "metadata.component";
            device.name = opt_str(path, dc, at, "name")?;
            device.version = opt_str(path, dc, at, "version")?;
            device.supplier = cdx_supplier(path, dc, at)?;
        }
        if device.supplier.is_none() {
            for key in ["manufacture", "manufacturer", "supplier"] {
                if let Some(org) = meta.get(key).filter(|x| !x.is_null()) {
                    device.supplier = opt_str(path, org, &format!("metadata.{key}"), "name")?;
                    if device.supplier.is_some() {
                        break;
                    }
                }
            }
        }
    }
    let mut components = Vec::new();
    cdx_components(path, v, "$", &mut components, 0)?;
    Ok(Sbom {
        format: SbomFormat::CycloneDx { spec_version: spec },
        device,
        components,
    })
}

fn cdx_components(
    path: &Path,
    parent: &Value,
    at: &str,
    out: &mut Vec<Component>,
    depth: usize,
) -> Result<(), Error> {
    if depth > 32 {
        return Err(Error::invalid(
            path,
            at,
            "components nested deeper than 32 levels",
        ));
    }
    for (i, c) in opt_array(path, parent, at, "components")?
        .iter()
        .enumerate()
    {
        let here = format!("{}[{i}]", join(at, "components"));
        if !c.is_object() {
            return Err(Error::invalid(path, here, "a component is an object"));
        }
        let name = opt_str(path, c, &here, "name")?.ok_or_else(|| {
            Error::invalid(path, format!("{here}.name"), "component without a name")
        })?;
        let group = opt_str(path, c, &here, "group")?;
        let purl = opt_str(path, c, &here, "purl")?;
        let ecosystem = ecosystem_of(path, &here, purl.as_deref())?;
        out.push(Component {
            name: match group {
                Some(g) => format!("{g}/{name}"),
                None => name,
            },
            version: opt_str(path, c, &here, "version")?,
            cpe: opt_str(path, c, &here, "cpe")?,
            supplier: cdx_supplier(path, c, &here)?,
            ecosystem,
            purl,
            path: here.clone(),
        });
        cdx_components(path, c, &here, out, depth + 1)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SPDX

/// `Organization: Example Medical (contact@…)` → `Example Medical`; NOASSERTION → None.
fn spdx_actor(s: Option<String>) -> Option<String> {
    let s = s?;
    if s == "NOASSERTION" {
        return None;
    }
    let body = s.split_once(':').map_or(s.as_str(), |(_, b)| b).trim();
    let body = body.split_once(" (").map_or(body, |(n, _)| n).trim();
    (!body.is_empty()).then(|| body.to_string())
}

fn spdx(path: &Path, v: &Value) -> Result<Sbom, Error> {
    let ver = match v.get("spdxVersion") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(Error::invalid(path, "spdxVersion", "not a string")),
    };
    if !SPDX_VERSIONS.contains(&ver.as_str()) {
        return Err(Error::invalid(
            path,
            "spdxVersion",
            format!(
                "{ver} is not supported (supported: {})",
                SPDX_VERSIONS.join(", ")
            ),
        ));
    }
    let doc_id = opt_str(path, v, "$", "SPDXID")?.unwrap_or_else(|| "SPDXRef-DOCUMENT".into());
    // The described package: documentDescribes, else a DESCRIBES relationship from the document.
    let mut described: Vec<String> = Vec::new();
    for (i, d) in opt_array(path, v, "$", "documentDescribes")?
        .iter()
        .enumerate()
    {
        match d.as_str() {
            Some(s) => described.push(s.to_string()),
            None => {
                return Err(Error::invalid(
                    path,
                    format!("documentDescribes[{i}]"),
                    "expected a string",
                ))
            }
        }
    }
    for (i, r) in opt_array(path, v, "$", "relationships")?.iter().enumerate() {
        let at = format!("relationships[{i}]");
        let ty = opt_str(path, r, &at, "relationshipType")?;
        let from = opt_str(path, r, &at, "spdxElementId")?;
        let to = opt_str(path, r, &at, "relatedSpdxElement")?;
        match (ty.as_deref(), from, to) {
            (Some("DESCRIBES"), Some(f), Some(t)) if f == doc_id => described.push(t),
            (Some("DESCRIBED_BY"), Some(f), Some(t)) if t == doc_id => described.push(f),
            _ => {}
        }
    }
    let mut device = Device {
        name: opt_str(path, v, "$", "name")?,
        ..Device::default()
    };
    let mut device_set = false;
    let mut components = Vec::new();
    for (i, p) in opt_array(path, v, "$", "packages")?.iter().enumerate() {
        let at = format!("packages[{i}]");
        if !p.is_object() {
            return Err(Error::invalid(path, at, "a package is an object"));
        }
        let name = opt_str(path, p, &at, "name")?
            .ok_or_else(|| Error::invalid(path, format!("{at}.name"), "package without a name"))?;
        let version = opt_str(path, p, &at, "versionInfo")?;
        let supplier = spdx_actor(opt_str(path, p, &at, "supplier")?).or(spdx_actor(opt_str(
            path,
            p,
            &at,
            "originator",
        )?));
        let id = opt_str(path, p, &at, "SPDXID")?;
        if !device_set && id.as_ref().is_some_and(|id| described.contains(id)) {
            device = Device {
                name: Some(name),
                version,
                supplier,
            };
            device_set = true;
            continue;
        }
        let (mut purl, mut cpe) = (None, None);
        for (j, r) in opt_array(path, p, &at, "externalRefs")?.iter().enumerate() {
            let rat = format!("{at}.externalRefs[{j}]");
            let ty = opt_str(path, r, &rat, "referenceType")?;
            let loc = opt_str(path, r, &rat, "referenceLocator")?;
            match ty.as_deref() {
                Some("purl") if purl.is_none() => purl = loc,
                Some("cpe23Type") if cpe.is_none() => cpe = loc,
                Some("cpe22Type") if cpe.is_none() => cpe = loc,
                _ => {}
            }
        }
        let ecosystem = ecosystem_of(path, &at, purl.as_deref())?;
        components.push(Component {
            name,
            version,
            purl,
            cpe,
            supplier,
            ecosystem,
            path: at,
        });
    }
    Ok(Sbom {
        format: SbomFormat::Spdx { spdx_version: ver },
        device,
        components,
    })
}

// ---------------------------------------------------------------------------------------------
// Matching

/// Checks every component: OSV advisories by purl, NVD advisories by CPE (with the component's
/// version), and `eos` as of `as_of`. Returns a finding for each component that has advisories,
/// an end-of-support entry, or could not be checked; clean components are left out.
pub fn match_sbom(
    sbom: &Sbom,
    db: &VulnDb,
    eos: Option<&EndOfSupport>,
    as_of: Date,
) -> Vec<ComponentFinding> {
    let mut out = Vec::new();
    for c in &sbom.components {
        let mut advisories: Vec<Advisory> = Vec::new();
        let mut unchecked = None;
        let version = c.version.as_deref();
        match (&c.purl, &c.cpe) {
            (None, None) => unchecked = Some("no purl or CPE to look it up by".to_string()),
            _ if version.is_none()
                && c.purl
                    .as_deref()
                    .and_then(|p| Purl::parse(p).ok())
                    .and_then(|p| p.version)
                    .is_none()
                && c.cpe
                    .as_deref()
                    .and_then(|x| crate::cpe::Cpe::parse(x).ok())
                    .and_then(|x| x.version())
                    .is_none() =>
            {
                unchecked = Some("no version".to_string());
            }
            _ => {}
        }
        if unchecked.is_none() {
            if let Some(p) = &c.purl {
                match Purl::parse(p) {
                    Ok(parsed) => match (parsed.ecosystem(), parsed.version.as_deref().or(version))
                    {
                        (Some(eco), Some(v)) => {
                            advisories.extend(db.advisories_for_package(eco, &parsed.osv_name(), v))
                        }
                        (None, _) if c.cpe.is_none() => {
                            unchecked = Some(format!(
                                "purl type {:?} has no vulnerability ecosystem",
                                parsed.ty
                            ))
                        }
                        _ => {}
                    },
                    Err(e) if c.cpe.is_none() => unchecked = Some(e.to_string()),
                    Err(_) => {}
                }
            }
            if let Some(x) = &c.cpe {
                match db.advisories_for_cpe(x, version) {
                    Ok(found) => {
                        for a in found {
                            let dup = advisories.iter().any(|b| {
                                b.vulnerability.id == a.vulnerability.id
                                    || b.aliases
                                        .iter()
                                        .any(|al| al.eq_ignore_ascii_case(&a.vulnerability.id))
                            });
                            if !dup {
                                advisories.push(a);
                            }
                        }
                    }
                    Err(e) if c.purl.is_none() => unchecked = Some(e.to_string()),
                    Err(_) => {}
                }
            }
        }
        let end_of_support = eos.and_then(|e| e.check(c, as_of));
        if !advisories.is_empty() || end_of_support.is_some() || unchecked.is_some() {
            out.push(ComponentFinding {
                component: c.clone(),
                advisories,
                end_of_support,
                unchecked,
            });
        }
    }
    out
}
