#!/usr/bin/python3
"""Checks the hosts a run's ranks ran on (a run file's /ranks/hostname).
Usage: check_hosts.py RUN.h5 HOST0,HOST1,...   the ranks ran on exactly these hosts, in order.
       check_hosts.py --spread HOSTS RUN.h5...  every run is complete and the runs together used
                                                exactly this set of hosts (each at least once).
Exit status 1, saying what it found, otherwise."""
import os
import sys

import h5py


def read(path):
    """(hosts, status) of a run file; sys.exit when there is none."""
    if not os.path.isfile(path):
        sys.exit(f"  MISMATCH no run file {path}")
    with h5py.File(path, "r") as f:
        hosts = [h.decode() if isinstance(h, bytes) else str(h) for h in f["ranks/hostname"][()]]
        status = f.attrs.get("status")
    return hosts, status.decode() if isinstance(status, bytes) else status


def spread(expected, paths):
    used, problems = set(), []
    for p in paths:
        hosts, status = read(p)
        print(f"{p}: /ranks/hostname = {','.join(hosts)}, status {status}")
        used.update(hosts)
        if status != "complete":
            problems.append(f"{p}: status {status!r}, not 'complete'")
    if used != expected:
        problems.append(f"the runs used {','.join(sorted(used))}, expected {','.join(sorted(expected))}")
    for p in problems:
        print(f"  MISMATCH {p}")
    return 1 if problems else 0


if len(sys.argv) >= 4 and sys.argv[1] == "--spread":
    sys.exit(spread(set(sys.argv[2].split(",")), sys.argv[3:]))
if len(sys.argv) != 3:
    sys.exit(__doc__)
found, _ = read(sys.argv[1])
expected = sys.argv[2].split(",")
print(f"{sys.argv[1]}: /ranks/hostname = {','.join(found)}")
if found != expected:
    print(f"  MISMATCH expected {','.join(expected)}")
    sys.exit(1)
