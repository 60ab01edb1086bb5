//! A keyed pseudo-random permutation of `[0, n)`, so a scan visits its probes in an order that
//! spreads consecutive probes over different hosts, without storing the order anywhere.
//!
//! The shape is the one zmap and masscan settled on: compute the order, don't store it. A
//! balanced Feistel network permutes `[0, 2^w)` for the smallest even width `w` whose domain
//! holds `n`; values that land outside `[0, n)` are fed through the network again ("cycle
//! walking") until they land inside. Because `2^w < 4n`, a walk takes fewer than four rounds
//! trips on average. Memory is a handful of words whatever `n` is (a whole IPv6 /32 is fine),
//! and the permutation is a pure function of `(n, seed)`, which is what makes `--resume` and
//! `--shard` exact: every process that knows the seed agrees on the order.
//!
//! This is not cryptography and does not need to be: the goal is an even spread, reproducible
//! from the seed. The round function is the splitmix64 finaliser, keys come from a splitmix64
//! stream of the seed.

/// Feistel rounds. Luby–Rackoff needs four for a pseudo-random permutation; two more cost a few
/// nanoseconds per probe and make small domains mix visibly better.
const ROUNDS: usize = 6;

/// A bijection on `[0, n)` chosen by `seed`.
#[derive(Debug, Clone)]
pub struct Permutation {
    n: u128,
    half_bits: u32,
    mask: u64,
    keys: [u64; ROUNDS],
}

impl Permutation {
    /// The permutation of `[0, n)` for this seed. Any `n` works, including 0, 1 and `u128::MAX`.
    pub fn new(n: u128, seed: u64) -> Permutation {
        // Bits needed to write n - 1, rounded up to an even width of at least 2.
        let bits = if n <= 1 {
            0
        } else {
            128 - (n - 1).leading_zeros()
        };
        let width = (bits + (bits & 1)).max(2);
        let half_bits = width / 2;
        let mask = if half_bits == 64 {
            u64::MAX
        } else {
            (1u64 << half_bits) - 1
        };
        let mut state = seed;
        let mut keys = [0u64; ROUNDS];
        for key in &mut keys {
            *key = splitmix64(&mut state);
        }
        Permutation {
            n,
            half_bits,
            mask,
            keys,
        }
    }

    /// Size of the domain.
    pub fn len(&self) -> u128 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// The image of `i`. For `i < n` the result is in `[0, n)` and distinct for distinct `i`.
    /// An `i` outside the domain is returned unchanged (walking it could loop forever).
    pub fn apply(&self, i: u128) -> u128 {
        if i >= self.n {
            return i;
        }
        let mut x = i;
        loop {
            x = self.feistel(x);
            if x < self.n {
                return x;
            }
        }
    }

    fn feistel(&self, x: u128) -> u128 {
        let mut left = (x >> self.half_bits) as u64 & self.mask;
        let mut right = x as u64 & self.mask;
        for &key in &self.keys {
            let next = left ^ (round(right, key) & self.mask);
            left = right;
            right = next;
        }
        ((left as u128) << self.half_bits) | right as u128
    }
}

/// The Feistel round function: the splitmix64 finaliser of the half block mixed with a key.
fn round(half: u64, key: u64) -> u64 {
    let mut z = (half ^ key).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One step of the splitmix64 generator (Steele, Lea, Flood 2014).
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn is_bijection(n: u128, seed: u64) -> bool {
        let p = Permutation::new(n, seed);
        let mut seen = vec![false; n as usize];
        for i in 0..n {
            let j = p.apply(i);
            if j >= n || seen[j as usize] {
                return false;
            }
            seen[j as usize] = true;
        }
        true
    }

    #[test]
    fn tiny_domains() {
        assert!(Permutation::new(0, 1).is_empty());
        assert_eq!(
            Permutation::new(0, 1).apply(0),
            0,
            "outside the domain: unchanged"
        );
        assert_eq!(Permutation::new(1, 99).apply(0), 0);
        for n in [2u128, 3, 4, 5, 7, 8, 13, 17, 31, 257, 65_537] {
            for seed in [0, 1, 42, u64::MAX] {
                assert!(is_bijection(n, seed), "n={n} seed={seed}");
            }
        }
    }

    #[test]
    fn seeds_give_different_orders() {
        let a: Vec<u128> = (0..64)
            .map(|i| Permutation::new(1000, 1).apply(i))
            .collect();
        let b: Vec<u128> = (0..64)
            .map(|i| Permutation::new(1000, 2).apply(i))
            .collect();
        assert_ne!(a, b);
        let identity: Vec<u128> = (0..64).collect();
        assert_ne!(a, identity, "the order must actually be shuffled");
    }

    #[test]
    fn huge_domains_stay_in_range_and_are_injective_on_a_sample() {
        for n in [1u128 << 100, (1u128 << 100) + 12_345, u128::MAX] {
            let p = Permutation::new(n, 7);
            let mut images: Vec<u128> = (0..2000u128).map(|i| p.apply(i * (n / 2000))).collect();
            assert!(images.iter().all(|&x| x < n));
            images.sort_unstable();
            images.dedup();
            assert_eq!(images.len(), 2000);
        }
    }

    #[test]
    fn cycle_walking_is_short_on_average() {
        // The worst case for the width rounding: just over a power of four.
        let n = (1u128 << 20) + 1;
        let p = Permutation::new(n, 3);
        let mut passes = 0u64;
        for i in 0..20_000u128 {
            let mut x = i;
            loop {
                x = p.feistel(x);
                passes += 1;
                if x < n {
                    break;
                }
            }
        }
        assert!(
            passes < 4 * 20_000,
            "{passes} Feistel passes for 20000 values"
        );
    }

    proptest! {
        #[test]
        fn bijection_for_random_sizes(n in 0u128..=5000, seed in any::<u64>()) {
            prop_assert!(is_bijection(n, seed));
        }
    }
}
