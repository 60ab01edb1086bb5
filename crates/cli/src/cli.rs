//! Command-line definitions: one struct per command, nothing else. Validation that needs more
//! than clap's value parsers (targets, exclusions, shards against the space) lives in `plan`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "medsurface",
    version,
    about = "Find a hospital's exposed medical systems, prove what they expose without touching patient data, and rate the risk.",
    after_help = "Scan only networks you are authorised to test. Reserved ranges are refused; see conf/exclude.conf."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Discover open ports on the targets and probe what answers.
    Scan(Box<ScanArgs>),
    /// List past scans in the store.
    Scans(ScansArgs),
    /// Import Shodan, Censys, nmap, masscan or zgrab2 data (plain or gzip); the records are
    /// classified like live scans and stored as sightings of their services.
    Ingest(IngestArgs),
    /// Count distinct services by country, organisation, ASN, category, vendor or product.
    Stats(StatsArgs),
    /// Query the Shodan API (search or one host) and import the banners like `ingest shodan`
    /// (API key: $SHODAN_API_KEY or shodan_api_key in the config file).
    Shodan(ShodanArgs),
    /// The vendor register: check it, or rate each vendor's risk against the stored services
    /// and the SBOMs and MDS2 forms on file (format: docs/vendor-register.md).
    Vendors(VendorsArgs),
    /// Write a report (HTML with charts, Markdown, CSV or JSON) of the stored services, rated.
    Report(ReportArgs),
    /// What changed between two scans: new, resolved and changed services, and risk changes.
    Diff(DiffArgs),
    /// Run the whole pipeline on a simulated hospital network on loopback.
    Demo(DemoArgs),
    /// Serve simulated hospital services on loopback (used by the demo, tests and benchmarks).
    #[command(hide = true)]
    Lab(LabArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// DICOM, HL7, Orthanc, web, FHIR and clinical database ports (the README lists each with
    /// its reason).
    Medical,
}

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// The results store: a SQLite file (default: medsurface.db in the user's data directory,
    /// or $MEDSURFACE_DB).
    #[arg(long, value_name = "PATH", env = "MEDSURFACE_DB")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Addresses, CIDRs (192.0.2.0/24, 2001:db8::/64), ranges (a-b), host names, or @FILE with
    /// one target per line (# comments allowed).
    #[arg(value_name = "TARGET", required_unless_present = "resume")]
    pub targets: Vec<String>,

    /// Ports to probe: a list with ranges, e.g. 104,4242,11112,8000-8100.
    #[arg(short, long, value_name = "LIST", conflicts_with = "profile")]
    pub ports: Option<String>,

    /// A named port set instead of --ports (default: medical).
    #[arg(long, value_enum)]
    pub profile: Option<Profile>,

    /// Probes per second, smooth (a number, or "unlimited").
    #[arg(long, value_name = "N", default_value = "1000")]
    pub rate: String,

    /// Connections in flight at most (capped by the open-files limit).
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub concurrency: usize,

    /// Connect timeout in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    pub timeout: u64,

    /// Retries after a timeout (other failures are not retried).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u8,

    /// How long an application probe waits for an answer, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 2000)]
    pub read_timeout: u64,

    /// More ranges to exclude, one CIDR per line with a note (conf/exclude.conf format).
    #[arg(long, value_name = "FILE")]
    pub exclude: Vec<PathBuf>,

    /// Allow private-use ranges (RFC 1918, ULA, link-local): for teams scanning their own
    /// internal networks.
    #[arg(long)]
    pub allow_private: bool,

    /// Scan only shard I of N (1-based); the N shards together cover the space exactly once.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,

    /// Seed of the probe order (default: random). Shards of one scan must share it.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,

    /// Stream one JSON service record per line on stdout.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub dicom: DicomArgs,

    /// Use probe NAME on these ports instead of the registry's choice, e.g. `--probe http:24080`
    /// or `--probe hl7:7777,7778` (names: banner, dicom, http, tls, hl7, postgresql, mysql,
    /// redis, mongodb, elasticsearch). Repeatable.
    #[arg(long = "probe", value_name = "NAME:PORTS")]
    pub probes: Vec<String>,

    /// Opt-in: ask FHIR servers for the number of Patient records (`_summary=count`); only the
    /// total is read and kept, whatever else the server sends.
    #[arg(long)]
    pub count_records: bool,

    /// A directory of extra signature files (TOML, same format as signatures/), used besides
    /// the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,

    /// Finish an interrupted or killed scan, without repeating recorded probes. Targets, ports,
    /// seed and shard come from the stored scan; rate, concurrency and timeouts from this
    /// command line.
    #[arg(long, value_name = "SCAN_ID", conflicts_with_all = ["targets", "ports", "profile", "shard", "seed"])]
    pub resume: Option<i64>,

    #[command(flatten)]
    pub store: StoreArgs,

    /// Exit 1 when a service this scan found is rated at or above this band (after
    /// enrichment and assessment, as `report` rates it).
    #[arg(long, value_enum, value_name = "BAND")]
    pub fail_on: Option<FailOn>,

    #[command(flatten)]
    pub view: crate::view::ViewArgs,
}

#[derive(Debug, Args)]
pub struct ScansArgs {
    /// Print one JSON object per scan instead of a table.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the demo's results in this store (default: a fresh file in a temporary directory).
    #[arg(long, value_name = "PATH")]
    pub db: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LabArgs {
    /// Services to serve, as KIND@ADDRESS:PORT (kinds: see `medsurface lab --list`).
    #[arg(value_name = "KIND@ADDR:PORT", required_unless_present = "list")]
    pub services: Vec<String>,

    /// List the kinds of simulated service.
    #[arg(long)]
    pub list: bool,
}

/// Options of the DICOM probe. Every association names medsurface (its calling AE title and its
/// own implementation class UID), so a hospital can recognise the scanner.
#[derive(Debug, Args, Clone, serde::Serialize, serde::Deserialize)]
#[command(next_help_heading = "DICOM probe")]
pub struct DicomArgs {
    /// Calling AE title of every association.
    #[arg(long, value_name = "AE", default_value = "MEDSURFACE")]
    pub calling_ae: String,

    /// Called AE title of the main association.
    #[arg(long, value_name = "AE", default_value = "ANY-SCP")]
    pub called_ae: String,

    /// Opt-in: when the main association is rejected, try these known AE titles as the called
    /// AE (one per line; "builtin" for the shipped list, knowledge/dicom-ae-titles.txt).
    #[arg(long, value_name = "FILE")]
    pub ae_titles: Option<String>,

    /// Opt-in: count the studies a universal query matches (the count only; no record is
    /// kept), up to a cap.
    #[arg(long)]
    pub count_studies: bool,

    /// Speak DICOM inside TLS on every DICOM port (default: only on 2762, DICOM TLS).
    #[arg(long)]
    pub dicom_tls: bool,

    /// Skip the two extra associations with a random called and a random calling AE title
    /// (then `dicom.accepts_any_ae` is not reported): one association per server, as nmap's
    /// dicom-ping does.
    #[arg(long)]
    #[serde(default)]
    pub no_ae_checks: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IngestFormat {
    /// Shodan banners, newline-delimited JSON (shodan download / shodan parse)
    Shodan,
    /// Censys hosts with services[]
    Censys,
    /// nmap -oX XML (dicom-ping script output included)
    Nmap,
    /// masscan -oJ, -oD or -oL
    Masscan,
    /// zgrab2 JSON, one object per target
    Zgrab2,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    #[arg(value_enum)]
    pub format: IngestFormat,

    /// Files to import (plain or gzip, detected by content).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// Stop at the first malformed record instead of counting it and going on.
    #[arg(long)]
    pub strict: bool,

    /// A directory of extra signature files, used besides the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StatsBy {
    Country,
    Org,
    /// university, hospital, cloud, isp, government or other (knowledge/org-types.toml); the
    /// record field is `org_type`, so that is the name (`org-type` is accepted too).
    #[value(name = "org_type", alias = "org-type")]
    OrgType,
    Asn,
    Category,
    Vendor,
    Product,
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// What to count by.
    #[arg(long, value_enum)]
    pub by: StatsBy,

    /// Only services of this category (imaging, emr, pharmacy, scheduling, admin-console,
    /// interface, database, medical-device, other).
    #[arg(long, value_name = "C")]
    pub category: Option<String>,

    /// Show the N largest groups.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// Only services seen on or after this date (YYYY-MM-DD or RFC 3339).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,

    /// One JSON object per group on stdout.
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,

    /// CSV on stdout.
    #[arg(long)]
    pub csv: bool,

    /// Also draw the groups shown as an SVG bar chart into FILE (like the research's "top 20
    /// countries" figure).
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// Enrichment, assessment and honeypot handling, as in reports.
    #[command(flatten)]
    pub view: crate::view::ViewArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ShodanArgs {
    #[command(subcommand)]
    pub command: ShodanCommand,
}

#[derive(Debug, Subcommand)]
pub enum ShodanCommand {
    /// Search Shodan (same query syntax as the website) and import the matching banners, one
    /// page of 100 per request, at most one request per second. Filters and pages beyond the
    /// first spend query credits.
    Search(ShodanSearchArgs),
    /// Import every banner Shodan holds for one address.
    Host(ShodanHostArgs),
}

#[derive(Debug, Args)]
pub struct ShodanSearchArgs {
    /// The search query, e.g. '"DICOM Server Response" port:104' (several words are joined
    /// with spaces).
    #[arg(value_name = "QUERY", required = true)]
    pub query: Vec<String>,

    /// Fetch pages 1 to N (100 banners each); stops early when the results run out.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub pages: u32,

    #[command(flatten)]
    pub api: ShodanApiArgs,

    /// A directory of extra signature files, used besides the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ShodanHostArgs {
    /// The address to look up.
    #[arg(value_name = "IP")]
    pub ip: std::net::IpAddr,

    #[command(flatten)]
    pub api: ShodanApiArgs,

    /// A directory of extra signature files, used besides the built-in ones.
    #[arg(long, value_name = "DIR")]
    pub signatures: Option<PathBuf>,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ShodanApiArgs {
    /// Base URL of the Shodan API (default: shodan_api_url in the config file, else
    /// https://api.shodan.io). Plain http is accepted only for loopback addresses.
    #[arg(long, value_name = "URL", env = "MEDSURFACE_SHODAN_URL")]
    pub api_url: Option<String>,

    /// Give up on a request after this many seconds (connecting takes at most 10 s of them).
    #[arg(long, value_name = "SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
}

#[derive(Debug, Args)]
pub struct VendorsArgs {
    #[command(subcommand)]
    pub command: VendorsCommand,
}

#[derive(Debug, Subcommand)]
pub enum VendorsCommand {
    /// Validate a vendor register (TOML or CSV) and list its vendors; errors name file and line.
    Check(VendorsCheckArgs),
    /// Rate each vendor: access held (register) x services exposed (store) x vulnerable device
    /// components (SBOMs) x MDS2 gaps; vendors missing from the register are called out.
    Report(VendorsReportArgs),
}

#[derive(Debug, Args)]
pub struct VendorsCheckArgs {
    /// The register: a .toml or .csv file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,

    /// Judge reviews as of this date, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,
}

#[derive(Debug, Args)]
pub struct VendorsReportArgs {
    /// The register: a .toml or .csv file.
    #[arg(long, value_name = "FILE")]
    pub register: PathBuf,

    /// Judge reviews as of this date, YYYY-MM-DD (default: today).
    #[arg(long, value_name = "DATE")]
    pub today: Option<String>,

    /// One JSON object per vendor on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Enrichment, assessment and the offline vulnerability data (--osv, --nvd, --kev) matched
    /// against the vendors' SBOMs.
    #[command(flatten)]
    pub view: crate::view::ViewArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}

/// A severity band for `--fail-on`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Low,
    Medium,
    High,
    Critical,
}

impl From<FailOn> for medsurface_model::Severity {
    fn from(f: FailOn) -> Self {
        match f {
            FailOn::Low => medsurface_model::Severity::Low,
            FailOn::Medium => medsurface_model::Severity::Medium,
            FailOn::High => medsurface_model::Severity::High,
            FailOn::Critical => medsurface_model::Severity::Critical,
        }
    }
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier scan's id (see `medsurface scans`).
    #[arg(value_name = "SCAN_A")]
    pub scan_a: i64,

    /// The later scan's id.
    #[arg(value_name = "SCAN_B")]
    pub scan_b: i64,

    /// One JSON object per change on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Exit 1 when a new or changed service of SCAN_B is at or above this band.
    #[arg(long, value_enum, value_name = "BAND")]
    pub fail_on: Option<FailOn>,

    #[command(flatten)]
    pub view: crate::view::ViewArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// html (one self-contained file with charts), md, csv or json.
    #[arg(long, value_name = "FORMAT", default_value = "html")]
    pub format: String,

    /// Where to write the report.
    #[arg(long, short, value_name = "PATH")]
    pub output: PathBuf,

    /// Only the services this scan observed, as it saw them (default: every stored service, as
    /// last seen).
    #[arg(long, value_name = "ID")]
    pub scan: Option<i64>,

    /// A vendor register (.toml or .csv, see docs/vendor-register.md): adds the supply-chain
    /// section.
    #[arg(long, value_name = "FILE")]
    pub vendors: Option<PathBuf>,

    /// The report's title.
    #[arg(long, value_name = "TEXT")]
    pub title: Option<String>,

    /// At most N rows in the HTML and Markdown findings tables (highest risk first; CSV and
    /// JSON always hold every service); 0 shows all.
    #[arg(long, value_name = "N", default_value_t = 500)]
    pub limit: usize,

    /// Exit 1 when a finding at or above this band is in the report.
    #[arg(long, value_enum, value_name = "BAND")]
    pub fail_on: Option<FailOn>,

    #[command(flatten)]
    pub view: crate::view::ViewArgs,

    #[command(flatten)]
    pub store: StoreArgs,
}
