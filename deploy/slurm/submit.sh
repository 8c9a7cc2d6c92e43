#!/usr/bin/env bash
# Plans a Stormglass run (or sweep) cut into shards, submits its tasks as one
# Slurm job array and the merge as a job that starts once every task succeeded.
#
#   deploy/slurm/submit.sh PLAN_DIR SHARDS SCENARIO [plan flags: --paths, --seed, --set, --vary ...]
#
# Prints the two job ids ("tasks JOB merge JOB"). The merged run lands in
# PLAN_DIR/run (PLAN_DIR/runs/<point> for a sweep). Slurm's own logs go to
# PLAN_DIR/logs. Set STORMGLASS to the binary if it is not on PATH, and pass
# sbatch options (a partition, an account) in SBATCH_OPTIONS.
set -euo pipefail
if [ "$#" -lt 3 ]; then
    sed -n '2,11p' "$0" >&2
    exit 2
fi
plan_dir="$1"
shards="$2"
scenario="$3"
shift 3
here="$(cd "$(dirname "$0")" && pwd)"
stormglass="${STORMGLASS:-stormglass}"

"$stormglass" plan "$scenario" --shards "$shards" --out "$plan_dir" "$@"
manifest="$(cd "$plan_dir" && pwd)/manifest.json"
tasks="$("$stormglass" task "$manifest" --count)"
mkdir -p "$plan_dir/logs"
# shellcheck disable=SC2086 # SBATCH_OPTIONS holds several options on purpose
task_job="$(sbatch --parsable ${SBATCH_OPTIONS:-} --array="0-$((tasks - 1))" \
    --output="$plan_dir/logs/task-%a.out" --export=ALL \
    "$here/task.sbatch" "$manifest")"
# shellcheck disable=SC2086
merge_job="$(sbatch --parsable ${SBATCH_OPTIONS:-} --dependency="afterok:${task_job%%;*}" \
    --output="$plan_dir/logs/merge.out" --export=ALL \
    "$here/merge.sbatch" "$manifest")"
echo "tasks ${task_job%%;*} merge ${merge_job%%;*}"
