#!/usr/bin/env bash
# The analysis package on big run files (issue 23 §6: "summarising a 100,000-client run file in
# ≤ 5 s"). For each client count: two FedAvg runs on the built-in synthetic data (the settings of
# bench/scale.sh: mlp with a hidden layer of 200, 20–100 samples per client; a cohort of 1 % of the
# clients, 4 rounds, evaluations after rounds 2 and 4; seeds 1 and 2; 2 ranks; a case N:E instead
# runs E rounds, each evaluated on a fixed sample of 1,000 clients (run.eval_clients), so that the
# file holds E rows of N per-client accuracies), then, each a fresh process and the median of
# REPEATS:
#
#   h5py read      /usr/bin/python3 importing numpy + h5py and reading every dataset of the file
#                  (the baseline: what merely reading the file costs)
#   imports        a process importing numpy, h5py and pandas (the floor of any command)
#   load_run       seconds inside `load_run(file)` (after the imports; in-process clock)
#   load process   a process running `import fedsaf_analysis; load_run(file)`
#   summary        `fedsaf-analysis summary FILE`
#   compare        `fedsaf-analysis compare FILE FILE2 -o DIR` (five PNGs, two CSVs, compare.md)
#   report         `fedsaf-analysis report FILE -o DIR` (five PNGs, report.md)
#
# With BEFORE=<git revision> the same is timed for that revision's analysis/ (git archive into a
# temporary folder) in the same script, alternating with the working tree's.
#
#   bash bench/analysis_scale.sh [CASES="10000 100000 100000:40"] [REPEATS=5]
#   RUN_DIR=/tmp/runs  keeps (and reuses) the run files there: RUN_DIR/fedavg-CASE-seedS/run.h5
#   FEDSAF_BINARY=...  the fedsaf binary to make them with (default: build it, scripts/build.sh)
#
# Making the files: about 1 minute at 10,000 clients, 3 at 100,000 and 4 at 100000:40 (2 cores);
# timing them: about two minutes per case.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cases="${1:-10000 100000 100000:40}"
repeats="${2:-5}"
# shellcheck source=bench/common.sh
source "$root/bench/common.sh"
bench_env
py=/usr/bin/python3  # analysis/fedsaf-analysis runs Debian's Python (h5py, pandas, matplotlib)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
runs="${RUN_DIR:-$work/runs}"
mkdir -p "$runs"

binary=""  # bench_binary, on the first run that needs it
# make_run CASE SEED: the run file of CASE (N or N:E) and SEED (kept when it exists).
make_run() {
  local dir="$runs/fedavg-${1/:/-e}-seed$2" clients="${1%%:*}"
  local evals=(--set run.rounds=4 --set run.eval_every=2)
  if [ -f "$dir/run.h5" ]; then return 0; fi
  if [[ "$1" == *:* ]]; then
    evals=(--set run.rounds="${1#*:}" --set run.eval_every=1 --set run.eval_clients=1000)
  fi
  [ -n "$binary" ] || binary="$(bench_binary)"
  mpirun -n 2 --bind-to none "$binary" run "$root/configs/fedsaf-synthetic.toml" --out "$dir" \
    --fresh --force --quiet --set run.algorithm=fedavg --set run.seed="$2" \
    --set run.clients="$clients" --set run.join_ratio=0.01 "${evals[@]}" \
    --set run.checkpoint_every=0 --set data.synthetic.min_samples=20 \
    --set data.synthetic.max_samples=100 --set model.hidden=[200] >"$dir.log" 2>&1 ||
    { cat "$dir.log" >&2; exit 1; }
}

trees=("now=$root/analysis")
if [ -n "${BEFORE:-}" ]; then
  mkdir -p "$work/before"
  git -C "$root" archive "$BEFORE" analysis | tar -x -C "$work/before"
  trees+=("$BEFORE=$work/before/analysis")
fi

for case in $cases; do
  make_run "$case" 1
  make_run "$case" 2
done

"$py" - "$runs" "$repeats" "$work" "$cases" "${trees[@]}" <<'EOF'
import os, statistics, subprocess, sys, time
runs, repeats, work, cases = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
trees = [t.split("=", 1) for t in sys.argv[5:]]
py = "/usr/bin/python3"
READ_ALL = """import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    f.visititems(lambda n, o: o[()] if isinstance(o, h5py.Dataset) else None)"""
IMPORTS = "import numpy, h5py, pandas"
KINDS = ("load", "loadp", "summary", "compare", "report")
LOAD = """import sys, time, warnings
warnings.simplefilter("ignore")
from fedsaf_analysis import load_run
t = time.perf_counter(); load_run(sys.argv[1]); print(time.perf_counter() - t)"""


def wall(cmd, env=None):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t


def inner(cmd, env):
    return float(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout)


def med(values):
    return f"{statistics.median(values):.2f}"


print(f"/usr/bin/python3, {os.cpu_count()} cores, load average "
      f"{os.getloadavg()[0]:.1f} at the start; seconds, median of {repeats} fresh processes")
print()
head = "| clients | evaluations | run file, MB | h5py read | imports |"
for name, _ in trees:
    head += (f" load_run ({name}) | load process ({name}) | summary ({name}) | compare ({name}) "
             f"| report ({name}) |")
print(head)
print("|" + "---|" * (head.count("|") - 1))
for case in cases:
    clients, _, evals = case.partition(":")
    a = f"{runs}/fedavg-{case.replace(':', '-e')}-seed1/run.h5"
    b = f"{runs}/fedavg-{case.replace(':', '-e')}-seed2/run.h5"
    times = {k: [] for k in ("read", "imports")}
    for name, _ in trees:
        for k in KINDS:
            times[name, k] = []
    for _ in range(repeats):  # interleaved, so that the trees share the machine's moods
        times["read"].append(wall([py, "-c", READ_ALL, a]))
        times["imports"].append(wall([py, "-c", IMPORTS]))
        for name, tree in trees:
            env = dict(os.environ, PYTHONPATH=tree, MPLBACKEND="Agg")
            cli = [py, "-m", "fedsaf_analysis"]
            t = time.perf_counter()
            times[name, "load"].append(inner([py, "-c", LOAD, a], env))
            times[name, "loadp"].append(time.perf_counter() - t)
            times[name, "summary"].append(wall(cli + ["summary", a], env))
            times[name, "compare"].append(
                wall(cli + ["compare", a, b, "-o", f"{work}/compare-{name}"], env))
            times[name, "report"].append(wall(cli + ["report", a, "-o", f"{work}/report-{name}"], env))
    row = (f"| {int(clients):,} | {evals or 2} | {os.path.getsize(a) / 1e6:.1f} "
           f"| {med(times['read'])} | {med(times['imports'])} |")
    for name, _ in trees:
        row += "".join(f" {med(times[name, k])} |" for k in KINDS)
    print(row)
EOF
