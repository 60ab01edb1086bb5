//! The read side of the pipeline: what every command that shows results (`stats`, `report`,
//! `diff`, `vendors report`) does to stored services before showing them — enrich them
//! (GeoIP country and ASN, organisation type) and assess them (known vulnerabilities, honeypot
//! likelihood, flags, DREAD). Doing it on read, in one place, means a new rubric or a newer
//! GeoIP database applies to everything already stored, and no two commands disagree.

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use medsurface_analyze::cpe_names::CpeNames;
use medsurface_analyze::enrich::{DbPaths, Enricher};
use medsurface_analyze::risk::{
    merge_vulns, Assessor, HoneypotIndex, HoneypotIndexBuilder, HoneypotRules, KnownVulns, Rubric,
    Vocabulary,
};
use medsurface_model::Service;
use medsurface_vulndb::VulnDb;

use crate::config::Config;
use crate::exit::InputError;

/// Options shared by the commands that show results.
#[derive(Debug, Args, Clone, Default)]
pub struct ViewArgs {
    /// A MaxMind GeoIP2/GeoLite2 City or Country database: fills the country (and city) of
    /// services whose source did not say ($MEDSURFACE_GEOIP_DB, or geoip_db in the config).
    #[arg(long, value_name = "PATH", env = "MEDSURFACE_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,

    /// A MaxMind GeoLite2 ASN database: fills the ASN and AS organisation
    /// ($MEDSURFACE_ASN_DB, or asn_db in the config).
    #[arg(long, value_name = "PATH", env = "MEDSURFACE_ASN_DB")]
    pub asn_db: Option<PathBuf>,

    /// A DREAD rubric file to use instead of the built-in risk/dread.toml.
    #[arg(long, value_name = "FILE")]
    pub rubric: Option<PathBuf>,

    /// Count services flagged likely-honeypot in headline numbers (they are left out by
    /// default).
    #[arg(long)]
    pub include_honeypots: bool,

    /// OSV advisories (JSON files or directories of them), matched against vendors' SBOMs.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub osv: Vec<PathBuf>,

    /// NVD CVE JSON 2.0 feeds (plain or .gz): matched against SBOM components, and against the
    /// products services run (by CPE vendor and product).
    #[arg(long, value_name = "PATH", num_args = 1..)]
    pub nvd: Vec<PathBuf>,

    /// The CISA Known Exploited Vulnerabilities catalogue (JSON): marks matched
    /// vulnerabilities as known exploited.
    #[arg(long, value_name = "PATH")]
    pub kev: Option<PathBuf>,
}

/// The loaded read-side stages.
pub struct View {
    enricher: Enricher,
    assessor: Assessor,
    pub include_honeypots: bool,
    /// Where the rubric came from, for a report's method section.
    pub rubric_source: String,
    /// The offline vulnerability files the user gave.
    pub vuln_sources: medsurface_supply::VulnSources,
    /// Those files loaded, when NVD or KEV data was given: matched against the products
    /// services run (by CPE vendor and product) and used to mark known-exploited links.
    vulndb: Option<VulnDb>,
    /// How NVD and KEV name the signatures' products (`knowledge/cpe-names.toml`).
    cpe_names: CpeNames,
}

fn input(what: &str, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::Error::new(InputError(format!("{what}: {e}")))
}

impl View {
    pub fn load(args: &ViewArgs) -> Result<View> {
        let config = Config::load()?;
        let geoip = args.geoip_db.clone().or(config.geoip_db);
        let asn = args.asn_db.clone().or(config.asn_db);
        let enricher = Enricher::open(DbPaths {
            geoip: geoip.as_deref(),
            asn: asn.as_deref(),
        })
        .map_err(|e| input("enrichment", e))?;
        let (rubric, rubric_source) = match &args.rubric {
            None => (
                Rubric::builtin().context("the built-in rubric does not load")?,
                "risk/dread.toml (built in)".to_owned(),
            ),
            Some(path) => (
                Rubric::load(path, &Vocabulary::service()).map_err(|e| input("--rubric", e))?,
                path.display().to_string(),
            ),
        };
        let vulndb = if args.nvd.is_empty() && args.kev.is_none() {
            None
        } else {
            let mut db = VulnDb::new();
            for path in args.nvd.iter().chain(&args.kev) {
                db.load(path).map_err(|e| input("vulnerability data", e))?;
            }
            Some(db)
        };
        let assessor = Assessor::new(
            rubric,
            KnownVulns::builtin().context("the built-in vulnerability file does not load")?,
            HoneypotRules::builtin().context("the built-in honeypot file does not load")?,
        );
        Ok(View {
            enricher,
            assessor,
            include_honeypots: args.include_honeypots,
            rubric_source,
            vuln_sources: medsurface_supply::VulnSources {
                osv: args.osv.clone(),
                nvd: args.nvd.clone(),
                kev: args.kev.clone(),
            },
            vulndb,
            cpe_names: CpeNames::builtin().context("the built-in CPE names file does not load")?,
        })
    }

    /// The built-in stages without databases or user files (the demo's).
    pub fn builtin() -> Result<View> {
        Ok(View {
            enricher: Enricher::open(DbPaths {
                geoip: None,
                asn: None,
            })
            .context("the built-in organisation-type rules do not load")?,
            assessor: Assessor::builtin().context("the built-in assessment data does not load")?,
            include_honeypots: false,
            rubric_source: "risk/dread.toml (built in)".to_owned(),
            vuln_sources: medsurface_supply::VulnSources::default(),
            vulndb: None,
            cpe_names: CpeNames::builtin().context("the built-in CPE names file does not load")?,
        })
    }

    /// Enriches then assesses the services in place. A lookup that fails (corrupt database
    /// data) leaves that service unenriched and is reported once on stderr.
    pub fn prepare(&self, services: &mut [Service]) {
        let mut notes = Notes::default();
        self.enrich_and_link(services, &mut notes);
        self.assessor.assess(services);
        notes.report();
    }

    /// The first pass of preparing a set too large for memory: feed every service of the set
    /// (as stored: enrichment adds nothing the honeypot index reads) to this builder, then
    /// prepare the set chunk by chunk with [`View::prepare_chunk`] against the finished index.
    pub fn honeypot_index(&self) -> HoneypotIndexBuilder<'_> {
        self.assessor.honeypots().index()
    }

    /// [`View::prepare`] of one chunk of a set whose every service was fed to `index`: each
    /// service comes out as `prepare` of the whole set leaves it. What there is to say goes to
    /// `notes`, to be reported once after the last chunk.
    pub fn prepare_chunk(&self, chunk: &mut [Service], index: &HoneypotIndex, notes: &mut Notes) {
        self.enrich_and_link(chunk, notes);
        self.assessor.assess_with(chunk, index);
    }

    /// Enrichment, then the NVD/KEV links when feeds were given.
    fn enrich_and_link(&self, services: &mut [Service], notes: &mut Notes) {
        for s in services.iter_mut() {
            if let Err(e) = self.enricher.enrich(s) {
                notes.enrich_failed += 1;
                notes
                    .enrich_first
                    .get_or_insert_with(|| format!("{}: {e}", s.ip));
            }
        }
        if let Some(db) = &self.vulndb {
            for s in services.iter_mut() {
                if let Some(what) = link_feed_vulns(db, &self.cpe_names, self.assessor.vulns(), s) {
                    notes.unclaimed += 1;
                    notes.unclaimed_first.get_or_insert(what);
                }
            }
        }
    }

    /// Whether a service counts in headline numbers.
    pub fn counts(&self, s: &Service) -> bool {
        self.include_honeypots || !is_likely_honeypot(s)
    }
}

/// Adds the NVD/KEV vulnerabilities of the product a service runs and marks every linked
/// vulnerability CISA lists as known exploited.
///
/// The feeds are queried with the product's CPE names from `knowledge/cpe-names.toml` (NVD writes
/// Orthanc as `orthanc-server:orthanc`, not as the signature's "Orthanc project" / "Orthanc"), plus
/// its KEV spelling where the table gives one; a product the table does not list is queried by its
/// signature names, which is right for the few whose names are NVD's own.
///
/// What is claimed follows the curated file's rule, "version unknown → do not claim": only
/// advisories whose affected range was compared with the service's version are added. That also
/// leaves out KEV entries that no loaded NVD record describes, since KEV carries no versions: CISA
/// listing a CVE for Mirth Connect says some version is exploited, not that the 4.5.0 on this
/// port is, and claiming it would put a fixed server in the known-exploited count and raise its
/// exploitability on no evidence. Such entries (and KEV-listed CVEs of a service whose version is
/// unknown) are returned, as `CVE on ip:port (vendor product)` for the first of them, so the
/// command can say that they exist and what to load to check them; a KEV entry still marks a
/// claimed CVE as known exploited.
fn link_feed_vulns(
    db: &VulnDb,
    names: &CpeNames,
    known: &KnownVulns,
    s: &mut Service,
) -> Option<String> {
    let mut found = Vec::new();
    let mut skipped_kev: Vec<String> = Vec::new();
    let mut unclaimed = None;
    if let (Some(vendor), Some(product)) = (s.vendor.as_deref(), s.product.as_deref()) {
        let cpe = names.lookup(vendor, product);
        let queries = cpe
            .iter()
            .map(|c| (c.vendor.as_str(), c.product.as_str()))
            .chain(
                names
                    .kev_names(vendor, product)
                    .iter()
                    .map(|k| (k.vendor_project.as_str(), k.product.as_str())),
            )
            .chain(cpe.is_empty().then_some((vendor, product)));
        for (v, p) in queries {
            for a in db.advisories_for_product(v, p, s.version.as_deref()) {
                if a.evidence.version_checked {
                    found.push(a.vulnerability);
                } else if db.is_known_exploited(&a.vulnerability.id, &a.aliases) {
                    skipped_kev.push(a.vulnerability.id);
                }
            }
        }
        skipped_kev.retain(|id| !found.iter().any(|v| &v.id == id));
        unclaimed = skipped_kev
            .first()
            .map(|id| format!("{id} on {}:{} ({vendor} {product})", s.ip, s.port));
    }
    merge_vulns(&mut s.vulnerabilities, found, known);
    for v in &mut s.vulnerabilities {
        if !v.known_exploited && db.is_known_exploited(&v.id, &[]) {
            v.known_exploited = true;
        }
    }
    unclaimed
}

/// What preparing services had to say (failed lookups, vulnerabilities the feeds could not
/// claim), gathered over chunks and said once.
#[derive(Debug, Default)]
pub struct Notes {
    enrich_failed: usize,
    enrich_first: Option<String>,
    unclaimed: usize,
    unclaimed_first: Option<String>,
}

impl Notes {
    /// Says it on stderr (nothing when there is nothing to say).
    pub fn report(self) {
        if let Some(first) = self.enrich_first {
            eprintln!(
                "medsurface: warning: enrichment failed for {} service(s), first: {first}",
                self.enrich_failed
            );
        }
        if let Some(first) = self.unclaimed_first {
            eprintln!(
                "medsurface: note: {} service(s) run a product with vulnerabilities \
                 CISA KEV lists that the feeds could not claim, no version being checked \
                 (first: {first}); give --nvd the NVD feeds of those years, and look at \
                 versions by hand",
                self.unclaimed
            );
        }
    }
}

pub fn is_likely_honeypot(s: &Service) -> bool {
    s.flags.iter().any(|f| f == "likely-honeypot")
}
