//! Distributions and the two percentile methods the tools use.
//!
//! * [`Method::Linear`]: numpy's default (`np.percentile`, linear interpolation between the
//!   two closest ranks); used by benchmark_serving (vLLM, SGLang, TensorRT-LLM's copy) and
//!   GenAI-Perf/AIPerf.
//! * [`Method::Index`]: `sorted[floor(n * p)]`, no interpolation; used by trtllm-bench.

/// How a percentile is read off sorted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// numpy `linear`: rank `h = (n - 1) p`, interpolate between `floor(h)` and `ceil(h)`.
    Linear,
    /// trtllm-bench: `sorted[min(floor(n p), n - 1)]`.
    Index,
}

/// Sorted sample values (NaN dropped) with summary statistics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Distribution {
    sorted: Vec<f64>,
}

impl Distribution {
    /// Sorts the values; NaN values are dropped.
    pub fn new(mut values: Vec<f64>) -> Self {
        values.retain(|v| !v.is_nan());
        values.sort_by(f64::total_cmp);
        Distribution { sorted: values }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// True when there are no values.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The values, ascending.
    pub fn values(&self) -> &[f64] {
        &self.sorted
    }

    /// Arithmetic mean (0 when empty, as the tools print).
    pub fn mean(&self) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        self.sorted.iter().sum::<f64>() / self.sorted.len() as f64
    }

    /// Population standard deviation (numpy `std`, ddof = 0).
    pub fn std(&self) -> f64 {
        if self.sorted.is_empty() {
            return 0.0;
        }
        let m = self.mean();
        let var =
            self.sorted.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / self.sorted.len() as f64;
        var.sqrt()
    }

    /// Smallest value (0 when empty).
    pub fn min(&self) -> f64 {
        self.sorted.first().copied().unwrap_or(0.0)
    }

    /// Largest value (0 when empty).
    pub fn max(&self) -> f64 {
        self.sorted.last().copied().unwrap_or(0.0)
    }

    /// Sum of the values.
    pub fn sum(&self) -> f64 {
        self.sorted.iter().sum()
    }

    /// The `p`-th percentile, `p` in 0..=100 (0 when empty).
    pub fn percentile(&self, p: f64, method: Method) -> f64 {
        percentile_sorted(&self.sorted, p, method)
    }

    /// Median by linear interpolation.
    pub fn median(&self) -> f64 {
        self.percentile(50.0, Method::Linear)
    }
}

/// Percentile of already sorted values; `p` in 0..=100.
pub fn percentile_sorted(sorted: &[f64], p: f64, method: Method) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return 0.0;
    }
    let q = (p / 100.0).clamp(0.0, 1.0);
    match method {
        Method::Index => sorted[((n as f64 * q).floor() as usize).min(n - 1)],
        Method::Linear => {
            let h = (n - 1) as f64 * q;
            let lo = h.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_matches_numpy() {
        // np.percentile([1, 2, 3, 4], [25, 50, 99]) == [1.75, 2.5, 3.97]
        let d = Distribution::new(vec![4.0, 1.0, 3.0, 2.0]);
        assert!((d.percentile(25.0, Method::Linear) - 1.75).abs() < 1e-12);
        assert!((d.percentile(50.0, Method::Linear) - 2.5).abs() < 1e-12);
        assert!((d.percentile(99.0, Method::Linear) - 3.97).abs() < 1e-12);
        assert_eq!(d.percentile(100.0, Method::Linear), 4.0);
        assert_eq!(d.percentile(0.0, Method::Linear), 1.0);
    }

    #[test]
    fn index_matches_trtllm() {
        // trtllm-bench: sorted[int(len * p)] -> for 4 values p50 is sorted[2] = 3, p99 is sorted[3].
        let d = Distribution::new(vec![4.0, 1.0, 3.0, 2.0]);
        assert_eq!(d.percentile(50.0, Method::Index), 3.0);
        assert_eq!(d.percentile(90.0, Method::Index), 4.0);
        assert_eq!(d.percentile(25.0, Method::Index), 2.0);
        assert_eq!(d.percentile(100.0, Method::Index), 4.0);
    }

    #[test]
    fn mean_std_min_max() {
        // population std of [2, 4, 4, 4, 5, 5, 7, 9] is 2
        let d = Distribution::new(vec![2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0, f64::NAN]);
        assert_eq!(d.len(), 8);
        assert_eq!(d.mean(), 5.0);
        assert_eq!(d.std(), 2.0);
        assert_eq!((d.min(), d.max()), (2.0, 9.0));
    }

    #[test]
    fn empty_is_zero() {
        let d = Distribution::new(vec![]);
        assert_eq!(
            (d.mean(), d.std(), d.percentile(99.0, Method::Index)),
            (0.0, 0.0, 0.0)
        );
    }
}
