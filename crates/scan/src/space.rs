//! The probe space (every (address, port) pair of a scan) and how one shard walks it.
//!
//! The space is never materialised: probe `idx` is address `idx / nports` and port
//! `idx % nports`, so it costs what [`Targets`] and [`Ports`] cost. A [`ShardPlan`] turns the
//! shard-local sequence numbers `0, 1, 2, …` into positions in the space through one keyed
//! [`Permutation`] of the whole space: shard `i` of `n` takes the permuted positions
//! `i, i + n, i + 2n, …`. Every shard that shares the seed shares the permutation, so the
//! shards cover the space exactly once between them, and consecutive probes of one shard go to
//! unrelated hosts (habit 7). The sequence number is also what a [`Checkpoint`] records, which
//! is what makes `--resume` exact.
//!
//! [`Checkpoint`]: medsurface_model::Checkpoint

use std::net::IpAddr;

use medsurface_model::Shard;

use crate::permute::Permutation;
use crate::ports::Ports;
use crate::targets::Targets;

/// Why a probe space could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpaceError {
    #[error("{addresses} addresses times {ports} ports is more probes than fit in 128 bits")]
    TooLarge { addresses: u128, ports: usize },
}

/// Every (address, port) pair to probe.
#[derive(Debug, Clone)]
pub struct ProbeSpace {
    targets: Targets,
    ports: Ports,
    len: u128,
}

impl ProbeSpace {
    pub fn new(targets: Targets, ports: Ports) -> Result<ProbeSpace, SpaceError> {
        let len = targets
            .len()
            .checked_mul(ports.len() as u128)
            .ok_or(SpaceError::TooLarge {
                addresses: targets.len(),
                ports: ports.len(),
            })?;
        Ok(ProbeSpace {
            targets,
            ports,
            len,
        })
    }

    /// Addresses times ports.
    pub fn len(&self) -> u128 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Probe `idx`: address `idx / nports`, port `idx % nports`, and the address's host name.
    pub fn get(&self, idx: u128) -> Option<(IpAddr, u16, Option<&str>)> {
        if idx >= self.len {
            return None;
        }
        let nports = self.ports.len() as u128;
        let (ip, name) = self.targets.get(idx / nports)?;
        let port = self.ports.get((idx % nports) as usize)?;
        Some((ip, port, name))
    }

    pub fn targets(&self) -> &Targets {
        &self.targets
    }

    pub fn ports(&self) -> &Ports {
        &self.ports
    }
}

/// Why a shard plan could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("a scan has at least one shard")]
    NoShards,
    #[error(
        "shard {shown} does not exist: the shards are numbered 1 to {count}",
        shown = .index + 1
    )]
    NoSuchShard { index: u32, count: u32 },
}

/// Which positions of the space one shard probes, and in what order.
#[derive(Debug, Clone)]
pub struct ShardPlan {
    permutation: Permutation,
    shard: Shard,
    shard_len: u128,
}

impl ShardPlan {
    pub fn new(space_len: u128, shard: Shard, seed: u64) -> Result<ShardPlan, ShardError> {
        if shard.count == 0 {
            return Err(ShardError::NoShards);
        }
        if shard.index >= shard.count {
            return Err(ShardError::NoSuchShard {
                index: shard.index,
                count: shard.count,
            });
        }
        let index = u128::from(shard.index);
        let count = u128::from(shard.count);
        // Positions k < space_len with k % count == index.
        let shard_len = if index < space_len {
            (space_len - index - 1) / count + 1
        } else {
            0
        };
        Ok(ShardPlan {
            permutation: Permutation::new(space_len, seed),
            shard,
            shard_len,
        })
    }

    /// Number of probes in this shard.
    pub fn shard_len(&self) -> u128 {
        self.shard_len
    }

    pub fn shard(&self) -> Shard {
        self.shard
    }

    /// The position in the probe space of shard-local sequence number `seq`.
    pub fn position(&self, seq: u128) -> Option<u128> {
        if seq >= self.shard_len {
            return None;
        }
        // seq < shard_len guarantees this is below the space length: no overflow.
        let k = u128::from(self.shard.index) + seq * u128::from(self.shard.count);
        Some(self.permutation.apply(k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::parse_ports;
    use crate::targets::parse_targets;
    use proptest::prelude::*;

    fn space(targets: &[&str], ports: &str) -> ProbeSpace {
        let args: Vec<String> = targets.iter().map(|s| s.to_string()).collect();
        ProbeSpace::new(parse_targets(&args).unwrap(), parse_ports(ports).unwrap()).unwrap()
    }

    #[test]
    fn index_is_address_major() {
        let s = space(&["127.0.0.1-2"], "80,443,104");
        assert_eq!(s.len(), 6);
        let all: Vec<String> = (0..6)
            .map(|i| {
                let (ip, port, _) = s.get(i).unwrap();
                format!("{ip}:{port}")
            })
            .collect();
        assert_eq!(
            all,
            [
                "127.0.0.1:80",
                "127.0.0.1:104",
                "127.0.0.1:443",
                "127.0.0.2:80",
                "127.0.0.2:104",
                "127.0.0.2:443"
            ]
        );
        assert_eq!(s.get(6), None);
    }

    #[test]
    fn huge_spaces_are_lazy_and_overflow_is_an_error() {
        let s = space(&["2001:db8::/32"], "1-65535");
        assert_eq!(s.len(), (1u128 << 96) * 65535);
        let last = s.get(s.len() - 1).unwrap();
        assert_eq!(last.1, 65535);
        let args = vec!["::/1".to_string()];
        let err = ProbeSpace::new(parse_targets(&args).unwrap(), parse_ports("1-3").unwrap());
        assert!(matches!(err, Err(SpaceError::TooLarge { .. })));
    }

    #[test]
    fn bad_shards_are_refused() {
        let whole = Shard { index: 0, count: 0 };
        assert_eq!(
            ShardPlan::new(10, whole, 1).unwrap_err(),
            ShardError::NoShards
        );
        let err = ShardPlan::new(10, Shard { index: 3, count: 3 }, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shard 4 does not exist: the shards are numbered 1 to 3"
        );
    }

    #[test]
    fn shards_larger_than_the_space_are_empty() {
        let plan = ShardPlan::new(2, Shard { index: 4, count: 8 }, 0).unwrap();
        assert_eq!(plan.shard_len(), 0);
        assert_eq!(plan.position(0), None);
        let plan = ShardPlan::new(0, Shard::WHOLE, 0).unwrap();
        assert_eq!(plan.shard_len(), 0);
    }

    proptest! {
        #[test]
        fn shards_partition_the_space(n in 0u128..3000, count in 1u32..=8, seed in any::<u64>()) {
            let mut seen = vec![0u8; n as usize];
            let mut total = 0u128;
            for index in 0..count {
                let plan = ShardPlan::new(n, Shard { index, count }, seed).unwrap();
                total += plan.shard_len();
                for seq in 0..plan.shard_len() {
                    let pos = plan.position(seq).unwrap();
                    prop_assert!(pos < n);
                    seen[pos as usize] += 1;
                }
                prop_assert_eq!(plan.position(plan.shard_len()), None);
            }
            prop_assert_eq!(total, n);
            prop_assert!(seen.iter().all(|&c| c == 1));
        }
    }
}
