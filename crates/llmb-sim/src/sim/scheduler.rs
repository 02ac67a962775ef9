//! The continuous-batching scheduler: an actor that owns the queue and the running batch,
//! steps like an engine iteration and tells each request how many tokens it produced.
//!
//! Policy (documented in docs/SIMULATOR.md): FCFS admission while the batch has room
//! (`max_batch_size`) and the KV cache can hold the whole sequence (prompt + output
//! reserved at admission, as TensorRT-LLM's GUARANTEED_NO_EVICT); each iteration first
//! gives every decoding sequence one token, then spends what is left of `max_num_tokens`
//! on prefill chunks in arrival order (chunked prefill). A sequence whose prefill completes
//! in an iteration produces its first token at the end of that iteration. A sequence whose
//! KV cache was transferred (disaggregated decode) is admitted already prefilled.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::cost_model::StepCost;
use super::metrics::SimMetrics;

/// Limits of the simulated engine.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SchedulerConfig {
    /// Most sequences in one iteration.
    pub max_batch_size: usize,
    /// Most tokens (prefill + decode) in one iteration.
    pub max_num_tokens: u64,
    /// KV-cache capacity in tokens.
    pub kv_cache_tokens: u64,
    /// Iteration time model.
    pub cost: StepCost,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            max_batch_size: 256,
            max_num_tokens: 8192,
            kv_cache_tokens: 2_000_000,
            cost: StepCost::default(),
        }
    }
}

/// A sequence handed to the scheduler.
#[derive(Debug)]
pub struct Admit {
    /// Prompt tokens to prefill.
    pub prompt_tokens: u64,
    /// Tokens to generate.
    pub output_tokens: u64,
    /// The prompt's KV cache came from a prefill worker (disaggregated decode): the
    /// sequence holds its KV capacity as usual but skips prefill and decodes from its
    /// first iteration.
    pub kv_transferred: bool,
    /// Receives the number of tokens produced at each iteration that produced any.
    pub tokens: mpsc::UnboundedSender<u32>,
}

#[derive(Debug)]
struct Seq {
    prompt: u64,
    prefilled: u64,
    target: u64,
    generated: u64,
    tokens: mpsc::UnboundedSender<u32>,
}

impl Seq {
    fn kv_need(&self) -> u64 {
        self.prompt + self.target
    }
    fn decoding(&self) -> bool {
        self.prefilled == self.prompt
    }
}

/// What one iteration does: `prefill[i]` prompt tokens for running sequence `i`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepPlan {
    /// Prompt tokens per running sequence (0 for decoders).
    pub prefill: Vec<u64>,
    /// Number of decoding sequences.
    pub decode_seqs: usize,
}

impl StepPlan {
    /// Prompt tokens in the iteration.
    pub fn prefill_tokens(&self) -> u64 {
        self.prefill.iter().sum()
    }
}

/// The scheduler's state, driven by the actor and tested without tasks or clocks.
#[derive(Debug)]
pub struct State {
    cfg: SchedulerConfig,
    waiting: VecDeque<Seq>,
    running: Vec<Seq>,
    kv_used: u64,
}

impl State {
    /// An idle engine.
    pub fn new(cfg: SchedulerConfig) -> State {
        State {
            cfg,
            waiting: VecDeque::new(),
            running: Vec::new(),
            kv_used: 0,
        }
    }

    /// Queues a sequence; refuses one that could never fit the KV cache.
    pub fn push(&mut self, a: Admit) -> Result<(), Admit> {
        if a.prompt_tokens + a.output_tokens > self.cfg.kv_cache_tokens {
            return Err(a);
        }
        self.waiting.push_back(Seq {
            prompt: a.prompt_tokens,
            prefilled: if a.kv_transferred { a.prompt_tokens } else { 0 },
            target: a.output_tokens.max(1),
            generated: 0,
            tokens: a.tokens,
        });
        Ok(())
    }

    /// Nothing queued or running.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty() && self.running.is_empty()
    }

    /// (running, waiting, KV tokens in use).
    pub fn occupancy(&self) -> (usize, usize, u64) {
        (self.running.len(), self.waiting.len(), self.kv_used)
    }

    /// Admits waiting sequences FCFS, then plans the next iteration.
    pub fn plan(&mut self) -> StepPlan {
        self.running.retain(|s| !s.tokens.is_closed());
        self.kv_used = self.running.iter().map(Seq::kv_need).sum();
        while let Some(next) = self.waiting.front() {
            if next.tokens.is_closed() {
                self.waiting.pop_front();
                continue;
            }
            if self.running.len() >= self.cfg.max_batch_size
                || self.kv_used + next.kv_need() > self.cfg.kv_cache_tokens
            {
                break;
            }
            let s = self.waiting.pop_front().expect("front exists");
            self.kv_used += s.kv_need();
            self.running.push(s);
        }
        let decode_seqs = self.running.iter().filter(|s| s.decoding()).count();
        let mut budget = self.cfg.max_num_tokens.saturating_sub(decode_seqs as u64);
        let prefill = self
            .running
            .iter()
            .map(|s| {
                if s.decoding() {
                    return 0;
                }
                let take = (s.prompt - s.prefilled).min(budget);
                budget -= take;
                take
            })
            .collect();
        StepPlan {
            prefill,
            decode_seqs,
        }
    }

    /// Applies a finished iteration: advances prefills, emits tokens, retires finished
    /// sequences. Returns (prompt tokens processed, tokens generated, first tokens emitted).
    pub fn apply(&mut self, plan: &StepPlan) -> (u64, u64, u64) {
        let (mut generated, mut firsts) = (0, 0);
        for (s, &chunk) in self.running.iter_mut().zip(&plan.prefill) {
            let was_decoding = s.decoding();
            s.prefilled += chunk;
            if was_decoding || (chunk > 0 && s.decoding()) {
                s.generated += 1;
                generated += 1;
                if !was_decoding {
                    firsts += 1;
                }
                let _ = s.tokens.send(1);
            }
        }
        self.running
            .retain(|s| s.generated < s.target && !s.tokens.is_closed());
        self.kv_used = self.running.iter().map(Seq::kv_need).sum();
        (plan.prefill_tokens(), generated, firsts)
    }

    /// Duration of the planned iteration.
    pub fn step_time(&self, plan: &StepPlan) -> Duration {
        self.cfg.cost.step(plan.prefill_tokens(), plan.decode_seqs)
    }
}

/// Handle to the scheduler task.
#[derive(Debug, Clone)]
pub struct SchedulerHandle {
    tx: mpsc::UnboundedSender<Admit>,
}

impl SchedulerHandle {
    /// Starts the actor on the current runtime.
    pub fn spawn(cfg: SchedulerConfig, metrics: Arc<SimMetrics>) -> SchedulerHandle {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(scheduler_task(State::new(cfg), rx, metrics));
        SchedulerHandle { tx }
    }

    /// Queues a sequence; `false` if the engine is gone.
    pub fn admit(&self, a: Admit) -> bool {
        self.tx.send(a).is_ok()
    }
}

async fn scheduler_task(
    mut state: State,
    mut rx: mpsc::UnboundedReceiver<Admit>,
    metrics: Arc<SimMetrics>,
) {
    let mut next_step = Instant::now();
    loop {
        if state.is_idle() {
            match rx.recv().await {
                Some(a) => {
                    let _ = state.push(a);
                }
                None => return,
            }
            next_step = next_step.max(Instant::now());
        }
        while let Ok(a) = rx.try_recv() {
            let _ = state.push(a);
        }
        let plan = state.plan();
        let (running, waiting, kv) = state.occupancy();
        metrics.set_occupancy(running, waiting, kv);
        if plan.decode_seqs == 0 && plan.prefill_tokens() == 0 {
            // Nothing can run (all waiting senders closed): wait for new work.
            if state.is_idle() {
                continue;
            }
            tokio::task::yield_now().await;
            continue;
        }
        next_step += state.step_time(&plan);
        tokio::time::sleep_until(next_step).await;
        let (prompt, generated, _) = state.apply(&plan);
        metrics.add_tokens(prompt, generated);
        // Finished sequences left the batch: the gauges say so before the next wait.
        let (running, waiting, kv) = state.occupancy();
        metrics.set_occupancy(running, waiting, kv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(batch: usize, tokens: u64, kv: u64) -> SchedulerConfig {
        SchedulerConfig {
            max_batch_size: batch,
            max_num_tokens: tokens,
            kv_cache_tokens: kv,
            cost: StepCost::default(),
        }
    }

    fn admit(st: &mut State, prompt: u64, out: u64) -> mpsc::UnboundedReceiver<u32> {
        let (tx, rx) = mpsc::unbounded_channel();
        st.push(Admit {
            prompt_tokens: prompt,
            output_tokens: out,
            kv_transferred: false,
            tokens: tx,
        })
        .unwrap();
        rx
    }

    fn drain(rx: &mut mpsc::UnboundedReceiver<u32>) -> u32 {
        let mut n = 0;
        while let Ok(k) = rx.try_recv() {
            n += k;
        }
        n
    }

    #[test]
    fn chunked_prefill_then_one_token_per_step() {
        let mut st = State::new(cfg(8, 100, 10_000));
        let mut a = admit(&mut st, 250, 3);
        // 250 prompt tokens at 100 per step: 3 steps of prefill, the third emits the first token
        for expected in [(100, 0), (100, 0), (50, 1)] {
            let p = st.plan();
            assert_eq!((p.prefill_tokens(), drain(&mut a)), (expected.0, 0));
            st.apply(&p);
            assert_eq!(drain(&mut a), expected.1);
        }
        for _ in 0..2 {
            let p = st.plan();
            assert_eq!((p.prefill_tokens(), p.decode_seqs), (0, 1));
            st.apply(&p);
            assert_eq!(drain(&mut a), 1);
        }
        assert!(st.is_idle());
    }

    #[test]
    fn decoders_take_budget_first_and_batch_is_capped() {
        let mut st = State::new(cfg(2, 10, 10_000));
        let mut a = admit(&mut st, 5, 10);
        let _b = admit(&mut st, 20, 10);
        let _c = admit(&mut st, 5, 10);
        let p = st.plan();
        assert_eq!(p.prefill, vec![5, 5]); // c waits: batch of 2
        st.apply(&p);
        assert_eq!(drain(&mut a), 1);
        let p = st.plan();
        // a decodes (1 token), leaving 9 for b's prefill
        assert_eq!((p.decode_seqs, p.prefill.clone()), (1, vec![0, 9]));
        assert_eq!(st.occupancy().1, 1);
    }

    #[test]
    fn kv_capacity_holds_requests_back() {
        let mut st = State::new(cfg(8, 1000, 100));
        let mut a = admit(&mut st, 50, 40); // needs 90
        let mut b = admit(&mut st, 10, 5); // needs 15: waits
        let p = st.plan();
        assert_eq!(p.prefill, vec![50]);
        assert_eq!(st.occupancy(), (1, 1, 90));
        for _ in 0..40 {
            let p = st.plan();
            st.apply(&p);
        }
        assert_eq!(drain(&mut a), 40);
        let p = st.plan();
        assert_eq!(p.prefill, vec![10]);
        st.apply(&p);
        assert_eq!(drain(&mut b), 1);
        let (tx, _rx) = mpsc::unbounded_channel();
        assert!(st
            .push(Admit {
                prompt_tokens: 90,
                output_tokens: 20,
                kv_transferred: false,
                tokens: tx
            })
            .is_err());
    }

    #[test]
    fn transferred_kv_skips_prefill_but_holds_capacity() {
        let mut st = State::new(cfg(8, 100, 1_000));
        let (tx, mut d) = mpsc::unbounded_channel();
        st.push(Admit {
            prompt_tokens: 500,
            output_tokens: 3,
            kv_transferred: true,
            tokens: tx,
        })
        .unwrap();
        let mut b = admit(&mut st, 50, 2);
        let p = st.plan();
        // the transferred sequence decodes at once; the other one prefills next to it
        assert_eq!((p.decode_seqs, p.prefill.clone()), (1, vec![0, 50]));
        assert_eq!(st.occupancy().2, 503 + 52);
        let (prompt, generated, firsts) = st.apply(&p);
        assert_eq!((prompt, generated, firsts), (50, 2, 1));
        assert_eq!((drain(&mut d), drain(&mut b)), (1, 1));
        for _ in 0..2 {
            let p = st.plan();
            st.apply(&p);
        }
        assert_eq!(drain(&mut d), 2);
        assert!(st.is_idle());
    }

    #[test]
    fn cancelled_requests_leave() {
        let mut st = State::new(cfg(8, 1000, 10_000));
        let a = admit(&mut st, 10, 100);
        let p = st.plan();
        st.apply(&p);
        drop(a);
        let p = st.plan();
        assert_eq!(p.decode_seqs, 0);
        assert!(st.is_idle());
    }
}
