#!/usr/bin/python3
"""Compares two fedsaf run files value for value: every data set (shape, dtype, every element
bit for bit; NaN equals NaN) and every attribute, in both directions, except what differs between
two runs of the same config by nature: timings, dates, the code version and the config text.
For checking that a code change leaves results unchanged (e.g. against a run file of an earlier
commit). Exit status 0 when identical, 1 with one line per difference."""
import sys

import h5py
import numpy as np

# Paths (data sets or groups) whose contents are timings or provenance.
SKIPPED_PATHS = ('/config', '/timing/train_seconds', '/timing/comm_seconds', '/timing/eval_seconds',
                 '/timing/io_seconds', '/metrics/rounds/wall_seconds', '/metrics/rounds/client_updates_per_second',
                 '/attention/seconds')
SKIPPED_ROOT_ATTRS = {'created', 'finished', 'wall_seconds', 'setup_seconds', 'git_commit', 'fedsaf_version'}


def skipped(path):
    return any(path == p or path.startswith(p + '/') for p in SKIPPED_PATHS)


def objects(f):
    found = {'/': f}
    f.visititems(lambda name, obj: found.__setitem__('/' + name, obj))
    return {path: obj for path, obj in found.items() if not skipped(path)}


def same_values(a, b):
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind == 'f':
        return np.array_equal(a.view(f'u{a.dtype.itemsize}'), b.view(f'u{b.dtype.itemsize}'))
    return np.array_equal(a, b)


def attrs_of(path, obj):
    return {k: v for k, v in obj.attrs.items() if not (path == '/' and k in SKIPPED_ROOT_ATTRS)}


def compare(file_a, file_b):
    differences = []
    with h5py.File(file_a, 'r') as a, h5py.File(file_b, 'r') as b:
        objs_a, objs_b = objects(a), objects(b)
        for path in sorted(set(objs_a) ^ set(objs_b)):
            differences.append(f'{path}: only in {file_a if path in objs_a else file_b}')
        for path in sorted(set(objs_a) & set(objs_b)):
            x, y = objs_a[path], objs_b[path]
            if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
                differences.append(f'{path}: a data set in one file, a group in the other')
                continue
            if isinstance(x, h5py.Dataset) and not same_values(np.asarray(x[()]), np.asarray(y[()])):
                differences.append(f'{path}: values differ (shapes {x.shape} / {y.shape}, dtypes {x.dtype} / {y.dtype})')
            ax, ay = attrs_of(path, x), attrs_of(path, y)
            for key in sorted(set(ax) | set(ay)):
                if key not in ax or key not in ay:
                    differences.append(f'{path}@{key}: only in {file_a if key in ax else file_b}')
                elif not same_values(np.asarray(ax[key]), np.asarray(ay[key])):
                    differences.append(f'{path}@{key}: {ax[key]!r} != {ay[key]!r}')
    return differences


if __name__ == '__main__':
    if len(sys.argv) != 3:
        sys.exit('usage: compare_run_files.py RUN_A.h5 RUN_B.h5')
    diffs = compare(sys.argv[1], sys.argv[2])
    for d in diffs:
        print(d)
    print(f'{sys.argv[1]} vs {sys.argv[2]}: ' + ('identical (timings, dates, version and config aside)' if not diffs
                                                 else f'{len(diffs)} difference(s)'))
    sys.exit(1 if diffs else 0)
