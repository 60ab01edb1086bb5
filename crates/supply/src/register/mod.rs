//! The hospital's vendor register: who supplies what, and what access each vendor holds.
//!
//! One register has two spellings, TOML (`[[vendor]]` tables) and CSV (one row per vendor, for
//! spreadsheet users), and one definition of its keys: [`KEYS`]. Both readers turn what they
//! read into the same typed values with the same string rules (dates, intervals, statuses,
//! devices), so a TOML file and the CSV with the same content give equal registers — a test
//! holds them to it. Validation is strict and names file and line: unknown keys, values of the
//! wrong type, impossible dates, bad intervals, a name or alias used by two vendors, and SBOM or
//! MDS2 files that are not there.

mod csv_format;
mod toml_format;

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use jiff::civil::Date;
use serde::Serialize;

use crate::error::{RegisterError, RegisterErrorKind};
use crate::link::normalize;

/// The largest register file read (a register of thousands of vendors is far below it).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// A key of a vendor: the TOML key and the CSV column are the same word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    Name,
    Aliases,
    Services,
    RemoteAccess,
    SharedCredentials,
    DefaultCredentials,
    BadgeAccess,
    PatientData,
    PhysicalRecords,
    Devices,
    NetworkSegments,
    UpdateRights,
    Contract,
    Baa,
    LastAssessment,
    ReviewInterval,
    Sbom,
    Mds2,
    DicomUidRoots,
    Notes,
}

/// How a key's value is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One line of text.
    Text,
    /// A list of text (TOML array of strings; CSV `;`-separated).
    List,
    /// TOML `true`/`false`; CSV `true`/`false`/`yes`/`no` (empty: false).
    Bool,
    /// `YYYY-MM-DD` (TOML also takes a date literal).
    Date,
    /// `N days|weeks|months|years`, or a number of days.
    Interval,
    /// One word of a fixed set.
    Status(&'static [&'static str]),
    /// Devices: TOML `[{ model = "…", firmware = "…" }]`; CSV `MODEL@FIRMWARE;…`.
    Devices,
    /// Paths relative to the register file (a list); each must exist.
    Paths,
}

/// The definition of one key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDef {
    pub key: Key,
    pub name: &'static str,
    pub shape: Shape,
    pub doc: &'static str,
}

pub const CONTRACT_STATUSES: &[&str] = &["active", "pending", "expired", "none"];
pub const BAA_STATUSES: &[&str] = &["signed", "pending", "none", "not-required"];

/// Every key of a vendor, in the order the docs and the CSV template list them.
pub const KEYS: &[KeyDef] = &[
    KeyDef { key: Key::Name, name: "name", shape: Shape::Text, doc: "the vendor's name (required, unique)" },
    KeyDef { key: Key::Aliases, name: "aliases", shape: Shape::List, doc: "other names: how signatures, DICOM fingerprints or staff name the vendor" },
    KeyDef { key: Key::Services, name: "services", shape: Shape::List, doc: "what the vendor supplies" },
    KeyDef { key: Key::RemoteAccess, name: "remote_access", shape: Shape::List, doc: "remote-access accounts the vendor holds (VPN, remote-support tools)" },
    KeyDef { key: Key::SharedCredentials, name: "shared_credentials", shape: Shape::Bool, doc: "the vendor uses credentials shared between people or sites" },
    KeyDef { key: Key::DefaultCredentials, name: "default_credentials", shape: Shape::Bool, doc: "devices or accounts of the vendor keep default credentials" },
    KeyDef { key: Key::BadgeAccess, name: "badge_access", shape: Shape::Bool, doc: "badge or other physical access to the premises" },
    KeyDef { key: Key::PatientData, name: "patient_data", shape: Shape::Bool, doc: "the vendor can reach patient data" },
    KeyDef { key: Key::PhysicalRecords, name: "physical_records", shape: Shape::Bool, doc: "the vendor stores or handles physical records" },
    KeyDef { key: Key::Devices, name: "devices", shape: Shape::Devices, doc: "devices supplied, with model and firmware" },
    KeyDef { key: Key::NetworkSegments, name: "network_segments", shape: Shape::List, doc: "network segments the vendor's access or devices reach" },
    KeyDef { key: Key::UpdateRights, name: "update_rights", shape: Shape::Bool, doc: "the vendor may push updates or do maintenance" },
    KeyDef { key: Key::Contract, name: "contract", shape: Shape::Status(CONTRACT_STATUSES), doc: "contract status" },
    KeyDef { key: Key::Baa, name: "baa", shape: Shape::Status(BAA_STATUSES), doc: "business-associate agreement status" },
    KeyDef { key: Key::LastAssessment, name: "last_assessment", shape: Shape::Date, doc: "date of the last security assessment" },
    KeyDef { key: Key::ReviewInterval, name: "review_interval", shape: Shape::Interval, doc: "time between assessments (default 12 months)" },
    KeyDef { key: Key::Sbom, name: "sbom", shape: Shape::Paths, doc: "SBOM files on file (CycloneDX or SPDX JSON)" },
    KeyDef { key: Key::Mds2, name: "mds2", shape: Shape::Paths, doc: "MDS2 forms on file (XLSX)" },
    KeyDef { key: Key::DicomUidRoots, name: "dicom_uid_roots", shape: Shape::List, doc: "DICOM implementation class UID roots of the vendor's devices, besides knowledge/dicom-implementations.toml" },
    KeyDef { key: Key::Notes, name: "notes", shape: Shape::Text, doc: "free text" },
];

impl Key {
    pub fn def(self) -> &'static KeyDef {
        KEYS.iter().find(|d| d.key == self).unwrap_or(&KEYS[0])
    }

    pub fn parse(name: &str) -> Option<Key> {
        KEYS.iter().find(|d| d.name == name).map(|d| d.key)
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }
}

/// Contract status of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ContractStatus {
    Active,
    Pending,
    Expired,
    None,
}

/// Business-associate agreement status of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BaaStatus {
    Signed,
    Pending,
    None,
    NotRequired,
}

/// A unit of a review interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    Days,
    Weeks,
    Months,
    Years,
}

/// Time between two assessments of a vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReviewInterval {
    pub count: u32,
    pub unit: Unit,
}

impl ReviewInterval {
    /// The default when a vendor gives none.
    pub const DEFAULT: ReviewInterval = ReviewInterval {
        count: 12,
        unit: Unit::Months,
    };

    /// Parses `N days|weeks|months|years` (singular too) or a bare number of days; 1 day to 10
    /// years.
    pub fn parse(text: &str) -> Option<ReviewInterval> {
        let t = text.trim().to_ascii_lowercase();
        let mut words = t.split_whitespace();
        let count: u32 = words.next()?.parse().ok()?;
        let unit = match words.next() {
            None => Unit::Days,
            Some("day" | "days") => Unit::Days,
            Some("week" | "weeks") => Unit::Weeks,
            Some("month" | "months") => Unit::Months,
            Some("year" | "years") => Unit::Years,
            Some(_) => return None,
        };
        if words.next().is_some() {
            return None;
        }
        let days = u64::from(count)
            * match unit {
                Unit::Days => 1,
                Unit::Weeks => 7,
                Unit::Months => 31,
                Unit::Years => 366,
            };
        (count > 0 && days <= 3660).then_some(ReviewInterval { count, unit })
    }

    /// `date` plus this interval (month ends clamp: 31 Jan + 1 month = 28/29 Feb).
    pub fn after(self, date: Date) -> Option<Date> {
        let n = i64::from(self.count);
        let span = match self.unit {
            Unit::Days => jiff::Span::new().try_days(n),
            Unit::Weeks => jiff::Span::new().try_weeks(n),
            Unit::Months => jiff::Span::new().try_months(n),
            Unit::Years => jiff::Span::new().try_years(n),
        }
        .ok()?;
        date.checked_add(span).ok()
    }
}

impl fmt::Display for ReviewInterval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            Unit::Days => "day",
            Unit::Weeks => "week",
            Unit::Months => "month",
            Unit::Years => "year",
        };
        let plural = if self.count == 1 { "" } else { "s" };
        write!(f, "{} {unit}{plural}", self.count)
    }
}

/// A device the vendor supplied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    pub model: String,
    pub firmware: Option<String>,
}

impl Device {
    /// Parses the CSV spelling `MODEL@FIRMWARE` (firmware optional).
    pub(crate) fn parse(text: &str) -> Option<Device> {
        let (model, firmware) = match text.rsplit_once('@') {
            Some((m, f)) => (m.trim(), Some(f.trim())),
            None => (text.trim(), None),
        };
        if model.is_empty() || firmware.is_some_and(str::is_empty) {
            return None;
        }
        Some(Device {
            model: model.to_string(),
            firmware: firmware.map(str::to_string),
        })
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.firmware {
            Some(fw) => write!(f, "{} (firmware {fw})", self.model),
            None => f.write_str(&self.model),
        }
    }
}

/// The access a vendor holds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Access {
    pub remote_access: Vec<String>,
    pub shared_credentials: bool,
    pub default_credentials: bool,
    pub badge_access: bool,
    pub patient_data: bool,
    pub physical_records: bool,
    pub network_segments: Vec<String>,
    pub update_rights: bool,
}

impl Access {
    /// The access held, in words (what [`medsurface_model::supply::VendorSummary::access`]
    /// shows).
    pub fn describe(&self, devices: &[Device]) -> Vec<String> {
        let mut out = Vec::new();
        match self.remote_access.len() {
            0 => {}
            1 => out.push(format!("remote-access account ({})", self.remote_access[0])),
            n => out.push(format!(
                "{n} remote-access accounts ({})",
                self.remote_access.join(", ")
            )),
        }
        for (held, words) in [
            (self.shared_credentials, "shared credentials"),
            (self.default_credentials, "default credentials"),
            (self.badge_access, "badge access"),
            (self.patient_data, "patient data"),
            (self.physical_records, "physical records"),
            (self.update_rights, "update or maintenance rights"),
        ] {
            if held {
                out.push(words.to_string());
            }
        }
        if !self.network_segments.is_empty() {
            out.push(format!(
                "network segments: {}",
                self.network_segments.join(", ")
            ));
        }
        if !devices.is_empty() {
            let list: Vec<String> = devices.iter().map(Device::to_string).collect();
            out.push(format!("devices: {}", list.join(", ")));
        }
        out
    }
}

/// One vendor of the register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vendor {
    pub name: String,
    pub aliases: Vec<String>,
    pub services: Vec<String>,
    pub access: Access,
    pub devices: Vec<Device>,
    pub contract: Option<ContractStatus>,
    pub baa: Option<BaaStatus>,
    #[serde(serialize_with = "ser_date")]
    pub last_assessment: Option<Date>,
    pub review_interval: ReviewInterval,
    /// SBOM files, resolved against the register's directory.
    pub sbom: Vec<PathBuf>,
    /// MDS2 workbooks, resolved against the register's directory.
    pub mds2: Vec<PathBuf>,
    pub dicom_uid_roots: Vec<String>,
    pub notes: Option<String>,
    /// The line where the vendor is written (its `[[vendor]]` header or CSV row).
    pub line: usize,
}

fn ser_date<S: serde::Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.to_string()),
        None => s.serialize_none(),
    }
}

impl Vendor {
    /// The next assessment date: last assessment plus the review interval (`None` when never
    /// assessed).
    pub fn next_review(&self) -> Option<Date> {
        self.last_assessment
            .and_then(|d| self.review_interval.after(d))
    }

    /// Whether the review is overdue on `today`: the next review date has passed, or the vendor
    /// was never assessed.
    pub fn review_overdue(&self, today: Date) -> bool {
        match self.last_assessment {
            None => true,
            Some(_) => self.next_review().is_none_or(|next| next < today),
        }
    }

    /// The name and the aliases.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.name.as_str()).chain(self.aliases.iter().map(String::as_str))
    }
}

/// A loaded, validated register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Register {
    /// The file, as named in errors.
    pub file: String,
    pub vendors: Vec<Vendor>,
}

impl Register {
    /// Reads a register, TOML or CSV by the file's extension.
    pub fn load(path: &Path) -> Result<Register, RegisterError> {
        let file = path.display().to_string();
        let whole = |kind| RegisterError {
            file: file.clone(),
            line: 0,
            kind,
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("toml" | "csv")) {
            return Err(whole(RegisterErrorKind::UnknownFormat));
        }
        let meta =
            std::fs::metadata(path).map_err(|e| whole(RegisterErrorKind::Read(e.to_string())))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(whole(RegisterErrorKind::Read(format!(
                "larger than {} MiB",
                MAX_FILE_BYTES >> 20
            ))));
        }
        let bytes =
            std::fs::read(path).map_err(|e| whole(RegisterErrorKind::Read(e.to_string())))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            whole(RegisterErrorKind::Read(format!(
                "not UTF-8 text (byte offset {})",
                e.utf8_error().valid_up_to()
            )))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        if ext.as_deref() == Some("csv") {
            Register::from_csv(&text, &file, base)
        } else {
            Register::from_toml(&text, &file, base)
        }
    }

    /// Parses a TOML register; `file` names it in errors, `base` is the directory SBOM and MDS2
    /// paths are relative to.
    pub fn from_toml(text: &str, file: &str, base: &Path) -> Result<Register, RegisterError> {
        let cx = Ctx { file, base };
        let rows = toml_format::read(text, &cx)?;
        cx.finish(rows)
    }

    /// Parses a CSV register (header row of key names); like [`Register::from_toml`].
    pub fn from_csv(text: &str, file: &str, base: &Path) -> Result<Register, RegisterError> {
        let cx = Ctx { file, base };
        let rows = csv_format::read(text, &cx)?;
        cx.finish(rows)
    }

    /// The vendor with this name or alias (case and punctuation folded).
    pub fn find(&self, name: &str) -> Option<&Vendor> {
        let key = normalize(name);
        if key.is_empty() {
            return None;
        }
        self.vendors
            .iter()
            .find(|v| v.names().any(|n| normalize(n) == key))
    }
}

/// A value as read from either format, before it is placed in a [`Vendor`].
#[derive(Debug, Clone)]
pub(crate) enum Value {
    Text(String),
    List(Vec<String>),
    Bool(bool),
    Date(Date),
    Interval(ReviewInterval),
    Status(&'static str),
    Devices(Vec<Device>),
}

/// One vendor as read: its line and its keys with their lines.
pub(crate) struct Row {
    pub line: usize,
    pub fields: Vec<(Key, usize, Value)>,
}

/// The error builder and path base of one file.
pub(crate) struct Ctx<'a> {
    pub file: &'a str,
    pub base: &'a Path,
}

impl Ctx<'_> {
    pub fn err(&self, line: usize, kind: RegisterErrorKind) -> RegisterError {
        RegisterError {
            file: self.file.to_string(),
            line,
            kind,
        }
    }

    /// Turns rows into vendors, then checks what needs the whole file: names and aliases used
    /// twice, referenced files that are missing.
    fn finish(&self, rows: Vec<Row>) -> Result<Register, RegisterError> {
        let mut vendors = Vec::with_capacity(rows.len());
        // Folded name -> (vendor name, vendor line).
        let mut seen: HashMap<String, (String, usize)> = HashMap::new();
        for row in rows {
            let vendor = self.assemble(row)?;
            let mut own = Vec::new();
            for n in vendor.names() {
                let key = normalize(n);
                if key.is_empty() {
                    return Err(self.err(
                        vendor.line,
                        RegisterErrorKind::BadValue {
                            key: "aliases".into(),
                            expected: format!("a name with letters or digits, not {n:?}"),
                        },
                    ));
                }
                if own.contains(&key) {
                    continue;
                }
                if let Some((first, first_line)) = seen.get(&key) {
                    return Err(self.err(
                        vendor.line,
                        RegisterErrorKind::Duplicate {
                            name: n.to_string(),
                            first: first.clone(),
                            first_line: *first_line,
                        },
                    ));
                }
                own.push(key);
            }
            for key in own {
                seen.insert(key, (vendor.name.clone(), vendor.line));
            }
            vendors.push(vendor);
        }
        Ok(Register {
            file: self.file.to_string(),
            vendors,
        })
    }

    fn assemble(&self, row: Row) -> Result<Vendor, RegisterError> {
        let mut v = Vendor {
            name: String::new(),
            aliases: Vec::new(),
            services: Vec::new(),
            access: Access::default(),
            devices: Vec::new(),
            contract: None,
            baa: None,
            last_assessment: None,
            review_interval: ReviewInterval::DEFAULT,
            sbom: Vec::new(),
            mds2: Vec::new(),
            dicom_uid_roots: Vec::new(),
            notes: None,
            line: row.line,
        };
        for (key, line, value) in row.fields {
            let wrong = || {
                self.err(
                    line,
                    RegisterErrorKind::BadValue {
                        key: key.name().into(),
                        expected: "a value of another type".into(),
                    },
                )
            };
            match (key, value) {
                (Key::Name, Value::Text(t)) => v.name = t,
                (Key::Notes, Value::Text(t)) => v.notes = Some(t),
                (Key::Aliases, Value::List(l)) => v.aliases = l,
                (Key::Services, Value::List(l)) => v.services = l,
                (Key::RemoteAccess, Value::List(l)) => v.access.remote_access = l,
                (Key::NetworkSegments, Value::List(l)) => v.access.network_segments = l,
                (Key::DicomUidRoots, Value::List(l)) => {
                    if let Some(bad) = l.iter().find(|r| !is_uid_root(r)) {
                        return Err(self.err(line, RegisterErrorKind::BadUidRoot(bad.clone())));
                    }
                    v.dicom_uid_roots = l;
                }
                (Key::Sbom | Key::Mds2, Value::List(l)) => {
                    let mut paths = Vec::with_capacity(l.len());
                    for p in l {
                        let resolved = self.base.join(&p);
                        if !resolved.is_file() {
                            return Err(self.err(
                                line,
                                RegisterErrorKind::MissingFile {
                                    key: key.name().into(),
                                    path: p,
                                },
                            ));
                        }
                        paths.push(resolved);
                    }
                    if key == Key::Sbom {
                        v.sbom = paths;
                    } else {
                        v.mds2 = paths;
                    }
                }
                (Key::SharedCredentials, Value::Bool(b)) => v.access.shared_credentials = b,
                (Key::DefaultCredentials, Value::Bool(b)) => v.access.default_credentials = b,
                (Key::BadgeAccess, Value::Bool(b)) => v.access.badge_access = b,
                (Key::PatientData, Value::Bool(b)) => v.access.patient_data = b,
                (Key::PhysicalRecords, Value::Bool(b)) => v.access.physical_records = b,
                (Key::UpdateRights, Value::Bool(b)) => v.access.update_rights = b,
                (Key::LastAssessment, Value::Date(d)) => v.last_assessment = Some(d),
                (Key::ReviewInterval, Value::Interval(i)) => v.review_interval = i,
                (Key::Devices, Value::Devices(d)) => v.devices = d,
                (Key::Contract, Value::Status(s)) => {
                    v.contract = Some(match s {
                        "active" => ContractStatus::Active,
                        "pending" => ContractStatus::Pending,
                        "expired" => ContractStatus::Expired,
                        _ => ContractStatus::None,
                    })
                }
                (Key::Baa, Value::Status(s)) => {
                    v.baa = Some(match s {
                        "signed" => BaaStatus::Signed,
                        "pending" => BaaStatus::Pending,
                        "not-required" => BaaStatus::NotRequired,
                        _ => BaaStatus::None,
                    })
                }
                _ => return Err(wrong()),
            }
        }
        if v.name.trim().is_empty() {
            return Err(self.err(row.line, RegisterErrorKind::Missing("name".into())));
        }
        Ok(v)
    }
}

/// Converts the text of a value of `shape` (a CSV cell, or a TOML string where the shape is not
/// text): the one place the string rules live.
pub(crate) fn from_text(key: Key, text: &str) -> Result<Value, RegisterErrorKind> {
    let bad = |expected: &str| RegisterErrorKind::BadValue {
        key: key.name().into(),
        expected: expected.into(),
    };
    let text = text.trim();
    match key.def().shape {
        Shape::Text => Ok(Value::Text(text.to_string())),
        Shape::List | Shape::Paths => Ok(Value::List(split_list(text))),
        Shape::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" => Ok(Value::Bool(true)),
            "false" | "no" | "n" | "0" | "" => Ok(Value::Bool(false)),
            _ => Err(bad("true or false (yes or no)")),
        },
        Shape::Date => {
            parse_date(text)
                .map(Value::Date)
                .ok_or_else(|| RegisterErrorKind::BadDate {
                    key: key.name().into(),
                    value: text.to_string(),
                })
        }
        Shape::Interval => ReviewInterval::parse(text)
            .map(Value::Interval)
            .ok_or_else(|| RegisterErrorKind::BadInterval(text.to_string())),
        Shape::Status(words) => {
            let lower = text.to_ascii_lowercase();
            words
                .iter()
                .find(|w| **w == lower)
                .map(|w| Value::Status(w))
                .ok_or_else(|| bad(&format!("one of {}", words.join(", "))))
        }
        Shape::Devices => split_list(text)
            .iter()
            .map(|d| Device::parse(d).ok_or_else(|| bad("MODEL@FIRMWARE entries separated by ';'")))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Devices),
    }
}

/// `;`-separated items, trimmed, empty items dropped.
pub(crate) fn split_list(text: &str) -> Vec<String> {
    text.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A strict `YYYY-MM-DD` calendar date.
pub(crate) fn parse_date(text: &str) -> Option<Date> {
    let b = text.as_bytes();
    let shape_ok = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape_ok {
        return None;
    }
    text.parse::<Date>().ok()
}

fn is_uid_root(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 64
        && r.split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_and_parse_back() {
        for (i, d) in KEYS.iter().enumerate() {
            assert_eq!(Key::parse(d.name), Some(d.key));
            assert_eq!(d.key.def().name, d.name);
            assert!(KEYS[i + 1..]
                .iter()
                .all(|o| o.name != d.name && o.key != d.key));
            assert!(!d.doc.is_empty());
        }
    }

    #[test]
    fn intervals() {
        let p = ReviewInterval::parse;
        assert_eq!(
            p("12 months"),
            Some(ReviewInterval {
                count: 12,
                unit: Unit::Months
            })
        );
        assert_eq!(
            p("1 year"),
            Some(ReviewInterval {
                count: 1,
                unit: Unit::Years
            })
        );
        assert_eq!(
            p(" 90 "),
            Some(ReviewInterval {
                count: 90,
                unit: Unit::Days
            })
        );
        assert_eq!(
            p("2 Weeks"),
            Some(ReviewInterval {
                count: 2,
                unit: Unit::Weeks
            })
        );
        for bad in [
            "",
            "0 days",
            "12 moons",
            "twelve months",
            "11 years",
            "-3 days",
            "1 month ago",
        ] {
            assert_eq!(p(bad), None, "{bad}");
        }
        let d: Date = "2025-01-31".parse().unwrap();
        assert_eq!(
            p("1 month").unwrap().after(d).unwrap().to_string(),
            "2025-02-28"
        );
        assert_eq!(
            p("365").unwrap().after(d).unwrap().to_string(),
            "2026-01-31"
        );
    }

    #[test]
    fn dates_are_strict() {
        assert!(parse_date("2026-02-28").is_some());
        for bad in [
            "2026-02-30",
            "2026-2-28",
            "28/02/2026",
            "2026-02-28T00:00",
            "",
        ] {
            assert!(parse_date(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn devices_parse() {
        assert_eq!(
            Device::parse(" Model X @ 1.2 "),
            Some(Device {
                model: "Model X".into(),
                firmware: Some("1.2".into())
            })
        );
        assert_eq!(Device::parse("Badge reader").unwrap().firmware, None);
        assert_eq!(Device::parse("@1.0"), None);
        assert_eq!(Device::parse("X@"), None);
    }
}
