"""Bad files give one clear error naming the file; the wrapper script and ``-m`` work."""

import os
import subprocess

import h5py
import pytest

from conftest import ANALYSIS
from fedsaf_analysis import AnalysisError, load_run
from fedsaf_analysis.cli import main


def copy_of(src, dst):
    dst.write_bytes(src.read_bytes())
    return dst


def one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("fedsaf-analysis: error: ")
    return err[0]


@pytest.mark.parametrize("version", ["2.0", "0.9", "x.y"])
def test_unknown_schema_major_version_is_refused(runs, tmp_path, capsys, version):
    path = copy_of(runs["fedavg"], tmp_path / "run.h5")
    with h5py.File(path, "a") as h5:
        h5.attrs["schema_version"] = version
    with pytest.raises(AnalysisError) as info:
        load_run(path)
    assert str(path) in str(info.value) and version in str(info.value)
    for command in (["summary", str(path)], ["report", str(path), "-o", str(tmp_path / "r")]):
        assert main(command) == 1
        line = one_error_line(capsys)
        assert str(path) in line and f"schema version {version}" in line


def test_newer_minor_version_is_read(runs, tmp_path):
    path = copy_of(runs["fedavg"], tmp_path / "run.h5")
    with h5py.File(path, "a") as h5:
        h5.attrs["schema_version"] = "1.7"
    assert load_run(path).schema_version == "1.7"


def test_missing_schema_version(runs, tmp_path):
    path = copy_of(runs["fedavg"], tmp_path / "run.h5")
    with h5py.File(path, "a") as h5:
        del h5.attrs["schema_version"]
    with pytest.raises(AnalysisError, match="no schema_version attribute"):
        load_run(path)


def test_truncated_file(runs, tmp_path, capsys):
    data = runs["fedavg"].read_bytes()
    path = tmp_path / "truncated.h5"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(AnalysisError, match="truncated") as info:
        load_run(path)
    assert str(path) in str(info.value)
    assert main(["summary", str(path)]) == 1
    line = one_error_line(capsys)
    assert str(path) in line and "truncated" in line


def test_not_hdf5_and_missing_files(tmp_path, capsys):
    text = tmp_path / "notes.h5"
    text.write_text("not a run file\n")
    assert main(["summary", str(text)]) == 1
    assert "not an HDF5 file" in one_error_line(capsys)
    missing = tmp_path / "missing.h5"
    assert main(["report", str(missing), "-o", str(tmp_path / "out")]) == 1
    assert str(missing) in one_error_line(capsys)


def test_hdf5_file_that_is_not_a_run(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as h5:
        h5.attrs["schema_version"] = "1.0"
        h5["x"] = [1, 2, 3]
    with pytest.raises(AnalysisError, match=r"missing (/)?config"):
        load_run(path)


def test_missing_optional_groups_are_not_errors(runs, tmp_path):
    path = copy_of(runs["fedsaf"], tmp_path / "run.h5")
    with h5py.File(path, "a") as h5:
        del h5["attention"]
        del h5["fisher"]
    run = load_run(path)
    assert run.attention() is None and run.fisher is None


def test_files_without_off_node_bytes_read_as_nan(runs, tmp_path):
    path = copy_of(runs["fedavg"], tmp_path / "run.h5")
    with h5py.File(path, "a") as h5:  # as written before fedsaf recorded them
        del h5["timing/bytes_sent_off_node"]
        del h5["timing/bytes_received_off_node"]
    run = load_run(path)
    assert run.timing["bytes_sent_off_node"].isna().all()
    assert run.timing["bytes_received_off_node"].isna().all()
    assert (run.timing["bytes_sent"] > 0).all()


def test_wrapper_script_and_module(runs, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    wrapper = ANALYSIS / "fedsaf-analysis"
    assert os.access(wrapper, os.X_OK)
    ok = subprocess.run([str(wrapper), "summary", str(runs["fedavg"])], env=env,
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "fedavg" in ok.stdout
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\0" * 100)
    err = subprocess.run(["/usr/bin/python3", "-m", "fedsaf_analysis", "summary", str(bad)],
                         env=dict(env, PYTHONPATH=str(ANALYSIS)), capture_output=True, text=True,
                         timeout=120)
    assert err.returncode == 1
    assert err.stderr.strip().splitlines() == [err.stderr.strip()]
    assert err.stderr.startswith("fedsaf-analysis: error: ") and str(bad) in err.stderr


def test_checkpoint_copy_is_read_with_a_warning(runs, tmp_path):
    from fedsaf_analysis import AnalysisWarning, find_runs
    out = tmp_path / "out"
    (out / "checkpoints").mkdir(parents=True)
    copy_of(runs["fedavg"], out / "run.h5")
    ckpt = copy_of(runs["fedavg"], out / "checkpoints" / "ckpt-000012.h5")
    with h5py.File(ckpt, "a") as h5:  # as io/SCHEMA.md describes checkpoint files
        g = h5.create_group("checkpoint")
        g.attrs["format"] = "fedsaf-checkpoint/1"
        g.attrs["rounds_done"] = 12
    with open(ckpt, "ab") as f:
        f.write(b"FSCKPT01" + b"\0" * 8)
    with pytest.warns(AnalysisWarning, match="checkpoint file"):
        run = load_run(ckpt)
    assert run.checkpoint["rounds_done"] == 12 and len(run.rounds) == 12
    assert find_runs([tmp_path]) == [out / "run.h5"]  # folders yield run files, not checkpoints


def test_resumed_runs(runs, tmp_path):
    from fedsaf_analysis import AnalysisWarning, scaling_table, summary_table, write_report
    path = copy_of(runs["fedavg"], tmp_path / "resumed.h5")
    with h5py.File(path, "a") as h5:
        h5.attrs["resumes"] = 2
    run = load_run(path)
    assert run.resumes == 2 and summary_table([run]).loc[0, "resumes"] == 2
    assert "resumed 2 time(s)" in write_report(run, tmp_path / "r")["report"].read_text()
    # resumed on fewer ranks: the timing has more rank columns than the world size
    odd = copy_of(runs["fedavg_2ranks"], tmp_path / "odd.h5")
    with h5py.File(odd, "a") as h5:
        h5.attrs["world_size"] = 1
        h5.attrs["resumes"] = 1
    with pytest.warns(AnalysisWarning, match="different number of ranks"):
        table = scaling_table([runs["scaling"], odd])
    assert len(table) == 4
