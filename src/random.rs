//! The global random generator behind `manual_seed`, `rand` and `randn`.
//!
//! xoshiro256** seeded through SplitMix64: fast, reproducible for a given seed. The numbers
//! differ from PyTorch's (which uses MT19937 and its own transforms); only reproducibility
//! under `manual_seed` is promised.

use parking_lot::Mutex;

/// PyTorch's default seed, so a fresh process starts from a fixed state as PyTorch does.
pub const DEFAULT_SEED: u64 = 67280421310721;

pub struct Rng {
    s: [u64; 4],
    seed: u64,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E3779B97F4A7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
    z ^ (z >> 31)
}

impl Rng {
    pub const fn unseeded() -> Rng {
        Rng { s: [0; 4], seed: 0 }
    }

    pub fn seed(&mut self, seed: u64) {
        let mut st = seed;
        self.s = [
            splitmix(&mut st),
            splitmix(&mut st),
            splitmix(&mut st),
            splitmix(&mut st),
        ];
        self.seed = seed;
    }

    pub fn next_u64(&mut self) -> u64 {
        if self.s == [0; 4] {
            self.seed(DEFAULT_SEED);
        }
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

pub static GENERATOR: Mutex<Rng> = Mutex::new(Rng::unseeded());

pub fn manual_seed(seed: u64) {
    GENERATOR.lock().seed(seed);
}

pub fn initial_seed() -> u64 {
    let g = GENERATOR.lock();
    if g.s == [0; 4] {
        DEFAULT_SEED
    } else {
        g.seed
    }
}

/// `n` uniform samples in [0, 1).
pub fn uniform_vec(n: usize) -> Vec<f64> {
    let mut g = GENERATOR.lock();
    (0..n).map(|_| g.uniform()).collect()
}

/// `n` standard normal samples.
pub fn normal_vec(n: usize) -> Vec<f64> {
    let mut g = GENERATOR.lock();
    (0..n).map(|_| g.normal()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_reproducible() {
        let mut a = Rng::unseeded();
        let mut b = Rng::unseeded();
        a.seed(3);
        b.seed(3);
        assert_eq!(a.next_u64(), b.next_u64());
        let u = a.uniform();
        assert!((0.0..1.0).contains(&u));
    }
}
