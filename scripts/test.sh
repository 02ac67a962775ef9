#!/usr/bin/env bash
# The project's test command: builds in release mode (one compile serves build and tests)
# and runs every test. Needs only a Rust toolchain; tests start their own servers on free
# loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
cargo test --release --locked --workspace
