#!/usr/bin/env bash
# scripts/slurm/setup.sh - install and start a real Slurm cluster on this one machine, for
# llmb's Slurm integration tests. Debian 12 (Slurm 22.05 from Debian), run as root, no systemd.
#
#   slurmctld + slurmdbd (MariaDB) + munged, and one `slurmd -N nodeK` per emulated node
#   (node1..node8 by default), each node with 4 fake GPUs (GRES gpu:4, device files that
#   point at /dev/null). One partition, `gpu`, the default. `sacct` works.
#
# Idempotent. When the cluster is already up with this config it only checks it and exits
# (well under a second). When part of it is down it starts what is missing; when the config
# changed it restarts the Slurm daemons. Job state is kept either way (job ids continue).
#
# Usage: scripts/slurm/setup.sh [--restart] [--no-install] [--render DIR]
#   --restart     restart every Slurm daemon even if all is healthy
#   --no-install  fail instead of running apt-get when packages are missing
#   --render DIR  only write the config files it would install into DIR and exit
# Knobs: LLMB_SLURM_* environment variables, see scripts/slurm/lib.sh.
# Stop it with scripts/slurm/teardown.sh.
set -Eeuo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

RESTART=0 INSTALL=1 RENDER_DIR=
while [ $# -gt 0 ]; do
  case "$1" in
    --restart) RESTART=1 ;;
    --no-install) INSTALL=0 ;;
    --render) RENDER_DIR=${2:?--render needs a directory}; shift ;;
    -h|--help) sed -n '2,/^set -E/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

log() { echo "[slurm setup +$(_elapsed)s] $*" >&2; }
STEP=start STEP_LOGS=()
step() { STEP=$1; shift; STEP_LOGS=("$@"); }
fail() {
  trap - ERR
  echo "[slurm setup +$(_elapsed)s] FAILED in step '$STEP': $*" >&2
  local f
  for f in "${STEP_LOGS[@]}"; do
    [ -s "$f" ] || continue
    echo "----- last lines of $f -----" >&2
    tail -n 25 "$f" >&2
  done
  exit 1
}
trap 'fail "command failed (line $LINENO): $BASH_COMMAND"' ERR

for v in NODES GPUS CPUS MEM DEFMEM DEFAULT_TIME PORT_BASE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || fail "$v must be a whole number, got '${!v}'"
done
[ "$NODES" -ge 2 ] || fail "LLMB_SLURM_NODES must be at least 2"
[ "$GPUS" -ge 1 ] || fail "LLMB_SLURM_GPUS must be at least 1"
[ -n "$HOST" ] || fail "cannot determine the host name"

# ------------------------------------------------------------------ config ---
cgroup_v1_usable() {
  # Slurm 22.05's cgroup/v1 plugin wants the v1 memory and freezer hierarchies, writable
  grep -q '^cgroup /sys/fs/cgroup/memory cgroup ' /proc/mounts || return 1
  grep -q '^cgroup /sys/fs/cgroup/freezer cgroup ' /proc/mounts || return 1
  local probe=/sys/fs/cgroup/memory/llmb_slurm_probe_$$
  mkdir "$probe" 2>/dev/null || return 1
  rmdir "$probe" 2>/dev/null || true
}
USE_CGROUP=no
case "$CGROUP" in
  yes) cgroup_v1_usable || fail "LLMB_SLURM_CGROUP=yes but cgroup v1 memory/freezer is not usable"; USE_CGROUP=yes ;;
  auto) if cgroup_v1_usable; then USE_CGROUP=yes; fi ;;
  no) ;;
  *) fail "LLMB_SLURM_CGROUP must be auto, yes or no" ;;
esac

CONF_FILES=(slurm.conf gres.conf slurmdbd.conf)
[ "$USE_CGROUP" = yes ] && CONF_FILES+=(cgroup.conf)

render_config() {  # $1: output dir; fills the templates in conf/*.in
  local out=$1 f proctrack task params
  mkdir -p "$out"
  if [ "$USE_CGROUP" = yes ]; then
    proctrack=proctrack/cgroup task=task/cgroup
    params='# memory limits are enforced by task/cgroup (cgroup.conf)'
  else
    proctrack=proctrack/linuxproc task=task/none
    params='JobAcctGatherParams=OverMemoryKill'
  fi
  for f in "${CONF_FILES[@]}"; do
    sed -e "s|@HOST@|$HOST|g" -e "s|@CLUSTER@|$CLUSTER|g" -e "s|@NODES@|$NODES|g" \
        -e "s|@GPUS@|$GPUS|g" -e "s|@GPU_LAST@|$((GPUS - 1))|g" -e "s|@GPUDIR@|$GPUDIR|g" \
        -e "s|@CPUS@|$CPUS|g" -e "s|@MEM@|$MEM|g" -e "s|@DEFMEM@|$DEFMEM|g" \
        -e "s|@PARTITION@|$PARTITION|g" -e "s|@DEFAULT_TIME@|$DEFAULT_TIME|g" \
        -e "s|@PORT_FIRST@|$((PORT_BASE + 1))|g" -e "s|@PORT_LAST@|$((PORT_BASE + NODES))|g" \
        -e "s|@STATEDIR@|$STATEDIR|g" -e "s|@SPOOLDIR@|$SPOOLDIR|g" -e "s|@RUNDIR@|$RUNDIR|g" \
        -e "s|@LOGDIR@|$LOGDIR|g" -e "s|@PROCTRACK@|$proctrack|g" -e "s|@TASKPLUGIN@|$task|g" \
        -e "s|@JOBACCT_PARAMS@|$params|g" -e "s|@DB_NAME@|$DB_NAME|g" \
        -e "s|@DB_USER@|$DB_USER|g" -e "s|@DB_PASS@|$DB_PASS|g" \
        "$HERE/conf/$f.in" > "$out/$f"
    if grep -q '@[A-Z_]*@' "$out/$f"; then fail "unfilled placeholder in $f: $(grep -o '@[A-Z_]*@' "$out/$f" | head -1)"; fi
  done
  chmod 600 "$out/slurmdbd.conf"   # slurmdbd refuses a config others can read
}

NEW=$(mktemp -d)
trap 'rm -rf "$NEW"' EXIT
step "render config"
render_config "$NEW"
if [ -n "$RENDER_DIR" ]; then
  mkdir -p "$RENDER_DIR"; cp -p "$NEW"/* "$RENDER_DIR"/
  log "config written to $RENDER_DIR (cgroup=$USE_CGROUP)"
  exit 0
fi
config_current() {
  local f
  for f in "${CONF_FILES[@]}"; do cmp -s "$NEW/$f" "$ETC/$f" || return 1; done
  [ "$USE_CGROUP" = yes ] || [ ! -e "$ETC/cgroup.conf" ]
}

# ------------------------------------------------------------ health checks ---
slurmd_alive() { pid_of "$RUNDIR/slurmd-node$1.pid" "node$1" >/dev/null; }
ctld_alive()   { pid_of "$RUNDIR/slurmctld.pid" slurmctld >/dev/null; }
dbd_alive()    { pid_of "$RUNDIR/slurmdbd.pid" slurmdbd >/dev/null; }
# every configured node registered and usable: busy nodes are fine, a '*' (not responding),
# down, drained, failed or unknown node is not
nodes_ready() {
  local states
  states=$(timeout 5 sinfo -h -N -o '%N %T' 2>/dev/null) || return 1
  [ "$(awk '{print $1}' <<<"$states" | sort -u | wc -l)" -eq "$NODES" ] || return 1
  ! awk '{print $2}' <<<"$states" | grep -qE '\*|down|drain|drng|fail|unk|not_resp|future|power|inval|boot'
}
cluster_healthy() {
  local i
  config_current || return 1
  ctld_alive && dbd_alive || return 1
  for i in $(seq 1 "$NODES"); do slurmd_alive "$i" || return 1; done
  [ "$PMIX" != 1 ] || [ -e "$PMIX_LIBDIR/libpmix.so" ] || return 1
  munge_ok && ctld_ok && nodes_ready && sacct_ok
}
summary() { timeout 5 sinfo -h -o '%P %a %D %T %G' 2>/dev/null | tr '\n' ' '; }

[ "$(id -u)" = 0 ] || fail "must run as root"

# Fast path: everything up with this config -> nothing to do.
step "health check"
if [ "$RESTART" = 0 ] && command -v sinfo >/dev/null && cluster_healthy; then
  log "cluster already up: $(summary)"
  exit 0
fi

# One setup/teardown at a time. Every daemon below is started with fd 9 closed, or it
# would hold this lock for its whole life (and the next teardown would wait for it).
exec 9>"$LOCKFILE"
flock -w 600 9 || fail "another setup/teardown holds $LOCKFILE"
if [ "$RESTART" = 0 ] && command -v sinfo >/dev/null && cluster_healthy; then
  log "cluster came up meanwhile: $(summary)"
  exit 0
fi
mkdir -p "$MARKDIR"

# ---------------------------------------------------------------- packages ---
step "packages" "$MARKDIR/apt.log"
PKGS=(munge slurm-client slurmctld slurmd slurmdbd mariadb-server)
[ "$PMIX" = 1 ] && PKGS+=(libpmix2)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$INSTALL" = 1 ] || fail "missing packages: ${missing[*]} (and --no-install given)"
  log "installing ${missing[*]} (apt-get; about 30-60 s the first time)"
  # no service may start from a package script (no systemd here; we start the daemons ourselves)
  made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d; made_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  : > "$MARKDIR/apt.log"
  ok=0
  for try in 1 2 3; do
    if apt-get -o DPkg::Lock::Timeout=300 update -q >>"$MARKDIR/apt.log" 2>&1 &&
       apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" \
         >>"$MARKDIR/apt.log" 2>&1 9>&-; then
      ok=1; break
    fi
    log "apt-get failed (try $try of 3)"; sleep 5
  done
  [ "$made_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
  [ "$ok" = 1 ] || fail "apt-get install ${missing[*]} failed"
  log "packages installed"
fi
# Slurm's mpi/pmix plugin dlopen()s pmix2/lib/libpmix.so, a name only libpmix-dev (which drags
# in autotools) ships: point it at the runtime library instead.
if [ "$PMIX" = 1 ] && [ -e "$PMIX_LIBDIR/libpmix.so.2" ] && [ ! -e "$PMIX_LIBDIR/libpmix.so" ]; then
  ln -s libpmix.so.2 "$PMIX_LIBDIR/libpmix.so"
fi

# ------------------------------------------------------- host names + dirs ---
step "host names and directories"
getent hosts "$HOST" >/dev/null || { echo "127.0.1.1 $HOST" >> /etc/hosts; log "added $HOST to /etc/hosts"; }
# node names resolve to this host (e.g. MASTER_ADDR=$(scontrol show hostnames | head -1))
HOSTS_LINE="127.0.0.1 $(seq -f 'node%g' -s ' ' 1 "$NODES") $HOSTS_TAG"
if ! grep -qxF "$HOSTS_LINE" /etc/hosts; then
  hosts_new=$(grep -vF "$HOSTS_TAG" /etc/hosts; echo "$HOSTS_LINE")
  printf '%s\n' "$hosts_new" > /etc/hosts   # rewritten in place: /etc/hosts may be a bind mount
fi
mkdir -p "$ETC" "$RUNDIR" "$LOGDIR" "$STATEDIR" "$SPOOLDIR" "$GPUDIR"
for i in $(seq 0 $((GPUS - 1))); do ln -sfn /dev/null "$GPUDIR/nvidia$i"; done
for i in $(seq 1 "$NODES"); do
  mkdir -p "$SPOOLDIR/node$i/tmp"; chmod 1777 "$SPOOLDIR/node$i/tmp"
done

step "write config"
CHANGED=0
config_current || CHANGED=1
if [ "$CHANGED" = 1 ]; then
  for f in "${CONF_FILES[@]}"; do install -m "$(stat -c %a "$NEW/$f")" "$NEW/$f" "$ETC/$f"; done
  [ "$USE_CGROUP" = yes ] || rm -f "$ETC/cgroup.conf"
  log "config written to $ETC (nodes=$NODES gpus/node=$GPUS partition=$PARTITION cgroup=$USE_CGROUP)"
fi

# ------------------------------------------------------------------- munge ---
step "munge" /var/log/munge/munged.log
if ! munge_ok; then
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key --force
  fi
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /etc/munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
  chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key; chmod 755 /run/munge
  log "starting munged"
  runuser -u munge -- /usr/sbin/munged --force </dev/null >/dev/null 2>&1 9>&-
  touch "$MARKDIR/munge"
  wait_for 15 munge_ok || fail "munged did not answer within 15 s"
fi

# ----------------------------------------------------------------- mariadb ---
step "mariadb" "$MARKDIR/mariadb-start.log" /var/log/mysql/error.log
if ! db_ok; then
  log "starting mariadb"
  /etc/init.d/mariadb start </dev/null >"$MARKDIR/mariadb-start.log" 2>&1 9>&-
  touch "$MARKDIR/mariadb"
  wait_for 60 db_ok || fail "mariadb did not answer within 60 s"
fi

# ----------------------------------------------------------- slurm daemons ---
start_dbd() {
  step "slurmdbd" "$LOGDIR/slurmdbd.log" "$LOGDIR/slurmdbd.start.log"
  mysql --protocol=socket -e "CREATE DATABASE IF NOT EXISTS $DB_NAME;
    CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
    ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASS';
    GRANT ALL ON $DB_NAME.* TO '$DB_USER'@'localhost'; FLUSH PRIVILEGES;"
  slurmdbd </dev/null >"$LOGDIR/slurmdbd.start.log" 2>&1 9>&-
  wait_for 60 sacctmgr -n -P show cluster || fail "slurmdbd did not answer within 60 s"
}
start_ctld() {
  step "slurmctld" "$LOGDIR/slurmctld.log" "$LOGDIR/slurmctld.start.log"
  slurmctld -i </dev/null >"$LOGDIR/slurmctld.start.log" 2>&1 9>&-
  wait_for 60 ctld_ok || fail "slurmctld did not answer within 60 s"
}
start_slurmd() {  # $1: node number
  step "slurmd node$1" "$LOGDIR/slurmd-node$1.log" "$LOGDIR/slurmd-node$1.start.log"
  mkdir -p "$SPOOLDIR/node$1/tmp"; chmod 1777 "$SPOOLDIR/node$1/tmp"
  slurmd -N "node$1" </dev/null >"$LOGDIR/slurmd-node$1.start.log" 2>&1 9>&- \
    || fail "slurmd -N node$1 exited with an error"
}

FULL=$RESTART
[ "$CHANGED" = 1 ] && FULL=1
if ctld_alive; then ctld_ok || FULL=1; else [ -e "$STATEDIR/job_state" ] || FULL=1; fi
started=() new_nodes=()
T_START=$(date +%s)
if [ "$FULL" = 1 ]; then
  step "stop old slurm daemons"
  # all at once, including slurmd of nodes that are no longer configured
  stop_pidfiles "$RUNDIR"/slurmd-*.pid "$RUNDIR/slurmctld.pid" "$RUNDIR/slurmdbd.pid"
  # controller state saved under another ClusterName makes slurmctld refuse to start
  if [ -s "$STATEDIR/clustername" ] && [ "$(cat "$STATEDIR/clustername")" != "$CLUSTER" ]; then
    log "state in $STATEDIR belongs to cluster '$(cat "$STATEDIR/clustername")': clearing it"
    find "$STATEDIR" -mindepth 1 -delete
  fi
  # No saved controller state means job ids restart at 1: drop old accounting too, or
  # `sacct -j 1` would also report the job 1 of an earlier life.
  if [ ! -e "$STATEDIR/job_state" ]; then
    mysql --protocol=socket -e "DROP DATABASE IF EXISTS $DB_NAME"
    rm -f "$LOGDIR/jobcomp.log"
  fi
  log "starting slurmdbd, slurmctld and $NODES slurmd"
  start_dbd; start_ctld
  for i in $(seq 1 "$NODES"); do start_slurmd "$i"; new_nodes+=("$i"); done
  started=(all)
else
  # same config, state kept: start only what is missing
  # (plain `if`s: inside `a || { b; }` bash would switch off errexit for b)
  if ! dbd_alive; then start_dbd; started+=(slurmdbd); fi
  if ! ctld_alive; then start_ctld; started+=(slurmctld); fi
  for i in $(seq 1 "$NODES"); do
    if ! slurmd_alive "$i"; then start_slurmd "$i"; started+=("node$i"); new_nodes+=("$i"); fi
  done
  [ ${#started[@]} -eq 0 ] || log "started: ${started[*]}"
fi

# -------------------------------------------------------------- node state ---
# Wait until every node is usable and every slurmd started above has registered with the
# controller (its SlurmdStartTime is new: a node whose slurmd died stays "idle" in sinfo for
# SlurmdTimeout = 300 s). A slurmd that died after starting (a port in use, a bad config)
# fails the setup at once, with its own log.
new_registered() {
  local i t
  for i in "${new_nodes[@]}"; do
    t=$(scontrol -o show node "node$i" 2>/dev/null | grep -o 'SlurmdStartTime=[^ ]*' | cut -d= -f2)
    [[ $t =~ ^[0-9] ]] && [ "$(date -d "$t" +%s)" -ge "$T_START" ] || return 1
  done
}
step "nodes ready" "$LOGDIR/slurmctld.log"
resumed=0
until new_registered && nodes_ready; do
  waited=$(( $(date +%s) - T_START ))
  if [ "$waited" -ge 5 ]; then   # (its pid file may take a moment under load)
    for i in "${new_nodes[@]}"; do
      slurmd_alive "$i" || { step "slurmd node$i" "$LOGDIR/slurmd-node$i.log" "$LOGDIR/slurmd-node$i.start.log"; fail "slurmd of node$i died after starting"; }
    done
  fi
  if [ "$resumed" = 0 ] && [ "$waited" -ge 20 ]; then
    # nodes left DOWN/DRAINED by an earlier life: resume them once
    for n in $(sinfo -h -N -o '%N %T' | awk '$2 ~ /down|drain|fail/ {print $1}' | sort -u); do
      log "resuming $n"; scontrol update NodeName="$n" State=RESUME || true
    done
    resumed=1
  fi
  if [ "$waited" -ge 60 ]; then
    sinfo -N -l >&2 || true
    for n in $(sinfo -h -N -o '%N %T' | awk '$2 !~ /^(idle|mixed|allocated|completing)$/ {print $1}' | sort -u); do
      STEP_LOGS+=("$LOGDIR/slurmd-$n.log")
    done
    fail "nodes not ready after 60 s"
  fi
  sleep 0.2
done

# --------------------------------------------------------- end-to-end check ---
step "sacct" "$LOGDIR/slurmdbd.log"
wait_for 30 sacct_ok || fail "sacct does not answer"
TERMINAL='^(COMPLETED|FAILED|TIMEOUT|CANCELLED|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE)'
if [ "$FULL" = 1 ]; then
  # after a (re)start: one step on every node, then its state must reach sacct
  step "test job" "$LOGDIR/slurmctld.log" "$LOGDIR/slurmd-node1.log"
  out=$(timeout 60 srun -J llmb-setup-check -N "$NODES" --ntasks-per-node=1 -t 1 \
          bash -c 'echo "$SLURM_JOB_ID $SLURMD_NODENAME"' 2>&1 9>&-) || fail "test job failed: $out"
  job=$(awk 'NR==1 {print $1}' <<<"$out")
  seen=$(awk '{print $2}' <<<"$out" | sort -u | wc -l)
  [ "$seen" -eq "$NODES" ] || fail "test job ran on $seen distinct nodes, expected $NODES: $out"
  end=$(( $(date +%s) + 15 ))
  until [[ $(sacct -n -X -P -j "$job" -o State 2>/dev/null) =~ $TERMINAL ]]; do
    [ "$(date +%s)" -lt "$end" ] || fail "job $job not final in sacct after 15 s"
    sleep 0.2
  done
  state=$(sacct -n -X -P -j "$job" -o State)
  [ "$state" = COMPLETED ] || fail "test job $job ended $state"
  log "test job $job ran on all $NODES nodes, sacct: $state"
elif [ ${#started[@]} -gt 0 ]; then
  # partial repair: the cluster may be busy with tests, so do not insist on free nodes
  step "test job" "$LOGDIR/slurmctld.log"
  if timeout 40 srun -J llmb-setup-check --immediate=30 -N1 -t 1 true 9>&- 2>/dev/null; then
    log "test job ran"
  else
    log "warning: no test job could run within 30 s (cluster busy?)"
  fi
fi
log "cluster ready: $(summary)"
