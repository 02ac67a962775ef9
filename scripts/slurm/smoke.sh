#!/usr/bin/env bash
# scripts/slurm/smoke.sh - quick end-to-end check of the cluster from scripts/slurm/setup.sh.
#
#   1. a 2-node batch job (4 tasks and 4 GPUs per node) whose `srun` prints SLURMD_NODENAME
#      and CUDA_VISIBLE_DEVICES, run through an executable in a fresh folder under /tmp:
#      must end COMPLETED and must have run on 2 distinct nodes
#   2. a job that runs `exit 3`: must end FAILED with ExitCode 3:0
#   3. a running job that gets `scancel`: must end CANCELLED
#   4. with --timeout only: a running job whose limit is cut with
#      `scontrol update TimeLimit=0`: must end TIMEOUT (takes up to ~30 s more)
# States are read from sacct, polled every 0.2 s up to a deadline (no fixed sleeps).
# Prints one line per check and "N passed, N failed"; exit status 1 if anything failed.
# Usage: scripts/slurm/smoke.sh [--timeout] [--keep]   (--keep: leave the work folder)
set -uo pipefail

WITH_TIMEOUT=0 KEEP=0
for a in "$@"; do
  case "$a" in
    --timeout) WITH_TIMEOUT=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $a (see --help)" >&2; exit 2 ;;
  esac
done

T0=$(date +%s.%N)
elapsed() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
PASS=0 FAILED=0
ok()  { PASS=$((PASS + 1));     echo "  ok    [+$(elapsed)s] $*"; }
bad() { FAILED=$((FAILED + 1)); echo "  FAIL  [+$(elapsed)s] $*"; }

timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP' \
  || { echo "slurmctld does not answer: run scripts/slurm/setup.sh first" >&2; exit 1; }
GPN=$(sinfo -h -N -o '%G' | head -1 | sed -n 's/.*gpu:\([^:(,]*:\)\{0,1\}\([0-9][0-9]*\).*/\2/p')
GPN=${GPN:-4}

WORK=$(mktemp -d /tmp/llmb-slurm-smoke.XXXXXX)
cleanup() { [ "$KEEP" = 1 ] || rm -rf "$WORK"; }
trap cleanup EXIT
cd "$WORK" || exit 1
echo "smoke: work folder $WORK, $(sinfo -h -o '%D nodes, partition %P, gres %G' | head -1)"

# state of a job from accounting: first word ("CANCELLED by 0" -> CANCELLED)
state() { sacct -n -X -P -j "$1" -o State 2>/dev/null | head -1 | awk '{print $1}'; }
TERMINAL='^(COMPLETED|FAILED|TIMEOUT|CANCELLED|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)$'
# wait_state JOB REGEX SECONDS: poll sacct until the state matches; prints the last state
wait_state() {
  local end s
  end=$(( $(date +%s) + $3 ))
  while :; do
    s=$(state "$1")
    [[ $s =~ $2 ]] && { echo "$s"; return 0; }
    [ "$(date +%s)" -lt "$end" ] || { echo "${s:-none}"; return 1; }
    sleep 0.2
  done
}
# wait_running JOB SECONDS: the controller knows first; sacct shows RUNNING ~1-3 s later
wait_running() {
  local end=$(( $(date +%s) + $2 ))
  until scontrol -o show job "$1" 2>/dev/null | grep -q 'JobState=RUNNING'; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}
submit() { sbatch --parsable "$@" | cut -d';' -f1; }

# A program in an arbitrary folder, run from its own working directory on two nodes: the
# emulated nodes share this machine's filesystem, so any path works, as root too.
mkdir -p bin
cat > bin/where <<'EOF'
#!/bin/sh
echo "task=$SLURM_PROCID node=$SLURMD_NODENAME host=$(hostname) cvd=$CUDA_VISIBLE_DEVICES cwd=$(pwd)"
EOF
chmod +x bin/where
cat > two.sbatch <<'EOF'
#!/bin/bash
echo "nodelist=$SLURM_JOB_NODELIST nnodes=$SLURM_NNODES ntasks=$SLURM_NTASKS batch_node=$SLURMD_NODENAME"
srun ./bin/where | sort
EOF

J_TWO=$(submit -J smoke-two -N 2 --ntasks-per-node=4 --gres=gpu:"$GPN" -t 2 -o two.out two.sbatch)
J_FAIL=$(submit -J smoke-fail -t 1 -o fail.out --wrap 'echo failing on purpose; exit 3')
J_CANCEL=$(submit -J smoke-cancel -t 5 -o /dev/null --wrap 'sleep 300')
[ "$WITH_TIMEOUT" = 1 ] && J_TIME=$(submit -J smoke-timeout -t 5 -o /dev/null --wrap 'sleep 300')
echo "smoke: submitted $J_TWO (2-node), $J_FAIL (exit 3), $J_CANCEL (to cancel)${J_TIME:+, $J_TIME (to time out)}"

# 1. two-node job
if s=$(wait_state "$J_TWO" "$TERMINAL" 60) && [ "$s" = COMPLETED ]; then
  ok "2-node job $J_TWO COMPLETED"
else
  bad "2-node job $J_TWO ended '$s', expected COMPLETED"
fi
nodes=$(grep -o 'node=node[0-9]*' two.out 2>/dev/null | sort -u | wc -l)
tasks=$(grep -c '^task=' two.out 2>/dev/null)
if [ "$nodes" -eq 2 ] && [ "$tasks" -eq 8 ]; then
  ok "2-node job: 8 tasks on 2 distinct nodes"
else
  bad "2-node job: $tasks tasks on $nodes distinct nodes, expected 8 on 2"
fi
if grep -q 'cvd=[0-9]' two.out 2>/dev/null; then
  ok "CUDA_VISIBLE_DEVICES set in tasks ($(grep -o 'cvd=[^ ]*' two.out | sort -u | tr '\n' ' '))"
else
  bad "CUDA_VISIBLE_DEVICES not set in tasks"
fi
sed 's/^/        /' two.out 2>/dev/null
# sacct may report COMPLETED a second or two before its NodeList is right (it shows the
# first node only until the job's start record lands): poll for the full list too
want=$(scontrol -o show job "$J_TWO" | grep -o ' NodeList=[^ ]*' | cut -d= -f2)
end=$(( $(date +%s) + 10 ))
until got=$(sacct -n -X -P -j "$J_TWO" -o NodeList 2>/dev/null); [ "$got" = "$want" ] || [ "$(date +%s)" -ge "$end" ]; do
  sleep 0.2
done
if [ "$got" = "$want" ]; then ok "sacct NodeList of job $J_TWO: $got"; else bad "sacct NodeList '$got', scontrol says '$want'"; fi

# 2. failing job
if s=$(wait_state "$J_FAIL" "$TERMINAL" 30) && [ "$s" = FAILED ]; then
  ec=$(sacct -n -X -P -j "$J_FAIL" -o ExitCode)
  if [ "$ec" = 3:0 ]; then ok "exit-3 job $J_FAIL FAILED, ExitCode $ec"; else bad "exit-3 job ExitCode '$ec', expected 3:0"; fi
else
  bad "exit-3 job $J_FAIL ended '$s', expected FAILED"
fi

# 3. cancel once it runs
if wait_running "$J_CANCEL" 30; then
  scancel "$J_CANCEL"
  if s=$(wait_state "$J_CANCEL" "$TERMINAL" 30) && [ "$s" = CANCELLED ]; then
    ok "scancel'd job $J_CANCEL CANCELLED (sacct: '$(sacct -n -X -P -j "$J_CANCEL" -o State)')"
  else
    bad "scancel'd job $J_CANCEL ended '$s', expected CANCELLED"
  fi
else
  bad "job $J_CANCEL never started running"; scancel "$J_CANCEL"
fi

# 4. TIMEOUT in <= ~30 s: limits are whole minutes, checked by slurmctld every 30 s
if [ "$WITH_TIMEOUT" = 1 ]; then
  if wait_running "$J_TIME" 30; then
    scontrol update JobId="$J_TIME" TimeLimit=0
    if s=$(wait_state "$J_TIME" "$TERMINAL" 60) && [ "$s" = TIMEOUT ]; then
      ok "job $J_TIME TIMEOUT after TimeLimit=0 (Elapsed $(sacct -n -X -P -j "$J_TIME" -o Elapsed))"
    else
      bad "job $J_TIME ended '$s', expected TIMEOUT"
    fi
  else
    bad "job $J_TIME never started running"; scancel "$J_TIME"
  fi
fi

echo "smoke: $PASS passed, $FAILED failed in $(elapsed) s"
[ "$FAILED" = 0 ]
