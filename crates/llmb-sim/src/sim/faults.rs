//! Injected faults: what a healthy server never does, on demand and seeded, for tests.

use std::str::FromStr;

use llmb_rand::Rng;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer HTTP 500 at once.
    Http500,
    /// Answer HTTP 429 at once.
    Http429,
    /// Break the connection half-way through the stream.
    Reset,
    /// Stop sending half-way through, keeping the connection open.
    Stall,
    /// Send one chunk that is not JSON half-way through.
    Malformed,
}

impl FaultKind {
    /// All kinds, in the order `--fault-kinds` documents them.
    pub const ALL: [FaultKind; 5] = [
        FaultKind::Http500,
        FaultKind::Http429,
        FaultKind::Reset,
        FaultKind::Stall,
        FaultKind::Malformed,
    ];

    /// The command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Http500 => "http500",
            FaultKind::Http429 => "http429",
            FaultKind::Reset => "reset",
            FaultKind::Stall => "stall",
            FaultKind::Malformed => "malformed",
        }
    }
}

impl FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = FaultKind::ALL.iter().map(|k| k.as_str()).collect();
                format!("unknown fault kind `{s}`; use one of {}", names.join(", "))
            })
    }
}

/// Which requests get a fault.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultPlan {
    /// Share of requests that get one, 0..=1.
    pub rate: f64,
    /// Kinds to choose from, uniformly.
    pub kinds: Vec<FaultKind>,
    /// Seed of the choice.
    pub seed: u64,
}

impl FaultPlan {
    /// No faults.
    pub fn none() -> FaultPlan {
        FaultPlan {
            rate: 0.0,
            kinds: Vec::new(),
            seed: 0,
        }
    }

    /// The fault (if any) for the `n`-th request the server received.
    pub fn pick(&self, n: u64) -> Option<FaultKind> {
        if self.rate <= 0.0 || self.kinds.is_empty() {
            return None;
        }
        let mut rng = Rng::for_item(self.seed ^ 0xFA17, n);
        (rng.f64() < self.rate).then(|| self.kinds[rng.below(self.kinds.len() as u64) as usize])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_respected_and_seeded() {
        let plan = FaultPlan {
            rate: 0.05,
            kinds: vec![FaultKind::Reset, FaultKind::Http500],
            seed: 3,
        };
        let picks: Vec<_> = (0..10_000).map(|n| plan.pick(n)).collect();
        let hit = picks.iter().filter(|p| p.is_some()).count();
        assert!((400..600).contains(&hit), "{hit}");
        assert!(
            picks.contains(&Some(FaultKind::Reset)) && picks.contains(&Some(FaultKind::Http500))
        );
        assert_eq!(picks, (0..10_000).map(|n| plan.pick(n)).collect::<Vec<_>>());
        assert_eq!(FaultPlan::none().pick(1), None);
    }

    #[test]
    fn names_round_trip() {
        for k in FaultKind::ALL {
            assert_eq!(k.as_str().parse::<FaultKind>().unwrap(), k);
        }
        assert!("boom".parse::<FaultKind>().unwrap_err().contains("http500"));
    }
}
