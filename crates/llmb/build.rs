//! Turns the test setup's environment into cfgs, so tests that need a real service are
//! compiled as ignored (and reported as such by the test runner) unless the service is set
//! up: `LLMB_TEST_SLURM=1` (scripts/slurm/setup.sh) gives `llmb_slurm`, `LLMB_TEST_LLAMA=1`
//! (scripts/engines/llama-cpp.sh test-env) gives `llmb_llama`, `LLMB_TEST_AIPERF=1`
//! (scripts/aiperf-models.sh test-env) gives `llmb_aiperf`. scripts/test.sh sets all three.

fn main() {
    for (var, cfg) in [
        ("LLMB_TEST_SLURM", "llmb_slurm"),
        ("LLMB_TEST_LLAMA", "llmb_llama"),
        ("LLMB_TEST_AIPERF", "llmb_aiperf"),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var(var).is_ok_and(|v| v == "1") {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
