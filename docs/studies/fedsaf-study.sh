#!/usr/bin/env bash
# Regenerates the tables and plots of docs/results/fedsaf-study.md (issue 26) from the study's
# sweep folders, finished or not (runs still going are read as they stand and marked partial):
#   bash docs/studies/fedsaf-study.sh [SWEEPS_DIR]        (default: runs/sweeps)
# For each setting whose sweep folder exists, writes docs/results/fedsaf-study/<sweep name>/:
# compare.md, groups.csv, summary.csv and the compare_*.png curves (analysis/fedsaf-analysis
# compare, grouped by the configuration, mean ± std over seeds), and attention.md (the ξ guard,
# σ and ξ_ii of every fedsaf / fedamp run: docs/studies/fedsaf_study_attention.py), and copies
# the groups and attention tables into docs/results/fedsaf-study.md (fedsaf_study_insert.py).
# Running the sweeps: the commands at the top of jobs/sweeps/fedsaf-study-*.toml.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
sweeps="${1:-$root/runs/sweeps}"
for name in fedsaf-study-cifar10-pat2-20 fedsaf-study-cifar10-dir0.1-20 fedsaf-study-fmnist-dir0.1-100; do
  points="$sweeps/$name/points"
  if ! compgen -G "$points/*/run.h5" > /dev/null; then
    echo "fedsaf-study: $name: no run files yet under $points (skipped)"
    continue
  fi
  out="$root/docs/results/fedsaf-study/$name"
  mkdir -p "$out"
  nice -n 19 "$root/analysis/fedsaf-analysis" compare "$points" -o "$out" --format markdown \
    > /dev/null 2> "$out/warnings.txt" || { cat "$out/warnings.txt" >&2; exit 1; }
  nice -n 19 /usr/bin/python3 "$root/docs/studies/fedsaf_study_attention.py" "$points" > "$out/attention.md"
  # the tables name runs by their absolute paths: keep them relative to the repository
  sed -i "s#$sweeps/##g; s#$root/##g" "$out/compare.md" "$out/summary.csv" "$out/warnings.txt"
  /usr/bin/python3 "$root/docs/studies/fedsaf_study_insert.py" "$name" "$out"
  echo "fedsaf-study: $name: $(ls "$points"/*/run.h5 | wc -l) run file(s) -> $out"
done
