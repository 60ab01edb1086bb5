//! Scan bookkeeping shared by the scanner, the store and the binary: identity, shard, counters
//! and the checkpoint that makes `--resume` exact.
//!
//! A scan visits a deterministic sequence of probes (the permutation is fixed by the seed and
//! the shard), so progress is fully described by which sequence numbers are done. Probes finish
//! out of order, so a [`Checkpoint`] keeps a watermark (every number below it is done) plus the
//! few numbers done above it. Its size is bounded by the number of probes in flight, not by the
//! size of the scan.

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{Outcome, Timestamp};

/// Identity of a scan in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ScanId(pub i64);

impl fmt::Display for ScanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Shard `index` of `count` (0-based index; the CLI spells it `I/N` with 1-based I).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index + 1, self.count)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    /// Started and not finished: running now, or killed (resume it with `--resume`).
    Running,
    /// Every probe of the shard is done.
    Completed,
    /// Stopped by the user (Ctrl-C); resumable.
    Interrupted,
}

impl ScanStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Running => "running",
            ScanStatus::Completed => "completed",
            ScanStatus::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<ScanStatus> {
        [
            ScanStatus::Running,
            ScanStatus::Completed,
            ScanStatus::Interrupted,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }
}

/// How many probes ended in each outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub open: u64,
    pub closed: u64,
    pub filtered: u64,
    pub unreachable: u64,
    pub error: u64,
}

impl OutcomeCounts {
    pub fn add(&mut self, outcome: Outcome) {
        *self.get_mut(outcome) += 1;
    }

    pub fn get(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Open => self.open,
            Outcome::Closed => self.closed,
            Outcome::Filtered => self.filtered,
            Outcome::Unreachable => self.unreachable,
            Outcome::Error => self.error,
        }
    }

    pub fn get_mut(&mut self, outcome: Outcome) -> &mut u64 {
        match outcome {
            Outcome::Open => &mut self.open,
            Outcome::Closed => &mut self.closed,
            Outcome::Filtered => &mut self.filtered,
            Outcome::Unreachable => &mut self.unreachable,
            Outcome::Error => &mut self.error,
        }
    }

    pub fn merge(&mut self, other: &OutcomeCounts) {
        for o in Outcome::ALL {
            *self.get_mut(o) += other.get(o);
        }
    }

    pub fn total(&self) -> u64 {
        Outcome::ALL.iter().map(|o| self.get(*o)).sum()
    }
}

/// Which shard-local sequence numbers are done.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Every sequence number below this is done.
    pub watermark: u128,
    /// Sequence numbers at or above the watermark that are done too.
    pub done_above: BTreeSet<u128>,
}

impl Checkpoint {
    /// Records `seq` as done and moves the watermark over every contiguous done number.
    pub fn mark_done(&mut self, seq: u128) {
        if seq < self.watermark {
            return;
        }
        if seq == self.watermark {
            self.watermark += 1;
            while self.done_above.remove(&self.watermark) {
                self.watermark += 1;
            }
        } else {
            self.done_above.insert(seq);
        }
    }

    pub fn is_done(&self, seq: u128) -> bool {
        seq < self.watermark || self.done_above.contains(&seq)
    }

    /// Number of sequence numbers done.
    pub fn done_count(&self) -> u128 {
        self.watermark + self.done_above.len() as u128
    }
}

/// What the store keeps about a scan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScanMeta {
    pub id: ScanId,
    /// The command line as given, so that `scans` can show it and `--resume` can rebuild the plan.
    pub args: Vec<String>,
    /// The validated plan as JSON (targets, ports, seed, rate, …), owned by the binary.
    pub plan: serde_json::Value,
    pub seed: u64,
    pub shard: Shard,
    /// Number of probes in this shard.
    pub total: u128,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: ScanStatus,
    pub counts: OutcomeCounts,
    pub checkpoint: Checkpoint,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_watermark_moves_over_contiguous_runs() {
        let mut c = Checkpoint::default();
        c.mark_done(2);
        c.mark_done(1);
        assert_eq!(c.watermark, 0);
        assert!(c.is_done(2) && !c.is_done(0));
        c.mark_done(0);
        assert_eq!(c.watermark, 3);
        assert!(c.done_above.is_empty());
        c.mark_done(5);
        c.mark_done(1); // already below the watermark: no effect
        assert_eq!(c.done_count(), 4);
        assert!(c.is_done(5) && !c.is_done(4));
    }

    #[test]
    fn counts_add_and_merge() {
        let mut a = OutcomeCounts::default();
        a.add(Outcome::Open);
        a.add(Outcome::Closed);
        a.add(Outcome::Closed);
        let mut b = OutcomeCounts::default();
        b.add(Outcome::Filtered);
        a.merge(&b);
        assert_eq!((a.open, a.closed, a.filtered, a.total()), (1, 2, 1, 4));
    }
}
