#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/: small valid inputs in each target's input format
(fuzz/README.md), from which the fuzzer mutates. Run it after changing an input format or the
configs; the files are committed. Standard library only."""
import shutil
import struct
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
ROOT = FUZZ.parent
CORPUS = FUZZ / "corpus"


# ---- the HDF5 file description of support/h5_builder.hpp --------------------------------------

U8, I32, I64, F32, F64 = 0, 1, 2, 3, 4  # data set element types
TYPE_FORMAT = {U8: "B", I32: "<i", I64: "<q", F32: "<f", F64: "<d"}


class H5Spec:
    def __init__(self, objects, attributes):
        self.objects, self.attributes, self.out = objects, attributes, bytearray()

    def _owner(self, name):  # attributes may also sit on the root ("/")
        return len(self.objects) if name == "/" else self.objects.index(name)

    def group(self, path):
        self.out += bytes([0, self.objects.index(path)])

    def dataset(self, path, dtype, dims, values, extendible=False):
        assert all(d < 0xE0 for d in dims)
        self.out += bytes([1, self.objects.index(path), dtype | (8 if extendible else 0), len(dims), *dims])
        self.out += b"".join(struct.pack(TYPE_FORMAT[dtype], v) for v in values)

    def int_attr(self, owner, name, value):
        self.out += bytes([2, self._owner(owner), self.attributes.index(name), 0, 0]) + struct.pack("<q", value)

    def float_attr(self, owner, name, value):
        self.out += bytes([3, self._owner(owner), self.attributes.index(name), 0, 0]) + struct.pack("<d", value)

    @staticmethod
    def _strings(values):
        out = bytearray()
        for v in values:
            b = v.encode()
            assert len(b) < 48
            out += bytes([len(b)]) + b
        return out

    def str_attr(self, owner, name, value):
        self.out += bytes([4, self._owner(owner), self.attributes.index(name), 0, 0]) + self._strings([value])

    def strs_attr(self, owner, name, values):
        self.out += bytes([4, self._owner(owner), self.attributes.index(name), 0, len(values) + 1])
        self.out += self._strings(values)

    def strs_dataset(self, path, values):
        self.out += bytes([5, self.objects.index(path), 0, len(values) + 1]) + self._strings(values)


# ---- one function per target ---------------------------------------------------------------------

def config():
    seeds = {p.name: p.read_bytes() for p in sorted((ROOT / "configs").glob("*.toml"))}
    default = (ROOT / "configs" / "default.toml").read_bytes()
    seeds["default-with-overrides.bin"] = default + b"\0train.lr=0.01\0model.hidden=[32, 16]\0run.out_dir=runs/x"
    seeds["standin-section.toml"] = (
        b'[standin]\nmode = "second"\nlevel = 2.5\nshare = 0.25\nstrict = true\nnames = ["a", "b"]\n')
    return seeds


def idx_pair(n, h, w, gzip_flags=0, seed=1):
    images = struct.pack(">IIII", 0x803, n, h, w) + bytes((seed * 37 + i) % 256 for i in range(n * h * w))
    labels = struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))
    return bytes([gzip_flags]) + struct.pack("<H", len(images)) + images + labels


def idx():
    return {"valid-3x4x4.bin": idx_pair(3, 4, 4), "valid-2x28x28.bin": idx_pair(2, 28, 28, seed=2),
            "valid-gzip-both.bin": idx_pair(3, 4, 4, gzip_flags=3)}


def cifar10():
    names = b"airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n"
    record = bytes([3]) + bytes((i * 7) % 256 for i in range(3072))
    return {"one-record-named.bin": bytes([1, len(names)]) + names + record,
            "one-record-found.bin": bytes([2 | 4, 0]) + record}


def hdf5_dataset():
    seeds = {}
    s = H5Spec(["x", "y", "group"], ["class_names"])
    s.dataset("x", U8, [2, 1, 2, 2], range(8))
    s.dataset("y", I64, [2], [0, 2])
    s.strs_attr("y", "class_names", ["zero", "one", "two"])
    seeds["images-named.bin"] = bytes(s.out)
    s = H5Spec(["x", "y", "group"], ["class_names"])
    s.dataset("x", F32, [3, 2], [0.5, -1.0, 2.0, 0.0, 1.5, 3.0])
    s.dataset("y", I64, [3], [1, 0, 1])
    s.dataset("group", I64, [3], [0, 0, 1])
    seeds["vectors-grouped.bin"] = bytes(s.out)
    s = H5Spec(["x", "y", "group"], ["class_names"])  # issue 25: a stray label 200 among 0-2
    s.dataset("x", F32, [4, 1], [0.5, 1.0, 1.5, 2.0])
    s.dataset("y", I64, [4], [0, 1, 200, 2])
    seeds["stray-label.bin"] = bytes(s.out)
    return seeds


# The run file's tables a resume appends to (sim/checkpoint_tables.cpp, io/run_columns.hpp).
TIMING_COLUMNS = ["train_seconds", "comm_seconds", "eval_seconds", "io_seconds", "bytes_sent", "bytes_received"]
# Added later: last in the name list, so the indices older seeds and regressions use keep their meaning.
LATER_TIMING_COLUMNS = ["bytes_sent_off_node", "bytes_received_off_node"]
EVAL_COLUMNS = ["round", "accuracy", "accuracy_mean", "accuracy_std", "loss", "auc"]
RUN_TABLES = (["metrics/rounds/round"] + [f"timing/{c}" for c in TIMING_COLUMNS]
              + [f"metrics/eval/{c}" for c in EVAL_COLUMNS]
              + ["metrics/eval/client_accuracy", "partition/placement", "partition/replacements/round",
                 "partition/replacements/placement"])
CHECKPOINT_OBJECTS = ["checkpoint", "checkpoint/state", "checkpoint/state/model", "checkpoint/state/personal",
                      "checkpoint/state/personal/clients", "checkpoint/state/personal/values",
                      "checkpoint/state/flags", "checkpoint/state/flags/clients", "checkpoint/state/flags/values",
                      "checkpoint/state/momentum", "config", "checkpoint/state/plan"] + RUN_TABLES + [
                      f"timing/{c}" for c in LATER_TIMING_COLUMNS]
CHECKPOINT_ATTRIBUTES = ["format", "complete", "rounds_done", "elapsed_seconds", "config_toml", "config_crc32",
                         "world_size", "created", "rows", "numel", "num_clients"]


def run_tables(s, clients=3, rounds=3, ranks=2, eval_rounds=(0, 2), replaced_after=(1,), short_column=None):
    """The run-file part of a checkpoint: extendible tables of `rounds` rows, as a resume finds them."""
    s.int_attr("/", "num_clients", clients)
    s.dataset("metrics/rounds/round", I64, [rounds], range(rounds), extendible=True)
    for c in TIMING_COLUMNS + LATER_TIMING_COLUMNS:
        dtype = I64 if c.startswith("bytes") else F64
        s.dataset(f"timing/{c}", dtype, [rounds, ranks], [1] * (rounds * ranks), extendible=True)
    e = len(eval_rounds)
    s.dataset("metrics/eval/round", I64, [e], eval_rounds, extendible=True)
    for c in EVAL_COLUMNS[1:]:
        n = e - 1 if c == short_column else e
        s.dataset(f"metrics/eval/{c}", F64, [n], [0.5] * n, extendible=True)
    s.dataset("metrics/eval/client_accuracy", F64, [e, clients], [0.5] * (e * clients), extendible=True)
    s.dataset("partition/placement", I64, [clients], [c % ranks for c in range(clients)])
    if replaced_after:
        k = len(replaced_after)
        s.dataset("partition/replacements/round", I64, [k], replaced_after, extendible=True)
        s.dataset("partition/replacements/placement", I64, [k, clients], [0] * (k * clients), extendible=True)


def checkpoint_spec(state, tables=run_tables):
    """A complete checkpoint after 3 rounds whose /checkpoint/state is what state(spec) writes."""
    s = H5Spec(CHECKPOINT_OBJECTS, CHECKPOINT_ATTRIBUTES)
    s.strs_dataset("config", ["[run]\nrounds = 4\n"])
    tables(s)
    s.group("checkpoint")
    s.str_attr("checkpoint", "format", "fedsaf-checkpoint/1")
    s.int_attr("checkpoint", "rounds_done", 3)
    s.float_attr("checkpoint", "elapsed_seconds", 1.5)
    s.str_attr("checkpoint", "config_toml", "[run]\nrounds = 4\n")
    s.int_attr("checkpoint", "world_size", 1)
    s.group("checkpoint/state")
    state(s)
    s.int_attr("checkpoint", "complete", 1)  # last, as the writer does
    return bytes(s.out)


def personal_and_flags(s):
    s.dataset("checkpoint/state/model", F32, [4], [0.1, 0.2, 0.3, 0.4])
    s.group("checkpoint/state/personal")
    s.int_attr("checkpoint/state/personal", "rows", 2)
    s.int_attr("checkpoint/state/personal", "numel", 4)
    s.dataset("checkpoint/state/personal/clients", I64, [2], [1, 0])
    s.dataset("checkpoint/state/personal/values", F32, [2, 4], [float(i) for i in range(8)])
    s.group("checkpoint/state/flags")
    s.int_attr("checkpoint/state/flags", "rows", 1)
    s.int_attr("checkpoint/state/flags", "numel", 0)
    s.dataset("checkpoint/state/flags/clients", I64, [1], [2])


def globals_only(s):
    s.dataset("checkpoint/state/model", F64, [4], [1.0, 2.0, 3.0, 4.0])
    s.dataset("checkpoint/state/momentum", I64, [4], [1, 2, 3, 4])
    s.dataset("checkpoint/state/plan", I64, [3], [3, 0, 2])  # FedSAF's: planned round, then its cohort
    s.group("checkpoint/state/personal")
    s.int_attr("checkpoint/state/personal", "rows", 0)
    s.int_attr("checkpoint/state/personal", "numel", 4)


def float64_rows(s):
    s.group("checkpoint/state/personal")
    s.int_attr("checkpoint/state/personal", "rows", 3)
    s.int_attr("checkpoint/state/personal", "numel", 4)
    s.dataset("checkpoint/state/personal/clients", I64, [3], [2, 0, 1])
    s.dataset("checkpoint/state/personal/values", F64, [3, 4], [float(i) / 8 for i in range(12)])


def checkpoint():
    # The header: flags (bit 2: named ckpt-<rounds>.h5), rounds, clients, loads (2 bits per state
    # model, personal, flags, momentum: 1 global, 2 per client, 3 per client into existing rows).
    both = checkpoint_spec(personal_and_flags)
    return {"valid-named.bin": bytes([4, 3, 4, 1 | 3 << 2 | 2 << 4]) + both,
            "valid-unnamed.bin": bytes([0, 0, 3, 1 | 2 << 2]) + both,
            "globals.bin": bytes([4, 3, 2, 1 | 2 << 2 | 1 << 6]) + checkpoint_spec(globals_only),
            "float64-rows.bin": bytes([0, 0, 3, 3 << 2]) + checkpoint_spec(float64_rows),
            # issue 25: the tables' lies a resume must refuse, each next to a valid file
            "narrow-replacement-row.bin": bytes([4, 3, 4, 1 | 3 << 2 | 2 << 4]) + checkpoint_spec(
                personal_and_flags, lambda s: narrow_replacement(s)),
            "short-eval-column.bin": bytes([4, 3, 4, 1 | 3 << 2 | 2 << 4]) + checkpoint_spec(
                personal_and_flags, lambda s: short_eval_column(s)),
            "nan-model.bin": bytes([4, 3, 2, 1]) + checkpoint_spec(nan_model)}


def narrow_replacement(s):
    run_tables(s, replaced_after=())
    s.dataset("partition/replacements/round", I64, [1], [1], extendible=True)
    s.dataset("partition/replacements/placement", I64, [1, 2], [0, 0], extendible=True)  # 2 of 3 clients


def short_eval_column(s):
    run_tables(s, short_column="accuracy")  # 1 row where /metrics/eval/round has 2


def nan_model(s):
    s.dataset("checkpoint/state/model", F32, [4], [0.1, float("nan"), 0.3, 0.4])


def run_spec(accuracy, eval_rounds):
    """A run file of 3 rounds, 2 clients, with the given evaluations."""
    objects = ["partition", "partition/sizes", "metrics/rounds/round", "metrics/rounds/wall_seconds",
               "metrics/eval/accuracy", "metrics/eval/round", "timing/bytes_sent", "config"]
    attributes = ["schema_version", "status", "fedsaf_version", "git_commit", "algorithm", "dataset", "model",
                  "device", "seed", "num_clients", "num_classes", "num_params", "shared_params", "world_size",
                  "rounds_planned", "wall_seconds", "method"]
    s = H5Spec(objects, attributes)
    for name, value in [("schema_version", "1.0"), ("status", "complete"), ("fedsaf_version", "0.1.0"),
                        ("git_commit", "0123456789ab"), ("algorithm", "fedavg"), ("dataset", "synthetic"),
                        ("model", "mlp"), ("device", "cpu")]:
        s.str_attr("/", name, value)
    for name, value in [("seed", 1), ("num_clients", 2), ("num_classes", 10), ("num_params", 100),
                        ("shared_params", 100), ("world_size", 1), ("rounds_planned", 3)]:
        s.int_attr("/", name, value)
    s.float_attr("/", "wall_seconds", 2.5)
    s.dataset("partition/sizes", I64, [2, 2], [30, 10, 20, 5])
    s.str_attr("partition", "method", "iid")
    s.dataset("metrics/rounds/round", I64, [3], [0, 1, 2])
    s.dataset("metrics/rounds/wall_seconds", F64, [3], [0.5, 0.75, 1.0])
    s.dataset("metrics/eval/accuracy", F64, [len(accuracy)], accuracy)
    s.dataset("metrics/eval/round", I64, [len(eval_rounds)], eval_rounds)
    s.dataset("timing/bytes_sent", I64, [3, 1], [1000, 1000, 1000])
    s.strs_dataset("config", ["[run]\nrounds = 3\n"])
    return bytes(s.out)


def run_file():
    # The header: flags (bit 0: --config).
    complete = run_spec([0.5, 0.625], [0, 2])
    return {"complete-run.bin": bytes([1]) + complete, "complete-run-no-config.bin": bytes([0]) + complete,
            "run-without-evaluations.bin": bytes([0]) + run_spec([], [])}


def main():
    for target, make in [("config", config), ("idx", idx), ("cifar10", cifar10), ("hdf5_dataset", hdf5_dataset),
                         ("checkpoint", checkpoint), ("run_file", run_file)]:
        folder = CORPUS / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in make().items():
            (folder / name).write_bytes(data)
        print(f"{folder.relative_to(ROOT)}: {len(list(folder.iterdir()))} seeds")


if __name__ == "__main__":
    main()
