#!/usr/bin/python3
"""Compares the results of two complete fedsaf run files: every data set that does not measure
time, hosts or bytes on the wire (the list of tests/checkpoint/run_file_compare.hpp), exactly
(TOL 0) or within TOL. Prints the largest difference; exit status 1 with one line per mismatch.
Usage: compare_results.py A.h5 B.h5 TOL"""
import os
import sys

import h5py
import numpy as np

PATHS = ("metrics/rounds/round", "metrics/rounds/cohort_size", "metrics/rounds/train_loss",
         "metrics/rounds/protocol_bytes_up", "metrics/rounds/protocol_bytes_down", "metrics/eval/round",
         "metrics/eval/accuracy", "metrics/eval/accuracy_mean", "metrics/eval/accuracy_std", "metrics/eval/loss",
         "metrics/eval/auc", "metrics/eval/client_accuracy", "attention/rows", "attention/guard_fired",
         "attention/sigma", "attention/xi_round", "attention/xi", "fisher/mean", "fisher/max", "partition/sizes")


def main(a_path, b_path, tol):
    missing = [p for p in (a_path, b_path) if not os.path.isfile(p)]
    if missing:
        print(f"  MISMATCH no run file {' or '.join(missing)}")
        return 1
    problems, largest, compared = [], 0.0, 0
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        for f, name in ((a, a_path), (b, b_path)):
            status = f.attrs.get("status")
            status = status.decode() if isinstance(status, bytes) else status
            if status != "complete":
                problems.append(f"{name}: status {status!r}, not 'complete'")
        for path in PATHS:
            if (path in a) != (path in b):
                problems.append(f"{path}: only in {a_path if path in a else b_path}")
                continue
            if path not in a:
                continue
            x, y = np.asarray(a[path][()], dtype=np.float64), np.asarray(b[path][()], dtype=np.float64)
            if x.shape != y.shape:
                problems.append(f"{path}: shapes {x.shape} and {y.shape}")
                continue
            compared += 1
            both_nan = np.isnan(x) & np.isnan(y)
            diff = np.where(both_nan, 0.0, np.abs(x - y))
            diff = np.where(np.isnan(diff), np.inf, diff)
            worst = float(diff.max()) if diff.size else 0.0
            largest = max(largest, worst)
            if worst > tol:
                problems.append(f"{path}: differs by up to {worst:.3g} (tolerance {tol:g})")
    if compared == 0:
        problems.append("no result data sets found")
    print(f"{a_path} vs {b_path}: {compared} data sets, largest difference {largest:.3g}")
    for p in problems:
        print(f"  MISMATCH {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
