#!/usr/bin/env bash
# A throw-away single-node Slurm cluster on loopback, for the Slurm tests and benchmark
# (docs/slurm.md, "A cluster for tests"): munged, slurmctld and slurmd as root, no systemd, no
# slurmdbd, every file under one folder.
#
# Usage: scripts/slurm_cluster.sh up|down|purge|env|status
#   up     starts the cluster (idempotent) and waits until its node is idle
#   down   cancels every job, waits for the queue to empty, stops the daemons
#   purge  down, then removes the folder
#   env    prints `export SLURM_CONF=...` for eval
# Variables: SLUICE_SLURM_DIR (default /tmp/sluice-slurm), SLUICE_SLURM_CPUS (slots advertised,
# default 32: more than the machine has, as the scheduler starts at most one job per free slot
# per tick), SLUICE_SLURM_PORT (slurmctld's; slurmd's is the next, default 6817),
# SLUICE_SLURM_MIN_JOB_AGE (seconds an ended job stays in squeue, default 300).
set -euo pipefail

D=${SLUICE_SLURM_DIR:-/tmp/sluice-slurm}
CPUS=${SLUICE_SLURM_CPUS:-32}
PORT=${SLUICE_SLURM_PORT:-6817}
MIN_JOB_AGE=${SLUICE_SLURM_MIN_JOB_AGE:-300}
export SLURM_CONF=$D/etc/slurm.conf

die() { echo "slurm_cluster: $*" >&2; exit 1; }

# The pid in pid file $1 when that process is alive and named $2. A zombie counts as gone:
# PID 1 here may reap orphans late, and kill -0 succeeds on a zombie.
live_pid() {
  local pid
  pid=$(cat "$1" 2>/dev/null) || return 1
  [ -n "$pid" ] && [ -r "/proc/$pid/comm" ] || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] || return 1
  echo "$pid"
}

write_conf() {
  local node mem
  node=$(hostname -s)
  mem=$(slurmd -C 2>/dev/null | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  [ -n "$mem" ] || mem=1024
  cat >"$D/etc/slurm.conf.new" <<EOF
ClusterName=sluice
SlurmctldHost=$node(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket.2
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$D/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
MinJobAge=$MIN_JOB_AGE
KillWait=5
MaxArraySize=100001
MaxJobCount=200000
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$CPUS Boards=1 SocketsPerBoard=1 CoresPerSocket=$CPUS ThreadsPerCore=1 RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  if cmp -s "$D/etc/slurm.conf.new" "$SLURM_CONF"; then
    rm -f "$D/etc/slurm.conf.new"
    return 1
  fi
  mv -f "$D/etc/slurm.conf.new" "$SLURM_CONF"
}

# Stops the daemon of pid file $1 (named $2): SIGTERM, then SIGKILL after 10 s.
stop_daemon() {
  local pid i
  pid=$(live_pid "$1" "$2") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 200; i++)); do
    live_pid "$1" "$2" >/dev/null || return 0
    sleep 0.05
  done
  kill -KILL "$pid" 2>/dev/null || true
}

wait_for() {  # $1: tries of 0.05 s; the rest: a command that succeeds when ready
  local n=$1 i
  shift
  for ((i = 0; i < n; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  return 1
}

ctld_up() { scontrol ping 2>/dev/null | grep -q 'is UP'; }
node_idle() { [ "$(sinfo -h -N -o %T 2>/dev/null)" = idle ]; }

up() {
  command -v slurmctld >/dev/null || die "slurmctld is missing: scripts/deps.sh test installs slurm-wlm and munge"
  [ "$(id -u)" -eq 0 ] || die "the daemons run as root (SlurmUser=root); run as root"
  mkdir -p "$D"/{etc,state,spool,log,munge}
  chmod 755 "$D" "$D/munge"  # munged refuses a socket folder others cannot enter
  local changed=0
  write_conf && changed=1
  if [ ! -s "$D/munge/munge.key" ]; then
    mungekey --create --keyfile="$D/munge/munge.key" >/dev/null
    chmod 600 "$D/munge/munge.key"
  fi
  if ! live_pid "$D/munge/munged.pid" munged >/dev/null; then
    munged --key-file="$D/munge/munge.key" --socket="$D/munge/munge.socket.2" \
      --pid-file="$D/munge/munged.pid" --log-file="$D/munge/munged.log" \
      --seed-file="$D/munge/munged.seed" --force
  fi
  if [ $changed = 1 ]; then  # a new slurm.conf: the daemons start again with it
    stop_daemon "$D/slurmd.pid" slurmd
    stop_daemon "$D/slurmctld.pid" slurmctld
  fi
  if ! live_pid "$D/slurmctld.pid" slurmctld >/dev/null; then
    slurmctld -f "$SLURM_CONF"
  fi
  # slurmd registers once at start and retries after ~1 s: start it only when slurmctld answers.
  wait_for 400 ctld_up || die "slurmctld did not come up; see $D/log/slurmctld.log"
  if ! live_pid "$D/slurmd.pid" slurmd >/dev/null; then
    slurmd -f "$SLURM_CONF"
  fi
  wait_for 400 node_idle || die "the node is not idle; see $D/log/slurmd.log"
}

down() {
  if live_pid "$D/slurmctld.pid" slurmctld >/dev/null; then
    scancel --user="$(id -un)" 2>/dev/null || true
    # No job's processes may outlive slurmd: wait until the queue is empty.
    wait_for 400 bash -c '[ -z "$(squeue -h -t PD,R,CG,S,CF -o %i 2>/dev/null)" ]' || true
  fi
  stop_daemon "$D/slurmd.pid" slurmd
  stop_daemon "$D/slurmctld.pid" slurmctld
  stop_daemon "$D/munge/munged.pid" munged
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  purge)
    down
    case "$D" in /tmp/?*) rm -rf "$D" ;; *) die "purge removes only folders under /tmp, not $D" ;; esac ;;
  env) echo "export SLURM_CONF=$SLURM_CONF" ;;
  status)
    for p in "munge/munged.pid munged" "slurmctld.pid slurmctld" "slurmd.pid slurmd"; do
      set -- $p
      if pid=$(live_pid "$D/$1" "$2"); then echo "$2: running ($pid)"; else echo "$2: stopped"; fi
    done ;;
  *) echo "usage: $0 up|down|purge|env|status" >&2; exit 2 ;;
esac
