#!/usr/bin/env bash
# The project's test command: builds in release mode (one compile serves build and tests),
# starts the local Slurm test cluster (scripts/slurm/setup.sh: idempotent, <1 s when it is
# already up, ~30 s cold; needs root) and runs every test, the real-Slurm ones included
# (LLMB_TEST_SLURM=1). Other tests start their own servers on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
bash scripts/slurm/setup.sh
export LLMB_TEST_SLURM=1
cargo test --release --locked --workspace
