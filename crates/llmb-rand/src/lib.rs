//! Seeded randomness whose output is fixed by this file alone (xoshiro256++ seeded by
//! splitmix64), so the same `--seed` gives byte-identical prompts and schedules in every
//! llmb version and on every platform. Includes the distributions the workloads need.
#![warn(missing_docs)]

/// splitmix64 step: a good 64-bit mix, also used to derive independent sub-seeds.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256++ generator.
#[derive(Debug, Clone)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Rng {
        let mut z = seed;
        let mut s = [0u64; 4];
        for v in &mut s {
            z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
            *v = mix(z);
        }
        Rng { s }
    }

    /// An independent generator for item `index` of stream `seed` (order-free, so work
    /// can be split across threads without changing the output).
    pub fn for_item(seed: u64, index: u64) -> Rng {
        Rng::new(mix(seed ^ mix(index.wrapping_add(0xA5A5_5A5A))))
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Standard normal by Box-Muller.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.f64(); // (0, 1]
        let u2 = self.f64();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    /// Exponential with mean 1.
    pub fn exponential(&mut self) -> f64 {
        -(1.0 - self.f64()).ln()
    }

    /// Gamma(shape, scale = 1) by Marsaglia and Tsang (with the boost for shape < 1).
    pub fn gamma(&mut self, shape: f64) -> f64 {
        if shape < 1.0 {
            let u = 1.0 - self.f64();
            return self.gamma(shape + 1.0) * u.powf(1.0 / shape);
        }
        let d = shape - 1.0 / 3.0;
        let c = 1.0 / (9.0 * d).sqrt();
        loop {
            let x = self.normal();
            let v = (1.0 + c * x).powi(3);
            if v <= 0.0 {
                continue;
            }
            let u = self.f64();
            if u.ln() < 0.5 * x * x + d - d * v + d * v.ln() {
                return d * v;
            }
        }
    }
}

/// A length drawn as trtllm-bench's `token-norm-dist` draws it:
/// `max(1, ceil(normal(mean, stddev)))`, and exactly `mean` when `stddev` is 0.
pub fn norm_length(rng: &mut Rng, mean: u64, stddev: f64) -> u64 {
    if stddev <= 0.0 {
        return mean.max(1);
    }
    let v = (mean as f64 + stddev * rng.normal()).ceil();
    if v < 1.0 {
        1
    } else {
        v as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_is_fixed_forever() {
        // These values pin the algorithm: a change here changes every user's prompts.
        let mut r = Rng::new(42);
        let first: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(
            first,
            [
                17283472583437600544,
                8370042955726067862,
                16573922359171953602
            ]
        );
        assert_eq!(Rng::for_item(1, 0).next_u64(), 3889986378284748887);
        assert_ne!(
            Rng::for_item(1, 0).next_u64(),
            Rng::for_item(1, 1).next_u64()
        );
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut r = Rng::new(7);
        let n = 200_000;
        let mean = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / n as f64;
        assert!((mean(&mut || r.f64()) - 0.5).abs() < 0.01);
        assert!(mean(&mut || r.normal()).abs() < 0.01);
        assert!((mean(&mut || r.exponential()) - 1.0).abs() < 0.01);
        assert!((mean(&mut || r.gamma(0.5)) - 0.5).abs() < 0.01);
        assert!((mean(&mut || r.gamma(4.0)) - 4.0).abs() < 0.03);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }

    #[test]
    fn norm_length_rules() {
        let mut r = Rng::new(1);
        assert_eq!(norm_length(&mut r, 128, 0.0), 128);
        assert!((0..1000).all(|_| norm_length(&mut r, 2, 50.0) >= 1));
    }
}
