"""Reading fedsaf run files (io/SCHEMA.md) into pandas DataFrames.

``load_run(path)`` reads the per-round and per-evaluation tables eagerly and closes the file;
what grows with the clients is read from the file again on first use: the per-client accuracies
([E × N]) and the partition tables ([N × ·]) when their attributes are first touched (then kept),
attention matrices (A × N × N) by each ``Run.attention(round)``. A summary of a 100,000-client
run reads none of them.

Round numbers: the file stores 0-based round indices; everything this package shows or takes is
the round number people see everywhere else (fedsaf's console, ``fedsaf inspect``, checkpoint
names): index + 1, the first round is round 1. ``round_number`` is the one place that converts.
"""

from __future__ import annotations

import math
import tomllib
import warnings
from functools import cached_property
from pathlib import Path
from typing import Iterable

import h5py
import numpy as np
import pandas as pd

from .errors import AnalysisError

#: Major schema version this package reads. A file with another major version is refused;
#: a newer minor version is read (minor versions only add paths).
SUPPORTED_MAJOR = 1

#: Config keys that say where a run was written, not what it computed: never used to group runs.
LOCATION_KEYS = ("run.out_dir",)

TIMING_SECONDS = ("train_seconds", "comm_seconds", "eval_seconds", "io_seconds")
TIMING_BYTES = ("bytes_sent", "bytes_received")
TIMING_OFF_NODE = ("bytes_sent_off_node", "bytes_received_off_node")  # files from 2026-12-07 on


def round_number(index):
    """The file's 0-based round index (scalar or array) → the round number people see (index + 1).

    Called once per round value as it is read: every "round" of a Run is already a round number.
    """
    return np.asarray(index, dtype=np.int64) + 1


class AnalysisWarning(UserWarning):
    """Something in a run file is unusual but analysis can go on (e.g. an incomplete run)."""


def _py(value):
    """HDF5 attribute value → plain Python (str, int, float, list)."""
    if isinstance(value, bytes):
        return value.rstrip(b"\0").decode("utf-8", errors="replace")
    if isinstance(value, np.ndarray):
        return [_py(v) for v in value.tolist()] if value.dtype.kind in "SOU" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _strings(values) -> list[str]:
    return [_py(v) if isinstance(v, bytes) else str(v) for v in values]


def flatten_config(config: dict, prefix: str = "") -> dict:
    """Nested TOML tables → ``{"run.algorithm": "fedavg", ...}``; arrays become tuples."""
    flat = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_config(value, name + "."))
        elif isinstance(value, list):
            flat[name] = tuple(value)
        else:
            flat[name] = value
    return flat


def resolve_path(path) -> Path:
    """A run file, or a run folder holding ``run.h5``."""
    p = Path(path)
    if p.is_dir():
        if (p / "run.h5").is_file():
            return p / "run.h5"
        raise AnalysisError(f"{p}: a folder without a run.h5 (use `scaling` for a folder of runs)")
    if not p.exists():
        raise AnalysisError(f"{p}: no such file")
    return p


def find_runs(paths) -> list[Path]:
    """Every ``run.h5`` below the given folders (recursively, sorted); files are taken as given."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    found: list[Path] = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            hits = sorted(q for q in p.rglob("run.h5") if q.is_file())
            if not hits:
                raise AnalysisError(f"{p}: no run.h5 files below this folder")
            found.extend(hits)
        elif p.exists():
            found.append(p)
        else:
            raise AnalysisError(f"{p}: no such file or folder")
    return found


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        if "truncated" in reason:
            raise AnalysisError(f"{path}: truncated HDF5 file ({reason})") from None
        if "signature" in reason or "not an HDF5" in reason.lower() or "file signature" in reason:
            raise AnalysisError(f"{path}: not an HDF5 file ({reason})") from None
        raise AnalysisError(f"{path}: cannot open as an HDF5 run file ({reason})") from None


def check_schema_version(path: Path, version) -> str:
    """Refuse anything that is not a known major version; return the version string."""
    if version is None:
        raise AnalysisError(f"{path}: not a fedsaf run file (no schema_version attribute)")
    text = str(_py(version)).strip()
    major_text = text.split(".", 1)[0]
    try:
        major = int(major_text)
    except ValueError:
        raise AnalysisError(f"{path}: schema version {text} is not a known version "
                            f"(this fedsaf_analysis reads {SUPPORTED_MAJOR}.x)") from None
    if major != SUPPORTED_MAJOR:
        raise AnalysisError(
            f"{path}: schema version {text} is not supported "
            f"(this fedsaf_analysis reads major version {SUPPORTED_MAJOR}.x)")
    return text


class Run:
    """One run file.

    Attributes (DataFrames have a default RangeIndex). Every ``round`` here is the round number
    fedsaf prints (the first round is round 1), i.e. the file's 0-based index + 1: ``rounds``
    starts at round 1, ``evals`` has the round after which each evaluation ran, and
    ``attention(round)`` / ``attention_rounds`` / ``metrics_attrs["best_round"]`` use the same
    numbers.

    - ``path``: the file; ``attrs``: root attributes (dict); ``schema_version``; ``resumes``;
      ``checkpoint``: the ``/checkpoint`` attributes when the file is a checkpoint, else None.
    - ``config``: the resolved configuration (nested dict, from the TOML in ``/config``);
      ``config_flat``: ``{"run.algorithm": ..., "partition.alpha": ...}``.
    - ``rounds``: one row per round: round, cohort_size, train_loss, wall_seconds,
      client_updates_per_second, protocol_bytes_up, protocol_bytes_down (the file's
      ``/metrics/rounds``) plus ``measured_bytes_sent`` / ``measured_bytes_received`` (summed
      over ranks from ``/timing``).
    - ``evals``: one row per evaluation: round, accuracy, accuracy_mean, accuracy_std, loss, auc.
    - ``client_accuracy``: long format, one row per (evaluation, client): round, client,
      accuracy (NaN: the client has no test samples). ``client_accuracy_wide()`` gives the
      [E × N] table (index round, one column per client), ``client_accuracy_array`` the
      [E × N] numpy array. Read on first use.
    - ``timing``: one row per (round, rank): round, rank, train_seconds, comm_seconds,
      eval_seconds, io_seconds, total_seconds (the sum of the four), bytes_sent, bytes_received,
      bytes_sent_off_node, bytes_received_off_node (the part exchanged with ranks on other
      nodes; NaN in files written before fedsaf recorded it).
    - ``partition``: one row per client: client, rank (placement when the run started; runs with
      ``run.rebalance`` keep later ones in ``/partition/replacements``), train_size, test_size, size,
      classes (with at least one sample), dominant_class, dominant_share.
      ``partition_stats``: the ``/partition`` attributes; ``histogram``: [N × C] numpy array.
      ``partition`` and ``histogram`` are read on first use.
    - ``metrics_attrs``: the ``/metrics`` attributes (best_accuracy, best_round, ...), with
      ``best_round`` as a round number (-1, as in the file, when there was no evaluation).
    - ``attention_stats``: one row per round (round, rows, guard_fired, sigma) or None;
      ``attention_rounds``: rounds with a stored ξ matrix (empty without ``/attention``);
      ``attention(round)``: the N × N matrix (None without ``/attention``).
    - ``fisher``: one row per (round, tensor): round, tensor, mean, max; None without ``/fisher``.
    """

    def __init__(self, path):
        self.path = resolve_path(path)
        with _open(self.path) as h5:
            try:
                self._read(h5)
            except AnalysisError:
                raise
            except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
                raise AnalysisError(f"{self.path}: cannot read the run file ({exc})") from None
        if self.checkpoint is not None:
            warnings.warn(f"{self.path}: a checkpoint file (after "
                          f"{self.checkpoint.get('rounds_done', '?')} rounds), not a finished run "
                          "file (partial results)", AnalysisWarning, stacklevel=2)
        elif self.attrs.get("status") != "complete":
            warnings.warn(f"{self.path}: run status is {self.attrs.get('status')!r}, "
                          "not 'complete' (partial results)", AnalysisWarning, stacklevel=2)

    # -- reading ---------------------------------------------------------------------------
    def _need(self, h5, name):
        if name not in h5:
            raise AnalysisError(f"{self.path}: missing {name} (not a complete fedsaf run file)")
        return h5[name]

    def _array(self, h5, name):
        return self._need(h5, name)[()]

    def _read(self, h5):
        self.schema_version = check_schema_version(self.path, h5.attrs.get("schema_version"))
        self.attrs = {k: _py(v) for k, v in h5.attrs.items()}
        # checkpoints (OUT/checkpoints/ckpt-*.h5) are copies of the run file plus /checkpoint
        self.checkpoint = ({k: _py(v) for k, v in h5["checkpoint"].attrs.items()}
                           if "checkpoint" in h5 else None)
        self.units = {}

        def collect_units(name, obj):
            if "unit" in obj.attrs:
                self.units["/" + name] = _py(obj.attrs["unit"])
        h5.visititems(collect_units)

        raw = self._array(h5, "config")
        text = _py(np.asarray(raw).reshape(-1)[0]) if np.size(raw) else ""
        try:
            self.config = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AnalysisError(f"{self.path}: /config is not valid TOML ({exc})") from None
        self.config_text = text
        self.config_flat = flatten_config(self.config)

        # per round
        rg = self._need(h5, "metrics/rounds")
        cols = {name: rg[name][()] for name in rg if isinstance(rg[name], h5py.Dataset)}
        if "round" not in cols:
            raise AnalysisError(f"{self.path}: missing /metrics/rounds/round")
        n_rounds = min(len(v) for v in cols.values())
        order = ["round"] + [c for c in cols if c != "round"]
        rounds = pd.DataFrame({c: cols[c][:n_rounds] for c in order})
        # timing, attention_stats and fisher take their rounds from here: converted once
        rounds["round"] = round_number(rounds["round"].to_numpy())

        # timing [R, W]
        tg = self._need(h5, "timing")
        timing = {}
        for name in TIMING_SECONDS + TIMING_BYTES:
            arr = np.asarray(self._array(tg, name))
            if arr.ndim != 2:
                raise AnalysisError(f"{self.path}: /timing/{name} has shape {arr.shape}, "
                                    "expected [rounds, ranks]")
            timing[name] = arr
        n_t = min(n_rounds, *(a.shape[0] for a in timing.values()))
        world = timing["train_seconds"].shape[1]
        # after a resume on more ranks W is the largest segment's rank count (zeros elsewhere)
        self.timing_ranks = world
        round_ids = rounds["round"].to_numpy()[:n_t]
        frame = {"round": np.repeat(round_ids, world), "rank": np.tile(np.arange(world), n_t)}
        for name in TIMING_SECONDS:
            frame[name] = timing[name][:n_t].reshape(-1).astype(float)
        frame["total_seconds"] = sum(frame[n] for n in TIMING_SECONDS)
        for name in TIMING_BYTES:
            frame[name] = timing[name][:n_t].reshape(-1)
        for name in TIMING_OFF_NODE:  # older files lack them: NaN
            arr = np.asarray(tg[name][()]) if name in tg else None
            frame[name] = (arr[:n_t].reshape(-1).astype(float) if arr is not None and arr.ndim == 2
                           and arr.shape[0] >= n_t and arr.shape[1] == world else np.full(n_t * world, np.nan))
        self.timing = pd.DataFrame(frame)
        sent = np.full(n_rounds, np.nan)
        recv = np.full(n_rounds, np.nan)
        sent[:n_t] = timing["bytes_sent"][:n_t].sum(axis=1)
        recv[:n_t] = timing["bytes_received"][:n_t].sum(axis=1)
        rounds["measured_bytes_sent"] = sent
        rounds["measured_bytes_received"] = recv
        self.rounds = rounds

        # evaluations
        eg = self._need(h5, "metrics/eval")
        ecols = {name: eg[name][()] for name in eg
                 if isinstance(eg[name], h5py.Dataset) and eg[name].ndim == 1}
        if "round" not in ecols or "accuracy" not in ecols:
            raise AnalysisError(f"{self.path}: missing /metrics/eval/round or /metrics/eval/accuracy")
        n_evals = min(len(v) for v in ecols.values())
        eorder = ["round"] + [c for c in ecols if c != "round"]
        self.evals = pd.DataFrame({c: ecols[c][:n_evals] for c in eorder})
        # client_accuracy takes its rounds from here
        self.evals["round"] = round_number(self.evals["round"].to_numpy())
        self.metrics_attrs = {k: _py(v) for k, v in self._need(h5, "metrics").attrs.items()}
        best = self.metrics_attrs.get("best_round")
        if isinstance(best, int) and best >= 0:  # -1: no evaluation, kept as is
            self.metrics_attrs["best_round"] = int(round_number(best))

        # per-client tables ([E, N] accuracies, [N, ·] partition): their presence and shapes
        # are checked here, their values read on first use (the properties below), so that
        # summaries of runs with many clients read none of them.
        acc = self._need(h5, "metrics/eval/client_accuracy")
        if acc.ndim != 2:
            raise AnalysisError(f"{self.path}: /metrics/eval/client_accuracy has shape {acc.shape}")
        self._n_evals = n_evals
        pg = self._need(h5, "partition")
        self.partition_stats = {k: _py(v) for k, v in pg.attrs.items()}
        for name in ("histogram", "sizes", "placement"):
            self._need(h5, f"partition/{name}")

        # optional: attention
        if "attention" in h5:
            ag = h5["attention"]
            st = {name: ag[name][()] for name in ("rows", "guard_fired", "sigma") if name in ag}
            n_a = min([n_rounds] + [len(v) for v in st.values()])
            self.attention_stats = pd.DataFrame(
                {"round": rounds["round"].to_numpy()[:n_a], **{k: v[:n_a] for k, v in st.items()}})
            self.attention_rounds = (round_number(ag["xi_round"][()])
                                     if "xi_round" in ag else np.zeros(0, dtype=np.int64))
            self.has_attention = True
        else:
            self.attention_stats = None
            self.attention_rounds = np.zeros(0, dtype=np.int64)
            self.has_attention = False

        # optional: fisher
        if "fisher" in h5:
            fg = h5["fisher"]
            tensors = _strings(self._array(fg, "tensors"))
            fmean = np.asarray(self._array(fg, "mean"), dtype=float)
            fmax = np.asarray(self._array(fg, "max"), dtype=float)
            n_f = min(n_rounds, fmean.shape[0], fmax.shape[0])
            n_t = len(tensors)
            self.fisher = pd.DataFrame({
                "round": np.repeat(rounds["round"].to_numpy()[:n_f], n_t),
                "tensor": np.tile(np.array(tensors, dtype=object), n_f),
                "mean": fmean[:n_f, :n_t].reshape(-1),
                "max": fmax[:n_f, :n_t].reshape(-1),
            })
        else:
            self.fisher = None

    # -- on demand -------------------------------------------------------------------------
    def _read_later(self, *names) -> list[np.ndarray]:
        """Datasets read after ``load_run`` (the file is opened again), with its errors."""
        with _open(self.path) as h5:
            try:
                return [self._array(h5, name) for name in names]
            except AnalysisError:
                raise
            except (OSError, KeyError, ValueError, TypeError, RuntimeError) as exc:
                raise AnalysisError(f"{self.path}: cannot read the run file ({exc})") from None

    @cached_property
    def client_accuracy_array(self) -> np.ndarray:
        """``/metrics/eval/client_accuracy`` as an [E × N] float64 array (rows: ``evals``)."""
        (acc,) = self._read_later("metrics/eval/client_accuracy")
        return np.asarray(acc, dtype=float)[:self._n_evals]

    @cached_property
    def client_accuracy(self) -> pd.DataFrame:
        acc = self.client_accuracy_array
        n_clients = acc.shape[1]
        return pd.DataFrame({
            "round": np.repeat(self.evals["round"].to_numpy()[:acc.shape[0]], n_clients),
            "client": np.tile(np.arange(n_clients), acc.shape[0]),
            "accuracy": acc.reshape(-1).copy(),  # not a view of client_accuracy_array
        })

    @cached_property
    def histogram(self) -> np.ndarray:
        self._read_partition()
        return self.__dict__["histogram"]

    @cached_property
    def partition(self) -> pd.DataFrame:
        self._read_partition()
        return self.__dict__["partition"]

    def _read_partition(self):
        hist, sizes, placement = self._read_later("partition/histogram", "partition/sizes",
                                                  "partition/placement")
        hist = np.asarray(hist, dtype=np.int64)
        sizes = np.asarray(sizes, dtype=np.int64)
        placement = np.asarray(placement, dtype=np.int64)
        total = hist.sum(axis=1)
        dominant = hist.argmax(axis=1) if hist.size else np.zeros(len(hist), dtype=np.int64)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(total > 0, hist.max(axis=1, initial=0) / np.maximum(total, 1), np.nan)
        self.__dict__["histogram"] = hist
        self.__dict__["partition"] = pd.DataFrame({
            "client": np.arange(len(hist)),
            "rank": placement[:len(hist)],
            "train_size": sizes[:len(hist), 0],
            "test_size": sizes[:len(hist), 1],
            "size": total,
            "classes": (hist > 0).sum(axis=1),
            "dominant_class": dominant,
            "dominant_share": share,
        })

    def attention(self, round: int | None = None) -> np.ndarray | None:
        """The stored N × N attention matrix ξ of round number ``round`` (1 = the first round, as
        fedsaf prints it; the file's ``xi_round`` + 1), or the last stored one when None.

        Row i is what client i receives (ξ_ij, j = sender); NaN rows: no row computed that
        round. None when the run has no ``/attention`` group (fedavg, fedprox, fedper, local).
        """
        if not self.has_attention:
            return None
        stored = self.attention_rounds
        if len(stored) == 0:
            raise AnalysisError(f"{self.path}: no attention matrices stored "
                                "(attention.every = 0 or fewer rounds than attention.every)")
        if round is None:
            index = len(stored) - 1
        else:
            hits = np.flatnonzero(stored == int(round))
            if len(hits) == 0:
                # a 0-based index typed by habit gets a hint instead of a silent off-by-one
                hint = "round numbers start at 1; " if int(round) < 1 else ""
                raise AnalysisError(f"{self.path}: no attention matrix stored for round {round} "
                                    f"({hint}stored rounds: {_ranges(stored)})")
            index = int(hits[-1])
        with _open(self.path) as h5:
            try:
                return np.asarray(h5["attention/xi"][index], dtype=np.float64)
            except (OSError, KeyError, ValueError) as exc:
                raise AnalysisError(f"{self.path}: cannot read /attention/xi ({exc})") from None

    def client_accuracy_wide(self) -> pd.DataFrame:
        """Per-client accuracy as an [evaluations × clients] table (index: round)."""
        acc = self.client_accuracy_array
        rounds = self.evals["round"].to_numpy()[:acc.shape[0]]
        if len(rounds) > 1 and not (np.diff(rounds) > 0).all():  # what pivot makes of it
            return self.client_accuracy.pivot(index="round", columns="client", values="accuracy")
        # a fresh table each call, as pivot made, never a view of client_accuracy_array
        return pd.DataFrame(acc[:len(rounds)].copy(), index=pd.Index(rounds, name="round"),
                            columns=pd.Index(np.arange(acc.shape[1]), name="client"))

    # -- conveniences ----------------------------------------------------------------------
    def keys(self) -> dict:
        """Config values that identify the run: every config key plus ``ranks`` (world size)."""
        keys = dict(self.config_flat)
        keys["ranks"] = self.world_size
        return keys

    def get(self, key: str, default=None):
        """A config value by dotted key (``"partition.alpha"``) or ``"ranks"``."""
        return self.keys().get(key, default)

    @property
    def algorithm(self) -> str:
        return str(self.attrs.get("algorithm", self.config_flat.get("run.algorithm", "?")))

    @property
    def dataset(self) -> str:
        return str(self.attrs.get("dataset", self.config_flat.get("data.dataset", "?")))

    @property
    def model(self) -> str:
        return str(self.attrs.get("model", self.config_flat.get("model.name", "?")))

    @property
    def num_clients(self) -> int:
        if "num_clients" in self.attrs:  # the partition is read only for files without it
            return int(self.attrs["num_clients"])
        return len(self.partition)

    @property
    def world_size(self) -> int:
        return int(self.attrs.get("world_size", self.timing["rank"].max() + 1))

    @property
    def resumes(self) -> int:
        """Times the run was resumed from a checkpoint (0 for files without the attribute)."""
        return int(self.attrs.get("resumes", 0))

    @property
    def complete(self) -> bool:
        return self.attrs.get("status") == "complete"

    def __repr__(self):
        return (f"Run({str(self.path)!r}: {self.algorithm} on {self.dataset}, "
                f"{self.num_clients} clients, {self.world_size} ranks, "
                f"{len(self.rounds)} rounds, status {self.attrs.get('status')})")


def _ranges(values) -> str:
    values = [int(v) for v in values]
    if len(values) > 12:
        return ", ".join(map(str, values[:5])) + ", …, " + ", ".join(map(str, values[-5:]))
    return ", ".join(map(str, values))


def load_run(path) -> Run:
    """Read one run file (or a folder holding ``run.h5``). Raises ``AnalysisError``."""
    return Run(path)


def _as_runs(items) -> list[Run]:
    """Run objects, run files and folders (searched for run.h5), in the order given."""
    if isinstance(items, (str, Path, Run)):
        items = [items]
    runs: list[Run] = []
    for item in items:
        if isinstance(item, Run):
            runs.append(item)
        else:
            runs.extend(Run(p) for p in find_runs([item]))
    if not runs:
        raise AnalysisError("no run files given")
    return runs


def load_runs(paths: Iterable) -> pd.DataFrame:
    """Many runs in one tidy DataFrame: one row per (run, round).

    Columns: ``file``, every config key (dotted names such as ``run.algorithm``,
    ``partition.alpha``), ``ranks``, then the per-round metrics (``Run.rounds``) joined with the
    evaluation metrics (``Run.evals``; NaN in rounds without an evaluation). Folders are
    searched recursively for ``run.h5``; ``Run`` objects are taken as they are.
    Group with e.g. ``df.groupby(["run.algorithm", "partition.alpha"])``.
    """
    frames = []
    for run in _as_runs(paths):
        per_round = run.rounds.merge(run.evals, on="round", how="outer", sort=True)
        n = len(per_round)
        columns = {"file": [str(run.path)] * n}
        columns.update({key: [value] * n for key, value in run.keys().items()})
        head = pd.DataFrame(columns)
        frames.append(pd.concat([head, per_round.reset_index(drop=True)], axis=1))
    return pd.concat(frames, ignore_index=True, sort=False)


def steady_rounds(run: Run) -> np.ndarray:
    """Boolean mask of the rounds used for timing figures: every round but the first (warm-up)
    when the run has at least two rounds."""
    mask = np.ones(len(run.rounds), dtype=bool)
    if len(mask) >= 2:
        mask[0] = False
    return mask


def is_finite(x) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False
