# Shared settings and helpers for scripts/slurm/{setup,teardown,smoke}.sh. Sourced, not run.
# Knobs (environment, all optional; setup.sh and teardown.sh must see the same values):
#   LLMB_SLURM_NODES=8            emulated nodes node1..nodeN
#   LLMB_SLURM_GPUS=4             fake GPUs per node (GRES gpu:N)
#   LLMB_SLURM_CPUS=16            CPUs advertised per node (fiction; the host has what it has)
#   LLMB_SLURM_MEM_MB=65536       RealMemory advertised per node (fiction too)
#   LLMB_SLURM_DEF_MEM_PER_CPU=2048  MB per CPU for jobs without --mem (a hard limit under cgroups)
#   LLMB_SLURM_PARTITION=gpu      the single, default partition
#   LLMB_SLURM_DEFAULT_TIME=60    minutes a job gets when it gives no --time
#   LLMB_SLURM_CGROUP=auto        auto | yes | no  (cgroup v1 memory enforcement)
#   LLMB_SLURM_PMIX=1             install libpmix2 so `srun --mpi=pmix` works (0: skip)
#   LLMB_SLURM_PORT_BASE=17000    slurmd of nodeK listens on BASE+K

NODES=${LLMB_SLURM_NODES:-8}
GPUS=${LLMB_SLURM_GPUS:-4}
CPUS=${LLMB_SLURM_CPUS:-16}
MEM=${LLMB_SLURM_MEM_MB:-65536}
DEFMEM=${LLMB_SLURM_DEF_MEM_PER_CPU:-2048}
PARTITION=${LLMB_SLURM_PARTITION:-gpu}
DEFAULT_TIME=${LLMB_SLURM_DEFAULT_TIME:-60}
CGROUP=${LLMB_SLURM_CGROUP:-auto}
PMIX=${LLMB_SLURM_PMIX:-1}
PORT_BASE=${LLMB_SLURM_PORT_BASE:-17000}
CLUSTER=llmb

ETC=/etc/slurm                 # where Debian's slurm commands look for slurm.conf
RUNDIR=/run/slurm              # pid files
LOGDIR=/var/log/slurm
STATEDIR=/var/spool/slurmctld
SPOOLDIR=/var/spool/slurmd     # one subdir per emulated node
GPUDIR=/run/llmb-slurm/fake-gpu
MARKDIR=/var/lib/llmb-slurm    # remembers that we (not someone else) started munged/mariadb
LOCKFILE=/run/llmb-slurm.lock
DB_NAME=slurm_acct_db
DB_USER=slurm
DB_PASS=llmb-local-test
PMIX_LIBDIR=/usr/lib/x86_64-linux-gnu/pmix2/lib
HOSTS_TAG='# llmb-slurm-nodes'

HOST=$(hostname -s 2>/dev/null || hostname)

_T0=$(date +%s.%N)
_elapsed() { awk -v a="$_T0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }

# pid_of PIDFILE WORD: print the pid if that process is alive and WORD is part of its command line
# (so a stale pid file whose number was reused by another process does not count)
pid_of() {
  local f=$1 want=$2 p
  [ -s "$f" ] || return 1
  p=$(tr -dc '0-9' < "$f")
  [ -n "$p" ] && [ -r "/proc/$p/cmdline" ] || return 1
  tr '\0' ' ' < "/proc/$p/cmdline" | grep -qw -- "$want" || return 1
  echo "$p"
}

# daemon name a slurm pid file belongs to: slurmd-node3.pid -> node3 (the -N argument), else its basename
pidfile_word() {
  local b
  b=$(basename "$1" .pid)
  case "$b" in slurmd-*) echo "${b#slurmd-}" ;; *) echo "$b" ;; esac
}

# stop_pidfiles FILE...: SIGTERM every live daemon at once (each slurmd needs ~1 s to exit),
# wait up to 15 s, SIGKILL what is left; the pid files are removed.
stop_pidfiles() {
  local f p pids=() i alive
  for f in "$@"; do
    [ -e "$f" ] || continue
    if p=$(pid_of "$f" "$(pidfile_word "$f")"); then
      kill -TERM "$p" 2>/dev/null && pids+=("$p")
    fi
    rm -f "$f"
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  for i in $(seq 1 150); do
    alive=0
    for p in "${pids[@]}"; do [ -d "/proc/$p" ] && alive=1; done
    [ "$alive" = 0 ] && return 0
    sleep 0.1
  done
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  sleep 0.2
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds or the deadline passes
wait_for() {
  local end=$(( $(date +%s) + $1 )); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$end" ] || return 1
    sleep 0.2
  done
}

munge_ok() { munge -n 2>/dev/null | unmunge >/dev/null 2>&1; }
db_ok()    { mysqladmin --protocol=socket ping >/dev/null 2>&1; }
ctld_ok()  { timeout 5 scontrol ping 2>/dev/null | grep -q 'is UP'; }
# sacct answers from slurmdbd (a query for jobs that started in the last minute: cheap)
sacct_ok() { timeout 5 sacct -n -X -P -o JobID -S now-1minutes >/dev/null 2>&1; }
