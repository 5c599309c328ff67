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
#
# The finished runs' files are kept in the repository (docs/results/fedsaf-study/<sweep name>/
# runs/<point>.h5, about 200 kB each), so that a study too long for one sitting continues in
# another clone or on another machine:
#   bash docs/studies/fedsaf-study.sh --restore [SWEEPS_DIR]
# puts them back into the sweep folders as finished points (run.h5 + .complete), which the sweep
# command then skips; every regeneration copies newly finished points into the repository.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
restore=0
if [ "${1:-}" = "--restore" ]; then restore=1; shift; fi
sweeps="${1:-$root/runs/sweeps}"
for name in fedsaf-study-cifar10-pat2-20 fedsaf-study-cifar10-dir0.1-20 fedsaf-study-fmnist-dir0.1-100; do
  points="$sweeps/$name/points"
  archive="$root/docs/results/fedsaf-study/$name/runs"
  if [ "$restore" = 1 ]; then
    restored=0
    for kept in "$archive"/*.h5; do
      [ -f "$kept" ] || continue
      point="$points/$(basename "$kept" .h5)"
      [ -f "$point/.complete" ] && continue
      mkdir -p "$point"
      cp "$kept" "$point/run.h5"
      touch "$point/.complete"
      restored=$((restored + 1))
    done
    echo "fedsaf-study: $name: $restored finished run(s) restored into $points"
    continue
  fi
  for done_marker in "$points"/*/.complete; do  # finished points into the repository
    [ -f "$done_marker" ] || continue
    point="$(dirname "$done_marker")"
    mkdir -p "$archive"
    cmp -s "$point/run.h5" "$archive/$(basename "$point").h5" || cp "$point/run.h5" "$archive/$(basename "$point").h5"
  done
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
