#!/usr/bin/env bash
# AIPerf's own data models, for the test that loads llmb's AIPerf files with them
# (crates/llmb/tests/it/aiperf.rs): a venv with aiperf 0.13.0 (Apache-2.0, from PyPI) and
# only the packages its export, record and dataset models import (about 175 MB, about a
# minute cold, cached afterwards).
#
# Usage:
#   aiperf-models.sh test-env    install (idempotent), then print `export` lines to eval:
#                                LLMB_TEST_AIPERF=1 LLMB_AIPERF_PYTHON=<python>
#                                Prints nothing when PyPI cannot be reached (the test is
#                                then reported as ignored).
#
# Environment: LLMB_CACHE (default ~/.cache/llmb), PYTHON (default python3).
set -euo pipefail

readonly AIPERF_VER=0.13.0
ROOT=${LLMB_CACHE:-$HOME/.cache/llmb}/aiperf-$AIPERF_VER
PY=${PYTHON:-python3}
# What aiperf.common.models imports, resolved once (the full aiperf install is 1.2 GB:
# pandas, pyarrow, transformers and more that the models never touch).
# Versions within aiperf 0.13.0's own requirements.
readonly DEPS="pydantic==2.14.4 pydantic-settings==2.16.3 orjson~=3.11.7 msgspec==0.23.0 numpy==2.4.6
ruamel.yaml~=0.18.12 PyYAML==6.0.4 Jinja2==3.1.6 cyclopts>=4,<5 rich~=14.1.0"

say() { echo "[aiperf-models.sh] $*" >&2; }

install() {
    if [ -f "$ROOT/.ready" ]; then return 0; fi
    say "creating $ROOT (aiperf $AIPERF_VER data models)"
    rm -rf "$ROOT"
    "$PY" -m venv "$ROOT" >&2
    local log="$ROOT/install.log"
    # pip's resolver lists every aiperf requirement left out on purpose: into the log.
    # shellcheck disable=SC2086
    if ! { "$ROOT/bin/pip" install -q --disable-pip-version-check --no-deps "aiperf==$AIPERF_VER" \
            && "$ROOT/bin/pip" install -q --disable-pip-version-check $DEPS \
            && "$ROOT/bin/python" -c "from aiperf.common.models.export_models import JsonExportData; from aiperf.common.models import MetricRecordInfo, InputsFile"; } >"$log" 2>&1; then
        say "install failed; last lines of $log:"
        tail -5 "$log" >&2
        return 1
    fi
    touch "$ROOT/.ready"
}

case "${1:-}" in
    test-env)
        if install; then
            echo "export LLMB_TEST_AIPERF=1 LLMB_AIPERF_PYTHON=$ROOT/bin/python"
        else
            say "could not install aiperf $AIPERF_VER's models: the AIPerf model test will be ignored"
        fi
        ;;
    *)
        echo "usage: $0 test-env" >&2
        exit 2
        ;;
esac
