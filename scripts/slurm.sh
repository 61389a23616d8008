#!/usr/bin/env bash
# A real single-node Slurm (munged, slurmctld, slurmd) with all its state in one directory, for
# the tests and for trying the slurm executor on one machine without systemd.
#   scripts/slurm.sh start DIR   starts the daemons, waits until the node is idle, and prints
#                                the SLURM_CONF to export (also written to DIR/env)
#   scripts/slurm.sh stop DIR    stops them by the PIDs recorded at start (never by name)
# Ports come from the environment (SLURMCTLD_PORT, SLURMD_PORT; default 16817, 16818) so that
# two test runs on one machine can each have their own.
set -euo pipefail
cmd="${1:?usage: slurm.sh start|stop DIR}"
D="$(mkdir -p "${2:?usage: slurm.sh start|stop DIR}" && cd "$2" && pwd)"
CTLD_PORT="${SLURMCTLD_PORT:-16817}"
SLURMD_PORT="${SLURMD_PORT:-16818}"

stop() {
  for name in slurmd slurmctld munged; do
    if [ -f "$D/$name.pid" ]; then
      pid="$(cat "$D/$name.pid")"
      if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
      fi
      rm -f "$D/$name.pid"
    fi
  done
}

if [ "$cmd" = stop ]; then stop; exit 0; fi
[ "$cmd" = start ] || { echo "usage: slurm.sh start|stop DIR" >&2; exit 2; }

stop
mkdir -p "$D/munge" "$D/state" "$D/spool" "$D/log"
chmod 755 "$D/munge"
if [ ! -f "$D/munge.key" ]; then
  head -c 128 /dev/urandom > "$D/munge.key"
  chmod 600 "$D/munge.key"
fi
cat > "$D/slurm.conf" <<CONF
ClusterName=volbatch
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$D/munge/munge.socket
SlurmctldPort=$CTLD_PORT
SlurmdPort=$SLURMD_PORT
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid.daemon
SlurmdPidFile=$D/slurmd.pid.daemon
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
KillWait=10
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$D/slurm.conf"
echo "export SLURM_CONF=$D/slurm.conf" > "$D/env"

munged -F --force --socket="$D/munge/munge.socket" --key-file="$D/munge.key" \
  --pid-file="$D/munged.pid.daemon" --log-file="$D/log/munged.log" --seed-file="$D/munge.seed" \
  > "$D/log/munged.out" 2>&1 &
echo $! > "$D/munged.pid"
for _ in $(seq 100); do [ -S "$D/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$D/munge/munge.socket" ] || { echo "slurm.sh: munged did not start (see $D/log)" >&2; stop; exit 1; }

slurmctld -D -i -f "$D/slurm.conf" > "$D/log/slurmctld.out" 2>&1 &
echo $! > "$D/slurmctld.pid"
slurmd -D -N localhost -f "$D/slurm.conf" > "$D/log/slurmd.out" 2>&1 &
echo $! > "$D/slurmd.pid"

for _ in $(seq 300); do
  state="$(sinfo -h -N -o %T 2>/dev/null | head -1 || true)"
  if [ "$state" = idle ]; then echo "$SLURM_CONF"; exit 0; fi
  sleep 0.1
done
echo "slurm.sh: the node did not become idle in 30 s (state: ${state:-none}; see $D/log)" >&2
stop
exit 1
