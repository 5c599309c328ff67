#!/usr/bin/python3
"""Checks a run file's off-node byte counts (/timing/bytes_*_off_node, [rounds, ranks]).
Usage: check_off_node.py RUN.h5 none|some
  none: every count is 0 (all ranks on one node);
  some: in every round every rank exchanged something with another node, never more than its total.
Exit status 1, saying what it found, otherwise."""
import os
import sys

import h5py
import numpy as np

if len(sys.argv) != 3 or sys.argv[2] not in ("none", "some"):
    sys.exit(__doc__)
if not os.path.isfile(sys.argv[1]):
    sys.exit(f"  MISMATCH no run file {sys.argv[1]}")
failed = False
with h5py.File(sys.argv[1], "r") as f:
    for way in ("sent", "received"):
        total = f[f"timing/bytes_{way}"][()]
        off = f[f"timing/bytes_{way}_off_node"][()]
        print(f"{sys.argv[1]}: bytes {way} off node per rank, summed over rounds: {off.sum(axis=0).tolist()} "
              f"of {total.sum(axis=0).tolist()}")
        if sys.argv[2] == "none":
            ok = (off == 0).all()
        else:
            ok = ((off > 0) & (off <= total)).all()
        if not ok:
            print(f"  MISMATCH bytes {way} off node: expected {sys.argv[2]}")
            failed = True
sys.exit(1 if failed else 0)
