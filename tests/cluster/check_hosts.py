#!/usr/bin/python3
"""Checks that a run file's /ranks/hostname (the host each rank ran on) is exactly the given list.
Usage: check_hosts.py RUN.h5 HOST0,HOST1,...   Exit status 1, saying what it found, otherwise."""
import os
import sys

import h5py

if len(sys.argv) != 3:
    sys.exit(__doc__)
if not os.path.isfile(sys.argv[1]):
    sys.exit(f"  MISMATCH no run file {sys.argv[1]}")
with h5py.File(sys.argv[1], "r") as f:
    found = [h.decode() if isinstance(h, bytes) else str(h) for h in f["ranks/hostname"][()]]
expected = sys.argv[2].split(",")
print(f"{sys.argv[1]}: /ranks/hostname = {','.join(found)}")
if found != expected:
    print(f"  MISMATCH expected {','.join(expected)}")
    sys.exit(1)
