#!/usr/bin/env bash
# slurm_cluster.sh - a private single-node Slurm cluster on this machine, for tests.
#
#   scripts/slurm_cluster.sh start DIR   start munged, slurmctld and slurmd with everything
#                                        (key, socket, conf, state, spool, logs, pids) in DIR
#   scripts/slurm_cluster.sh stop DIR    stop them (by the pids in DIR), leave DIR
#   scripts/slurm_cluster.sh env DIR     print `export SLURM_CONF=...` for clients
#
# Nothing outside DIR is written or read: munged gets its own key, socket, pid, log and seed
# files; slurm.conf points slurmctld and slurmd at that socket (AuthInfo=socket=...), at
# state and spool folders in DIR and at two free TCP ports, so two clusters (or a system
# Slurm) can run side by side. Clients need SLURM_CONF=DIR/slurm.conf.
#
# Must run as root (SlurmUser=root; DEPENDENCIES.md §10). Exit status: 0 ok, 1 a daemon did not
# come up (its log is printed; whatever started is stopped again), 2 usage, 3 no Slurm or munge
# binaries here (callers treat it as "skip").
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|env DIR" >&2
  exit 2
}
[ $# -eq 2 ] || usage
cmd=$1
dir=$2

log() { printf '[slurm_cluster] %s\n' "$*" >&2; }

# A TCP port nobody listens on, from a range away from Slurm's defaults (6817/6818).
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# Kills the process whose pid is in file $1 (if it is alive) and waits for it to go.
stop_pidfile() {
  local f=$1 pid
  [ -f "$f" ] || return 0
  pid=$(cat "$f" 2>/dev/null || true)
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

do_stop() {
  # slurmd first (it may be running steps), then the controller, then munge.
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  stop_pidfile "$dir/munged.pid"
}

fail() {
  log "$1"
  for f in "$dir"/munged.log "$dir"/slurmctld.log "$dir"/slurmd.log; do
    [ -f "$f" ] && { echo "--- $f (last lines)" >&2; tail -n 15 "$f" >&2; }
  done
  do_stop
  exit 1
}

do_start() {
  local b
  for b in munged slurmctld slurmd sinfo sbatch squeue; do
    if ! command -v "$b" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$b" ]; then
      log "no $b on this machine (Debian: apt-get install slurm-wlm munge)"
      exit 3
    fi
  done
  export PATH="$PATH:/usr/sbin"
  [ "$(id -u)" -eq 0 ] || { log "must run as root (SlurmUser=root)"; exit 1; }
  mkdir -p "$dir"/state "$dir"/spool "$dir"/munge
  dir=$(cd "$dir" && pwd)
  chmod 700 "$dir/munge"

  # munge: a fresh key for this cluster only, and its own socket.
  rm -f "$dir/munge/munge.key"
  mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
    --seed-file="$dir/munge/munged.seed" --force >/dev/null 2>&1 || fail "munged did not start"
  for _ in $(seq 1 50); do
    [ -S "$dir/munge/munge.socket" ] && break
    sleep 0.1
  done
  [ -S "$dir/munge/munge.socket" ] || fail "munged made no socket"

  local host cpus mem ctld_port d_port
  host=$(hostname -s)
  cpus=$(nproc)
  # A bit under the memory free now, so slurmd does not drain the node for having less.
  mem=$(awk '/MemAvailable/ {print int($2 / 1024 * 0.8)}' /proc/meminfo)
  ctld_port=$(free_port) || fail "no free TCP port"
  d_port=$(free_port) || fail "no free TCP port"
  while [ "$d_port" = "$ctld_port" ]; do d_port=$(free_port); done

  cat >"$dir/slurm.conf" <<EOF
# written by scripts/slurm_cluster.sh: a private single-node cluster in $dir
ClusterName=spillwaytest
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$d_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
PlugStackConfig=$dir/plugstack.conf
MinJobAge=300
InactiveLimit=0
KillWait=5
Waittime=0
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  : >"$dir/plugstack.conf"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$dir/slurm.conf" >"$dir/slurmctld.out" 2>&1 || fail "slurmctld did not start"
  slurmd -f "$dir/slurm.conf" >"$dir/slurmd.out" 2>&1 || fail "slurmd did not start"
  # The node is usable once sinfo shows it idle (3 s on this machine kind).
  for _ in $(seq 1 150); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'; then
      log "up: $host, $cpus CPUs, ${mem} MB, ports $ctld_port/$d_port; SLURM_CONF=$dir/slurm.conf"
      return 0
    fi
    sleep 0.2
  done
  fail "the node did not become idle within 30 s (sinfo: $(sinfo -h -N -o '%T' 2>&1 | head -1))"
}

case $cmd in
start) do_start ;;
stop)
  [ -d "$dir" ] || exit 0
  do_stop
  ;;
env) echo "export SLURM_CONF=$(cd "$dir" && pwd)/slurm.conf" ;;
*) usage ;;
esac
