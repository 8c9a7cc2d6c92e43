#!/usr/bin/env bash
# Runs the Slurm example end to end on this one machine, and checks it: a plan
# of the bundled default scenario in 4 shards goes to a real Slurm as a job
# array, its merge as a job that waits for the array (afterok), and the merged
# run folder is compared file by file with a single run of the same scenario.
#
#   sudo deploy/slurm/check-local.sh [PATHS]
#
# As root on Debian or Ubuntu: installs Debian's slurm-wlm (slurmctld, slurmd,
# munge) when they are missing, starts a one-node cluster of this machine with
# its own configuration under a temporary folder (nothing in /etc/slurm is
# read or written; SLURM_CONF points the commands at it), and stops the
# daemons it started when it ends. Exits 0 when the merged run matches.
set -euo pipefail
paths="${1:-20000}"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
if [ "$(id -u)" -ne 0 ]; then
    echo "check-local.sh: run as root (it installs slurm-wlm and starts its daemons)" >&2
    exit 2
fi
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    echo "== installing Debian's slurm-wlm"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm >/dev/null
fi

state="$(mktemp -d /tmp/stormglass-slurm.XXXXXX)"
export SLURM_CONF="$state/slurm.conf"
started=()
stop() {
    for pidfile in "${started[@]}"; do
        [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null || true
    done
}
trap stop EXIT

if ! pgrep -x munged >/dev/null; then
    echo "== starting munged"
    install -d -o munge -g munge -m 0755 /run/munge
    if [ ! -s /etc/munge/munge.key ]; then
        /usr/sbin/mungekey --create --force
        chown munge:munge /etc/munge/munge.key
    fi
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    started+=(/run/munge/munged.pid)
fi

host="$(hostname -s)"
node="$(slurmd -C | head -n 1)"
mkdir -p "$state/ctld" "$state/d"
cat > "$SLURM_CONF" <<CONF
# A one-node cluster for deploy/slurm/check-local.sh.
ClusterName=stormglass-check
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
$node State=UNKNOWN
PartitionName=check Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

echo "== starting slurmctld and slurmd (configuration $SLURM_CONF)"
slurmctld -f "$SLURM_CONF"
started+=("$state/slurmctld.pid")
slurmd -f "$SLURM_CONF"
started+=("$state/slurmd.pid")
for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qx idle; then break; fi
    sleep 1
done
sinfo -h -o %T | grep -qx idle || { echo "the node did not come up; see $state/slurmd.log" >&2; exit 1; }

echo "== building stormglass"
(cd "$repo" && cargo build --release --quiet)
export STORMGLASS="$repo/target/release/stormglass"

cd "$repo"
echo "== submitting a plan of 4 shards of $paths paths"
read -r _ task_job _ merge_job < <("$repo/deploy/slurm/submit.sh" "$state/plan" 4 scenarios/default.toml --paths "$paths" | tail -n 1)
echo "task array $task_job, merge job $merge_job"
for _ in $(seq 600); do
    if [ -z "$(squeue -h -j "$task_job,$merge_job" 2>/dev/null)" ]; then break; fi
    sleep 1
done
if [ ! -f "$state/plan/run/summary.json" ]; then
    echo "the merge job wrote no run; logs in $state/plan/logs:" >&2
    tail -n 20 "$state"/plan/logs/*.out >&2 || true
    exit 1
fi

echo "== comparing with a single run"
"$STORMGLASS" run scenarios/default.toml --paths "$paths" --out "$state/single" >/dev/null
untimed() {
    grep -v -e '"wall_time_seconds"' -e '"path_steps_per_second"' -e '<dt>run time</dt>' \
        -e ' summary.json$' -e ' report.html$' "$1"
}
same() {
    case "$1" in
        *.json | *.html | */.stormglass-manifest)
            cmp -s <(untimed "$state/single/$1") <(untimed "$state/plan/run/$1") ;;
        *) cmp -s "$state/single/$1" "$state/plan/run/$1" ;;
    esac
}
different=0
while IFS= read -r file; do
    if ! same "$file"; then
        echo "differs: $file" >&2
        different=1
    fi
done < <(cd "$state/single" && find . -type f | sort)
if [ "$different" -ne 0 ]; then
    exit 1
fi
echo "ok: the merged run of 4 Slurm tasks is the single run, file for file (wall time aside)"
echo "   (everything is in $state)"
