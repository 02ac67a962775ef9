#!/usr/bin/env bash
# scripts/slurm/teardown.sh - stop the test cluster that scripts/slurm/setup.sh started.
# Idempotent: safe to run when nothing (or only part of it) is running.
#
# Usage: scripts/slurm/teardown.sh [--purge]
#   (default)  cancel all jobs; stop every slurmd, slurmctld and slurmdbd; stop mariadb and
#              munged only if setup.sh started them. State, logs, config and the accounting
#              database stay, so the next setup.sh continues the job ids (about 4 s).
#   --purge    also delete Slurm state, spool, logs, generated config, the accounting
#              database, the node names in /etc/hosts and the empty slurm cgroups: the next
#              setup.sh starts from a clean slate (job ids from 1). Packages stay installed.
# Processes are stopped by pid (pid files, checked against /proc/PID/cmdline), never by name.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

PURGE=0
for a in "$@"; do
  case "$a" in
    --purge) PURGE=1 ;;
    -h|--help) sed -n '2,/^set -uo/p' "$0" | sed '$d'; exit 0 ;;
    *) echo "unknown argument: $a (see --help)" >&2; exit 2 ;;
  esac
done
log() { echo "[slurm teardown +$(_elapsed)s] $*" >&2; }
[ "$(id -u)" = 0 ] || { echo "must run as root" >&2; exit 1; }

exec 9>"$LOCKFILE"
flock -w 120 9 || log "warning: $LOCKFILE still busy after 120 s, going on"

# 1. cancel jobs while the controller still answers, so their steps end cleanly
if command -v scontrol >/dev/null && ctld_ok; then
  jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u)
  if [ -n "$jobs" ]; then
    log "cancelling jobs: $(echo $jobs)"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    for _ in $(seq 1 50); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
  fi
fi

# 2. Slurm daemons, all signalled at once
pidfiles=()
for f in "$RUNDIR"/slurmd-*.pid "$RUNDIR/slurmctld.pid" "$RUNDIR/slurmdbd.pid"; do
  [ -e "$f" ] && pidfiles+=("$f")
done
if [ ${#pidfiles[@]} -gt 0 ]; then
  log "stopping slurm daemons"
  stop_pidfiles "${pidfiles[@]}"
fi

# 3. step daemons our slurmd left behind (processes whose executable is slurmstepd)
for d in /proc/[0-9]*; do
  [ "$(readlink "$d/exe" 2>/dev/null)" = /usr/sbin/slurmstepd ] || continue
  p=${d#/proc/}
  log "stopping leftover slurmstepd (pid $p)"
  kill -TERM "$p" 2>/dev/null
  for _ in $(seq 1 50); do [ -d "$d" ] || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null
done

# 4. the accounting database goes while mariadb still runs
if [ "$PURGE" = 1 ] && command -v mysql >/dev/null && db_ok; then
  log "dropping database $DB_NAME"
  mysql --protocol=socket -e "DROP DATABASE IF EXISTS $DB_NAME"
fi

# 5. mariadb and munged, only if setup.sh started them
if [ -e "$MARKDIR/mariadb" ]; then
  if db_ok; then
    log "stopping mariadb"
    mysqladmin --protocol=socket shutdown
    for _ in $(seq 1 100); do [ -e /run/mysqld/mysqld.sock ] || break; sleep 0.1; done
  fi
  rm -f "$MARKDIR/mariadb"
fi
if [ -e "$MARKDIR/munge" ]; then
  if p=$(pid_of /run/munge/munged.pid munged); then
    log "stopping munged"
    kill -TERM "$p"
    for _ in $(seq 1 50); do [ -d "/proc/$p" ] || break; sleep 0.1; done
  fi
  rm -f "$MARKDIR/munge"
fi

# 6. state, logs, config
if [ "$PURGE" = 1 ]; then
  log "purging state, spool, logs and config"
  rm -rf "$STATEDIR" "$SPOOLDIR" "$RUNDIR" "$GPUDIR" "$MARKDIR"
  rm -f "$LOGDIR"/*.log "$LOGDIR"/*.log.old
  rm -f "$ETC/slurm.conf" "$ETC/gres.conf" "$ETC/cgroup.conf" "$ETC/slurmdbd.conf"
  if grep -qF "$HOSTS_TAG" /etc/hosts; then
    hosts_new=$(grep -vF "$HOSTS_TAG" /etc/hosts)
    printf '%s\n' "$hosts_new" > /etc/hosts
  fi
  # empty per-node cgroups that proctrack/task cgroup created (slurm_node1, ...)
  for c in /sys/fs/cgroup/*/slurm_node*; do
    [ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} + 2>/dev/null
  done
fi
log "done"
exit 0
