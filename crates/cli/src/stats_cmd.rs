//! `medsurface stats`: counts of distinct services, grouped, like the research's figures (the
//! country ranking of exposed DICOM servers, the share owned by universities).
//!
//! A service is one (address, port, transport) whatever the number of sightings or sources, so
//! a host seen by a scan and in two Shodan exports counts once. Services without a value for
//! the grouping field are counted under "unknown", never dropped. Services are enriched as they
//! are read (country, ASN and organisation from MaxMind databases where the source named none,
//! and the organisation type from knowledge/org-types.toml), so `--by country|asn|org_type`
//! works on imports that carry no location. They are assessed like reports assess them, and
//! services flagged likely-honeypot are left out of the counts unless `--include-honeypots`.
//!
//! The store is read twice and never held whole (a large import's details would not fit): a
//! first pass builds the compact honeypot index the set-wide signs need, a second reads the
//! services in chunks, prepares each against it, counts and drops it.

use std::collections::BTreeMap;

use anyhow::Result;
use medsurface_analyze::risk::HoneypotIndexBuilder;
use medsurface_model::classify::Category;
use medsurface_model::{Service, Timestamp};
use medsurface_store::{ServiceFilter, SqliteStore, Store, StoredService};

use crate::cli::{StatsArgs, StatsBy};
use crate::exit::{Exit, InputError};
use crate::scan_cmd::db_path;
use crate::view::{Notes, View};

const UNKNOWN: &str = "unknown";

pub fn run(args: StatsArgs) -> Result<Exit> {
    let db = db_path(args.store.db.clone())?;
    if let Some(c) = &args.category {
        if Category::parse(c).is_none() {
            let names: Vec<&str> = Category::ALL.iter().map(|c| c.as_str()).collect();
            return Err(InputError(format!(
                "--category {c:?}: not a category (one of {})",
                names.join(", ")
            ))
            .into());
        }
    }
    let since = args.since.as_deref().map(parse_since).transpose()?;
    let store = SqliteStore::open(&db)?;
    let view = View::load(&args.view)?;
    let grouping = Grouping {
        by: args.by,
        category: args.category.as_deref(),
        since,
    };
    let counted = count(&store, &view, grouping)?;
    let honeypots = counted.honeypots;
    let groups = counted.groups;
    let total: u64 = groups.iter().map(|(_, n)| n).sum();
    let shown = &groups[..groups.len().min(args.top)];
    let by = by_name(args.by);
    if let Some(path) = &args.svg {
        write_svg(path, by, args.category.as_deref(), shown)?;
    }
    if args.json {
        for (key, n) in shown {
            println!("{}", serde_json::json!({ by: key, "services": n }));
        }
    } else if args.csv {
        println!("{by},services,share");
        for (key, n) in shown {
            println!(
                "{},{n},{:.4}",
                csv_field(key),
                *n as f64 / total.max(1) as f64
            );
        }
    } else {
        let mut table = comfy_table::Table::new();
        table.load_style(comfy_table::presets::UTF8_FULL_CONDENSED);
        table.set_header([by, "services", "share"]);
        for (key, n) in shown {
            table.add_row([
                key.clone(),
                n.to_string(),
                format!("{:.1} %", 100.0 * *n as f64 / total.max(1) as f64),
            ]);
        }
        println!("{table}");
        eprintln!(
            "medsurface: {total} services in {} groups{}",
            groups.len(),
            if groups.len() > shown.len() {
                format!(", top {} shown", shown.len())
            } else {
                String::new()
            }
        );
    }
    if honeypots > 0 {
        eprintln!(
            "medsurface: {honeypots} service(s) flagged likely-honeypot left out \
             (--include-honeypots counts them)"
        );
    }
    Ok(Exit::Ok)
}

/// How services are grouped and which are counted.
#[derive(Debug, Clone, Copy)]
pub struct Grouping<'a> {
    pub by: StatsBy,
    pub category: Option<&'a str>,
    pub since: Option<Timestamp>,
}

/// Groups, largest first (ties by name, so the order is stable).
pub fn rank(services: &[StoredService], g: Grouping<'_>) -> Vec<(String, u64)> {
    let mut tally = Tally::new(g);
    for s in services {
        tally.add(&s.service, s.last_seen);
    }
    tally.ranked()
}

/// Counts per group, one service at a time.
#[derive(Debug)]
pub struct Tally<'a> {
    grouping: Grouping<'a>,
    groups: BTreeMap<String, u64>,
}

impl<'a> Tally<'a> {
    pub fn new(grouping: Grouping<'a>) -> Self {
        Tally {
            grouping,
            groups: BTreeMap::new(),
        }
    }

    /// Counts a service last seen at `last_seen`, if the grouping counts it.
    pub fn add(&mut self, s: &Service, last_seen: Timestamp) {
        let g = &self.grouping;
        if g.since.is_some_and(|t| last_seen < t) {
            return;
        }
        if g.category.is_some_and(|c| s.category.as_deref() != Some(c)) {
            return;
        }
        let key = key(s, g.by).unwrap_or_else(|| UNKNOWN.to_string());
        *self.groups.entry(key).or_default() += 1;
    }

    /// The groups, largest first (ties by name).
    pub fn ranked(self) -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = self.groups.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }
}

/// Services prepared and assessed at a time in the second pass: bounds memory (a chunk of
/// records with their details) while keeping the per-chunk work large enough to spread over
/// the cores.
const CHUNK: usize = 10_000;

/// What [`count`] found.
struct Counted {
    groups: Vec<(String, u64)>,
    /// Services left out as likely honeypots.
    honeypots: u64,
}

/// Reads the store twice, never holding more than one [`CHUNK`] of records: once for the
/// honeypot index (clusters of identical answers and ports per address need the whole set),
/// then in chunks that are enriched, assessed against the index exactly as the whole set would
/// be, counted and dropped.
fn count(store: &SqliteStore, view: &View, grouping: Grouping<'_>) -> Result<Counted> {
    let all = ServiceFilter::default();
    let mut index = view.honeypot_index();
    // Only the details the index reads are parsed in this pass.
    store.for_each_service_details(&all, &HoneypotIndexBuilder::reads_detail, &mut |s| {
        index.add(&s.service);
        Ok(())
    })?;
    let index = index.finish();

    // Pass 2, on this thread (a reader thread feeding a preparing one was measured: no faster
    // on two cores, and half again the CPU time, records being freed away from the thread that
    // allocated them).
    let mut tally = Tally::new(grouping);
    let mut notes = Notes::default();
    let mut honeypots = 0u64;
    let mut read = 0usize;
    let mut chunk: Vec<Service> = Vec::with_capacity(CHUNK);
    let mut seen: Vec<Timestamp> = Vec::with_capacity(CHUNK);
    let mut flush = |chunk: &mut Vec<Service>, seen: &mut Vec<Timestamp>| {
        view.prepare_chunk(chunk, &index, &mut notes);
        for (s, last_seen) in chunk.drain(..).zip(seen.drain(..)) {
            // Headline numbers leave out likely honeypots unless asked (--include-honeypots).
            if view.counts(&s) {
                tally.add(&s, last_seen);
            } else {
                honeypots += 1;
            }
        }
    };
    store.for_each_service(&all, &mut |s| {
        read += 1;
        chunk.push(s.service);
        seen.push(s.last_seen);
        if chunk.len() == CHUNK {
            flush(&mut chunk, &mut seen);
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        flush(&mut chunk, &mut seen);
    }
    if read != index.services() {
        anyhow::bail!(
            "the store changed while it was read ({} services, then {read}): run stats again",
            index.services()
        );
    }
    notes.report();
    Ok(Counted {
        groups: tally.ranked(),
        honeypots,
    })
}

fn key(s: &Service, by: StatsBy) -> Option<String> {
    match by {
        StatsBy::Country => s.country.clone(),
        StatsBy::Org => s.org.clone(),
        StatsBy::OrgType => s.org_type.clone(),
        StatsBy::Asn => s.asn.clone(),
        StatsBy::Category => s.category.clone(),
        StatsBy::Vendor => s.vendor.clone(),
        StatsBy::Product => match (&s.vendor, &s.product) {
            (Some(v), Some(p)) => Some(format!("{v} {p}")),
            (None, Some(p)) => Some(p.clone()),
            _ => None,
        },
    }
}

fn by_name(by: StatsBy) -> &'static str {
    match by {
        StatsBy::Country => "country",
        StatsBy::Org => "org",
        StatsBy::OrgType => "org_type",
        StatsBy::Asn => "asn",
        StatsBy::Category => "category",
        StatsBy::Vendor => "vendor",
        StatsBy::Product => "product",
    }
}

/// The ranking as an SVG bar chart (drawn by medsurface-report, the same charts as reports).
fn write_svg(
    path: &std::path::Path,
    by: &str,
    category: Option<&str>,
    rows: &[(String, u64)],
) -> Result<()> {
    use anyhow::Context;
    let title = match category {
        Some(c) => format!("Exposed {c} services by {by}"),
        None => format!("Exposed services by {by}"),
    };
    let svg = medsurface_report::bar_chart_svg(&title, rows)?;
    std::fs::write(path, svg).with_context(|| format!("writing --svg {}", path.display()))?;
    Ok(())
}

fn parse_since(s: &str) -> Result<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(t);
    }
    // A plain date means its first instant, in UTC.
    format!("{s}T00:00:00Z").parse::<Timestamp>().map_err(|_| {
        InputError(format!(
            "--since {s:?}: expected YYYY-MM-DD or an RFC 3339 time"
        ))
        .into()
    })
}

/// A CSV field: quoted when needed, and a leading = + - @ neutralised so a spreadsheet never
/// runs peer text as a formula.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_field("Example University"), "Example University");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_field("-1"), "'-1");
    }

    #[test]
    fn since_takes_dates_and_times() {
        assert_eq!(
            parse_since("2026-01-02").unwrap(),
            "2026-01-02T00:00:00Z".parse().unwrap()
        );
        assert!(parse_since("2026-01-02T03:04:05Z").is_ok());
        assert!(parse_since("yesterday").is_err());
    }
}
