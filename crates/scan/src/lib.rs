//! Live discovery for medsurface: from the targets a user names to one [`ProbeResult`] per
//! (address, port), and the only crate of the workspace that opens sockets.
//!
//! The pipeline inside the crate, each step one module:
//! [`targets`] parses what to scan into merged address ranges (no memory per address);
//! [`exclude`] removes reserved (and, by default, private) ranges, refusing a target that lies
//! entirely inside them and noting every partial cut; [`ports`] parses port lists and holds the
//! medical profile; [`space`] forms the lazy (address × port) space and the [`ShardPlan`] that
//! walks it in the order of a keyed [`permute::Permutation`]; [`engine`] connects at a bounded
//! rate and concurrency, maps failures to outcomes through [`outcome`], and hands open ports to
//! the [`probes`] registry, each with a [`slot`] the probe lends back while it pauses.
//!
//! The seam with the rest of medsurface is deliberately narrow: the binary gives a
//! [`ProbeSpace`], a [`ScanConfig`], a resume [`Checkpoint`] and [`ScanChannels`], and receives
//! [`ProbeResult`]s carrying model [`Observation`]s. Nothing here prints, stores or classifies;
//! per-target failures are outcomes in the results, and errors are reserved for the whole run
//! (bad input files, a shard that cannot be planned). Because the permutation is a pure
//! function of the seed, a shard and a checkpoint describe exactly which probes remain, which
//! is what makes `--shard` and `--resume` exact.
//!
//! [`Checkpoint`]: medsurface_model::Checkpoint
//! [`ProbeResult`]: medsurface_model::ProbeResult
//! [`Observation`]: medsurface_model::Observation

pub mod dialer;
pub mod engine;
pub mod exclude;
pub mod outcome;
pub mod permute;
pub mod ports;
pub mod probes;
pub mod slot;
pub mod space;
pub mod targets;

pub use dialer::Dialer;
pub use engine::{
    raise_nofile_limit, run_scan, NofileError, RateLimit, ScanChannels, ScanConfig, ScanEnd,
    ScanError, ScanSummary, StopSignal,
};
pub use exclude::{
    ExclusionError, ExclusionList, ExclusionNote, ExclusionPolicy, Refusal, Rule, RuleProblem,
    Section,
};
pub use outcome::{classify_io_error, Classified};
pub use permute::Permutation;
pub use ports::{medical_profile, parse_ports, PortError, Ports, ProfilePort, MEDICAL_PROFILE};
pub use probes::{Probe, ProbeContext, ProbeOutput, REGISTRY};
pub use slot::{Resume, Slot};
pub use space::{ProbeSpace, ShardError, ShardPlan, SpaceError};
pub use targets::{parse_targets, AddrRange, Family, Place, TargetError, TargetProblem, Targets};
