#!/usr/bin/env bash
# Issue 19: the farm on a real single-node Slurm cluster that this test
# starts in a scratch directory (munged, slurmctld, slurmd on loopback, a
# generated munge key and slurm.conf) and stops again by their pid files.
#  1. snapcell-farm over the corpus (and one sample that sleeps) with 2 slots;
#     the sleeping task's controller is SIGKILLed mid-build and the task
#     cancelled with scancel, with its session
#     mounted: afterwards the epilog's reap has left nothing of it (no mount,
#     snapshot, cgroup, journal record or process), seen from the node.
#  2. The summary lists every sdist, its counts equal to the reports.
#  3. A second run builds only what has no report (the killed one).
#   farm_test.sh <snapcell> <bases dir> <base> <samples dir> <corpus dir> <farm dir (reference/farm)>
set -uo pipefail
snapcell=$1 bases_dir=$2 base=$3 samples=$4 corpus=$5 farm=$6
if ((EUID != 0)); then echo "SKIPPED: needs root"; exit 0; fi
for tool in munged slurmctld slurmd sbatch scancel squeue scontrol jq; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (ci/install-deps installs slurm-wlm and munge)"; exit 1; }
done
[[ -d "$corpus" ]] || { echo "SKIPPED: no corpus at $corpus"; exit 0; }

scratch=$(mktemp -d /tmp/snapcell-farm.XXXXXX)
state="$scratch/state" leaf="snapcell-test-farm-$$"
source "$(dirname "$0")/../host/cgroup_parent.sh"
cgroup_parent=$(test_cgroup_parent "$leaf")
failures=0 passes=0
check() {
  if [[ "$2" != "$3" ]]; then echo "FAIL $1: $2 (expected $3)"; failures=$((failures + 1)); return 1
  else echo "ok   $1: $2"; passes=$((passes + 1)); fi
}
daemons_started=()
stop_daemons() {
  local pidfile pid
  for pidfile in "${daemons_started[@]}"; do
    pid=$(cat "$pidfile" 2>/dev/null) || continue
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  daemons_started=()
}
cleanup() {
  [[ -n "${SLURM_CONF:-}" ]] && for job in $(awk '{print $1}' "$scratch/out/.farm/last-job" 2>/dev/null); do
    scancel --full --signal=KILL "$job" 2>/dev/null
  done
  stop_daemons
  "$snapcell" reap --state-dir "$state" --cgroup-parent "$cgroup_parent" >/dev/null 2>&1
  for dir in "$state/mnt" "$state"; do mountpoint -q "$dir" && umount "$dir"; done
  remove_test_cgroup_parent "$leaf"
  rm -rf "$scratch"
}
trap cleanup EXIT

# ---- the cluster -------------------------------------------------------------------------
mkdir -p "$scratch"/{munge,slurm/state,slurm/spool,log}
chmod 700 "$scratch/munge"
head -c 1024 /dev/urandom > "$scratch/munge/munge.key" && chmod 400 "$scratch/munge/munge.key"
# Daemons get no fd of ours beyond 0-2 (a lock the test runs under must not
# outlive it in a daemon), and are stopped by their pid files.
daemon() { (for fd in /proc/$BASHPID/fd/*; do fd=${fd##*/}; ((fd > 2)) && eval "exec $fd>&-"; done; exec "$@"); }
daemon munged --force --socket="$scratch/munge/socket" --key-file="$scratch/munge/munge.key" \
  --log-file="$scratch/log/munged.log" --pid-file="$scratch/munge/munged.pid" --seed-file="$scratch/munge/seed" ||
  { echo "FAIL: munged did not start: $(tail -3 "$scratch/log/munged.log")"; exit 1; }
daemons_started+=("$scratch/munge/munged.pid")

# Free ports on loopback for the controller and the node.
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
host=$(hostname -s)
# The node's hooks, as an administrator would write them: the farm's scripts with this node's paths.
hook_args=(--snapcell "$snapcell" --state-dir "$state" --cgroup-parent "$cgroup_parent")
hook() { printf '#!/bin/sh\nexec'; printf ' %q' "$@"; printf '\n'; }
hook "$farm/prolog" "${hook_args[@]}" --bases-dir "$bases_dir" --log "$scratch/log/prolog.log" > "$scratch/slurm/prolog"
hook "$farm/epilog" "${hook_args[@]}" --log "$scratch/log/epilog.log" > "$scratch/slurm/epilog"
chmod 755 "$scratch/slurm/prolog" "$scratch/slurm/epilog"
export SLURM_CONF="$scratch/slurm/slurm.conf"
cat > "$SLURM_CONF" <<CONF
ClusterName=snapcelltest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(port)
SlurmdPort=$(port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$scratch/munge/socket
CredType=cred/munge
StateSaveLocation=$scratch/slurm/state
SlurmdSpoolDir=$scratch/slurm/spool
SlurmctldPidFile=$scratch/slurm/slurmctld.pid
SlurmdPidFile=$scratch/slurm/slurmd.pid
SlurmctldLogFile=$scratch/log/slurmctld.log
SlurmdLogFile=$scratch/log/slurmd.log
# snapcell makes its own cgroups and PID namespaces: Slurm tracks by process tree only.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
Prolog=$scratch/slurm/prolog
Epilog=$scratch/slurm/epilog
NodeName=$host NodeAddr=127.0.0.1 CPUs=2 State=UNKNOWN
PartitionName=snap Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
daemon slurmctld -f "$SLURM_CONF" && daemons_started+=("$scratch/slurm/slurmctld.pid")
daemon slurmd -f "$SLURM_CONF" && daemons_started+=("$scratch/slurm/slurmd.pid")
for _ in $(seq 100); do [[ "$(sinfo -h -o %t 2>/dev/null)" == idle ]] && break; sleep 0.2; done
check "the single-node cluster is up" "$(sinfo -h -o %t)" idle

# ---- run 1: the corpus and a sleeper, 2 slots; the sleeper killed mid-build ----------------
"$samples/make-sdists" "$scratch/samples" >/dev/null
mkdir -p "$scratch/in"
cp "$corpus"/*.tar.gz "$scratch/samples/snapbad_slow-1.0.tar.gz" "$scratch/in/"
total=$(ls "$scratch/in" | wc -l)
farm_run=("$farm/snapcell-farm" run --base "$base" --bases-dir "$bases_dir" --state-dir "$state"
          --cgroup-parent "$cgroup_parent" --snapcell "$snapcell" --slots 2 --out "$scratch/out")
timeout 400 "${farm_run[@]}" --timeout 60 "$scratch/in" > "$scratch/run1.out" 2> "$scratch/run1.err" &
farm_pid=$!
# The sleeper's task, once it is the only task of the array left (none
# pending either: a task started after the kill would have its prolog's reap
# clean the sleeper's session before the epilog could) and its session is
# mounted (the corpus's builds take a second or two, the sleeper a minute):
# SIGKILL to the whole task, snapcell's controller included.
task="" session=""
for _ in $(seq 1200); do
  job="" list=""; [[ -s "$scratch/out/.farm/last-job" ]] && read -r job list < "$scratch/out/.farm/last-job"
  if [[ -n "$job" && -n "$list" ]]; then
    index=$(grep -n snapbad_slow "$list" | cut -d: -f1)
    running=$(squeue -h -r -j "$job" -o '%i %t' 2>/dev/null)
    mounts=$(findmnt -rn -o TARGET | grep "^$state/mnt/snapcell-")
    if [[ "$running" == "${job}_${index} R" && $(wc -l <<<"$mounts") -eq 1 && -n "$mounts" ]]; then
      task="${job}_${index}" session=$(basename "$mounts")
      break
    fi
  fi
  sleep 0.1
done
check "the sleeper's task was caught mid-build, its session mounted" "$([[ -n "$task" ]] && echo yes)" yes
# snapcell's controller handles TERM with a full teardown (I9), and Slurm
# ends a cancelled job with TERM too; what the epilog is for is a controller
# that had no chance: SIGKILL it first (as the OOM killer or a hard node
# reset would), then cancel the task.
controller=$(pgrep -f "snapcell build .*snapbad_slow-1.0.tar.gz" | head -1)
check "the sleeper's controller found" "$([[ -n "$controller" ]] && echo yes)" yes
[[ -n "$controller" ]] && kill -KILL "$controller"
scancel --full --signal=KILL "$task"
wait "$farm_pid"
check "run 1: snapcell-farm exit" "$?" 0 || cat "$scratch/run1.err"
cat "$scratch/run1.out"
# From the node: nothing of the killed task's session, after the epilog.
check "killed task: the epilog ran reap" "$(grep -c "^reap exit 0" "$scratch/log/epilog.log" 2>/dev/null | awk '{print ($1 > 0) ? "yes" : "no"}')" yes
check "killed task: the epilog's reap removed its session" \
  "$(grep -h -o '"session": *"snapcell-[0-9a-f]*"' "$scratch/log/epilog.log" | grep -c "$session" | awk '{print ($1 > 0) ? "yes" : "no"}')" yes ||
  { echo "logs that name $session:"; grep -l "$session" "$scratch"/log/*.log; }
check "killed task: session mounts left" "$(findmnt -rn -o TARGET | grep -c "^$state/mnt/")" 0
check "killed task: volumes left" "$(ls "$state/volumes" 2>/dev/null | wc -l)" 0
check "killed task: journal records left" "$(ls "$state/journal" 2>/dev/null | wc -l)" 0 ||
  { ls -la "$state/journal"; head -c 2000 "$state"/journal/* ; echo; tail -c 3000 "$scratch/log/epilog.log"; }
check "killed task: cgroups left" "$(find "$cgroup_parent" -mindepth 1 -maxdepth 1 -type d 2>/dev/null | wc -l)" 0
# Zombies aside: the killed controller's sandbox init is reparented to the
# host's PID 1, and reaping it is PID 1's job (this CI machine's PID 1 is no
# init and never does; a zombie holds nothing but its PID).
build_uid_processes() {
  ps -eo uid=,stat=,pid=,ppid=,args= | awk '{ u = $1 < 0 ? $1 + 4294967296 : $1 } u >= 3100000000 && $2 !~ /^Z/'
}
check "killed task: processes of build uids left" "$(build_uid_processes | wc -l)" 0 || build_uid_processes

# ---- the summary ---------------------------------------------------------------------------
summary="$scratch/out/summary.jsonl"
check "summary: one line per sdist" "$(wc -l < "$summary")" "$total"
check "summary: the killed one has no report" "$(jq -r 'select(.sdist == "snapbad_slow-1.0") | .outcome' "$summary")" no_report
check "summary: counts equal the reports" "$(jq -r 'select(.outcome != "no_report")' "$summary" | jq -s length)" \
  "$(ls "$scratch"/out/*/report.json | wc -l)"
check "summary: built as the reports say" "$(jq -r 'select(.outcome == "built") | .sdist' "$summary" | wc -l)" \
  "$(jq -r 'select(.outcome == "built") | .outcome' "$scratch"/out/*/report.json | wc -l)"
check "summary table: counts line" "$(tail -1 "$scratch/run1.out" | grep -c '^counts: ')" 1

# ---- run 2: only what has no report -------------------------------------------------------
stamp() { stat -c '%n %Y' "$scratch"/out/*/report.json | sort; }
before=$(stamp)
timeout 300 "${farm_run[@]}" --timeout 2 "$scratch/in" > "$scratch/run2.out" 2> "$scratch/run2.err"
check "run 2: exit" "$?" 0 || { cat "$scratch/run2.err"; squeue; sinfo -R; tail -5 "$scratch/log/prolog.log"; }
check "run 2: builds only what had no report" "$(grep -o '[0-9]* to build' "$scratch/run2.err")" "1 to build"
check "run 2: the other reports untouched" "$(stamp | grep -v snapbad_slow)" "$before"
check "run 2: the sleeper has a report now (its deadline)" \
  "$(jq -r 'select(.sdist == "snapbad_slow-1.0") | .outcome' "$summary")" build_failed

# ---- stop the cluster: nothing of it left ---------------------------------------------------
pids=""
for pidfile in "${daemons_started[@]}"; do pids="$pids $(cat "$pidfile")"; done
stop_daemons
check "the daemons this test started are gone" "$(for p in $pids; do kill -0 "$p" 2>/dev/null && echo "$p"; done | wc -l)" 0
echo "$passes passed, $failures failed"
exit $((failures > 0))
