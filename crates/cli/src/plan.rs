//! One validated scan plan, built before any packet leaves.
//!
//! A [`PlanSpec`] is what the user asked for, in a form that can be stored with the scan; a
//! [`Plan`] is the spec checked and expanded: targets parsed and resolved, exclusions applied
//! (every exclusion reported, never silent), ports, shard and rate validated. `--resume` rebuilds
//! the plan from the stored spec and refuses to go on if the probe space is no longer the same
//! (a target file edited, a host name that now resolves elsewhere), because then the stored
//! checkpoint would describe other probes.

use std::num::NonZeroU32;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use medsurface_model::Shard;
use medsurface_scan::{
    parse_ports, parse_targets, ExclusionList, ExclusionNote, ExclusionPolicy, ProbeContext,
    ProbeSpace, RateLimit,
};
use serde::{Deserialize, Serialize};

use crate::cli::{DicomArgs, Profile, ScanArgs};
use crate::exit::InputError;

/// What the user asked for; stored as the scan's plan so `--resume` can rebuild it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanSpec {
    pub targets: Vec<String>,
    pub ports: String,
    pub exclude: Vec<PathBuf>,
    pub allow_private: bool,
    pub seed: u64,
    pub shard: Shard,
    pub rate: String,
    pub concurrency: usize,
    pub timeout_ms: u64,
    pub retries: u8,
    pub read_timeout_ms: u64,
    pub dicom: DicomArgs,
    #[serde(default)]
    pub count_records: bool,
    #[serde(default)]
    pub probes: Vec<String>,
}

/// A validated plan.
pub struct Plan {
    pub spec: PlanSpec,
    pub space: ProbeSpace,
    pub rate: RateLimit,
    pub notes: Vec<ExclusionNote>,
    /// What the probes say and how long they may talk.
    pub probe: ProbeContext,
    /// A digest of the probe space (address ranges and ports), compared on `--resume`.
    pub digest: String,
}

impl PlanSpec {
    /// The spec of a `scan` command line.
    pub fn from_args(args: &ScanArgs) -> Result<PlanSpec> {
        let ports = match (&args.ports, args.profile) {
            (Some(list), _) => list.clone(),
            (None, Some(Profile::Medical)) | (None, None) => medical_ports(),
        };
        let shard = match &args.shard {
            Some(s) => parse_shard(s)?,
            None => Shard::WHOLE,
        };
        Ok(PlanSpec {
            targets: args.targets.clone(),
            ports,
            exclude: args.exclude.clone(),
            allow_private: args.allow_private,
            seed: args.seed.unwrap_or_else(random_seed),
            shard,
            rate: args.rate.clone(),
            concurrency: args.concurrency,
            timeout_ms: args.timeout,
            retries: args.retries,
            read_timeout_ms: args.read_timeout,
            dicom: args.dicom.clone(),
            count_records: args.count_records,
            probes: args.probes.clone(),
        })
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }

    pub fn read_timeout(&self) -> Duration {
        Duration::from_millis(self.read_timeout_ms)
    }
}

/// The medical profile as a port list (the profile's table, with its reasons, is in the scan
/// crate).
pub fn medical_ports() -> String {
    medsurface_scan::MEDICAL_PROFILE
        .iter()
        .map(|p| p.port.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

/// Validates a spec into a plan.
pub fn build(spec: PlanSpec) -> Result<Plan> {
    let rate = parse_rate(&spec.rate)?;
    if spec.concurrency == 0 {
        return Err(InputError("--concurrency must be at least 1".into()).into());
    }
    if spec.timeout_ms == 0 || spec.read_timeout_ms == 0 {
        return Err(InputError("timeouts must be at least 1 ms".into()).into());
    }
    let ports = parse_ports(&spec.ports).context("in --ports")?;
    let targets = parse_targets(&spec.targets)?;
    let policy = if spec.allow_private {
        ExclusionPolicy::AllowPrivate
    } else {
        ExclusionPolicy::ExcludePrivate
    };
    let mut exclusions = ExclusionList::builtin(policy)?;
    for file in &spec.exclude {
        exclusions.extend(ExclusionList::from_file(file)?);
    }
    let (targets, notes) = exclusions.apply(targets)?;
    let space = ProbeSpace::new(targets, ports)?;
    if space.is_empty() {
        return Err(InputError("nothing to scan: the targets are empty".into()).into());
    }
    let digest = space_digest(&space);
    let probe = probe_context(&spec)?;
    Ok(Plan {
        spec,
        space,
        rate,
        notes,
        probe,
        digest,
    })
}

/// The probes' settings: timeouts, and the DICOM probe's titles and opt-ins, validated.
fn probe_context(spec: &PlanSpec) -> Result<ProbeContext> {
    use medsurface_proto::dicom::{ae_titles, AeTitle};
    use medsurface_scan::probes::dicom::{DicomTls, StudyCount};

    let d = &spec.dicom;
    let ae = |flag: &str, value: &str| -> Result<String> {
        AeTitle::new(value)
            .map(|t| t.as_str().to_string())
            .map_err(|e| InputError(format!("{flag} {value:?}: {e}")).into())
    };
    let mut ctx = ProbeContext {
        read_timeout: spec.read_timeout(),
        ae_title: ae("--calling-ae", &d.calling_ae)?,
        ..ProbeContext::default()
    };
    ctx.dicom.called_ae = ae("--called-ae", &d.called_ae)?;
    if let Some(source) = &d.ae_titles {
        let titles = if source == "builtin" {
            ae_titles::builtin()
        } else {
            let text = std::fs::read_to_string(source)
                .map_err(|e| InputError(format!("--ae-titles {source}: {e}")))?;
            ae_titles::parse(&text, source)
        }
        .map_err(|e| InputError(format!("--ae-titles: {e}")))?;
        ctx.dicom.ae_titles = titles
            .into_iter()
            .map(|t| t.title.as_str().to_string())
            .collect();
        // Each title is one more association, spaced out: give the probe time for them.
        ctx.probe_timeout = ctx.probe_timeout.max(Duration::from_secs(30));
    }
    if d.count_studies {
        ctx.dicom.study_count = StudyCount::Count {
            cap: STUDY_COUNT_CAP,
        };
    }
    if d.dicom_tls {
        ctx.dicom.tls = DicomTls::Always;
    }
    if d.no_ae_checks {
        ctx.dicom.ae_checks = medsurface_scan::probes::dicom::AeChecks::Off;
    }
    for choice in &spec.probes {
        let bad = |why: String| InputError(format!("--probe {choice:?}: {why}"));
        let (name, ports) = choice
            .split_once(':')
            .ok_or_else(|| bad("expected NAME:PORTS, e.g. http:24080".into()))?;
        let probe = medsurface_scan::probes::probe_named(name.trim()).ok_or_else(|| {
            let names: Vec<&str> = medsurface_scan::probes::all_probes()
                .map(|p| p.name())
                .collect();
            bad(format!(
                "no probe is named {name:?} (known: {})",
                names.join(", ")
            ))
        })?;
        let ports = parse_ports(ports).map_err(|e| bad(e.to_string()))?;
        for port in ports.iter() {
            ctx.overrides.insert(port, probe.name());
        }
    }
    if spec.count_records {
        ctx.web.count_records = medsurface_scan::probes::http::RecordCount::Count;
    }
    Ok(ctx)
}

/// `--count-studies` stops counting here and says so (`dicom.study_count_capped`).
const STUDY_COUNT_CAP: u32 = 10_000;

/// `I/N` with 1 ≤ I ≤ N.
pub fn parse_shard(s: &str) -> Result<Shard> {
    let bad = || {
        InputError(format!(
            "--shard {s:?}: expected I/N with 1 <= I <= N, e.g. 2/4"
        ))
    };
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let i: u32 = i.trim().parse().map_err(|_| bad())?;
    let n: u32 = n.trim().parse().map_err(|_| bad())?;
    if i == 0 || n == 0 || i > n {
        return Err(bad().into());
    }
    Ok(Shard {
        index: i - 1,
        count: n,
    })
}

/// A number of probes per second, or `unlimited`.
pub fn parse_rate(s: &str) -> Result<RateLimit> {
    if s.eq_ignore_ascii_case("unlimited") {
        return Ok(RateLimit::Unlimited);
    }
    let n: u32 = s.trim().parse().map_err(|_| {
        InputError(format!(
            "--rate {s:?}: expected probes per second (1 to 4294967295) or \"unlimited\""
        ))
    })?;
    match NonZeroU32::new(n) {
        Some(n) => Ok(RateLimit::PerSecond(n)),
        None => Err(InputError(
            "--rate 0 would never send a probe; use \"unlimited\" to lift the limit".into(),
        )
        .into()),
    }
}

fn random_seed() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish()
}

/// FNV-1a over the textual form of the address ranges and ports: stable across builds and
/// platforms, which a std hasher is not.
fn space_digest(space: &ProbeSpace) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for range in space.targets().ranges() {
        eat(range.to_string().as_bytes());
        eat(b";");
    }
    for port in space.ports().iter() {
        eat(&port.to_be_bytes());
    }
    format!("{h:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_syntax() {
        assert_eq!(parse_shard("1/1").unwrap(), Shard::WHOLE);
        assert_eq!(parse_shard("3/4").unwrap(), Shard { index: 2, count: 4 });
        for bad in ["0/4", "5/4", "1/0", "a/b", "1", "1/2/3", ""] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_syntax() {
        assert!(matches!(
            parse_rate("unlimited").unwrap(),
            RateLimit::Unlimited
        ));
        assert!(matches!(parse_rate("250").unwrap(), RateLimit::PerSecond(n) if n.get() == 250));
        assert!(parse_rate("0").is_err());
        assert!(parse_rate("-5").is_err());
        assert!(parse_rate("fast").is_err());
    }
}

#[cfg(test)]
mod readme_tests {
    /// The README documents why each port of the medical profile is there; keep it in step.
    #[test]
    fn readme_lists_every_medical_profile_port_with_its_reason() {
        let readme = include_str!("../../../README.md");
        for p in medsurface_scan::MEDICAL_PROFILE {
            let row = format!("| {} | {} | {} |", p.port, p.service, p.why);
            assert!(readme.contains(&row), "README lacks the profile row {row}");
        }
        let rows = readme
            .lines()
            .filter(|l| l.starts_with("| ") && l.ends_with(" |"))
            .count();
        assert!(rows > medsurface_scan::MEDICAL_PROFILE.len());
    }
}
