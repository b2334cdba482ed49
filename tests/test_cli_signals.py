"""Interrupting ``skelmo embed``: SIGINT and SIGTERM leave neither an output nor a temporary file.

The first tests run ``python -m skelmo embed`` in subprocesses, several at once (each on one
torch thread), on an input that takes a few seconds, and send the signal at a different moment
after the temporary output file appears. The last ones check the handler in this process.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from skelmo import cli
from skelmo.testing import make_random_model

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

TINY = dict(filters=((1, 4), (2, 8)), n_highway=1, projection_dim=8, cell_dim=16, n_layers=2)
N_SENTENCES = 20_000
# Seconds between the temporary file appearing and the signal, one run each; the last run
# replaces an existing OUTPUT.
DELAYS = (0.0, 0.1, 0.3, 0.6)
TIMEOUT = 240


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("signal-model")
    make_random_model(directory, seed=5, **TINY)
    return directory


@pytest.fixture(scope="module")
def big_input(tmp_path_factory):
    path = tmp_path_factory.mktemp("signal-input") / "input.txt"
    with open(path, "w", encoding="utf-8") as fout:
        for i in range(N_SENTENCES):
            fout.write(f"sentence number {i} has a few more words than the one before it .\n")
    return path


@pytest.fixture
def env(tmp_path):
    return {**os.environ, "SKELMO_HOME": str(tmp_path / "home"), "OMP_NUM_THREADS": "1"}


def _embed(source, output, model_dir, env, *extra, python_options=()):
    return subprocess.Popen(
        [sys.executable, *python_options, "-m", "skelmo", "embed", str(source), str(output),
         "--model", str(model_dir), "--threads", "1", "--no-progress", *extra],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize(("signum", "status", "message"), [
    pytest.param(signal.SIGINT, 130, "skelmo: interrupted.", id="SIGINT"),
    pytest.param(signal.SIGTERM, 143, "skelmo: terminated.", id="SIGTERM"),
])
def test_a_signal_during_embed_leaves_no_output(signum, status, message, model_dir, big_input,
                                               tmp_path, env):
    runs = []
    for i, delay in enumerate(DELAYS):
        directory = tmp_path / f"run{i}"
        directory.mkdir()
        output = directory / "out.hdf5"
        existed = i == len(DELAYS) - 1
        if existed:
            output.write_bytes(b"precious")
        extra = ["--overwrite"] if existed else []
        runs.append(dict(directory=directory, output=output, delay=delay, existed=existed,
                         process=_embed(big_input, output, model_dir, env, *extra)))
    deadline = time.monotonic() + TIMEOUT
    waiting = list(runs)
    try:
        while waiting:
            assert time.monotonic() < deadline, "no temporary file appeared in time"
            for run in list(waiting):
                if run["process"].poll() is not None:
                    pytest.fail("skelmo ended before the signal: "
                                + run["process"].stderr.read().decode())
                if "appeared" not in run and list(run["directory"].glob(".out.hdf5.*.tmp")):
                    run["appeared"] = time.monotonic()
                if "appeared" in run and time.monotonic() - run["appeared"] >= run["delay"]:
                    run["process"].send_signal(signum)
                    waiting.remove(run)
            time.sleep(0.005)
        for run in runs:
            _, stderr = run["process"].communicate(timeout=TIMEOUT)
            lines = stderr.decode().splitlines()
            assert run["process"].returncode == status, stderr.decode()
            assert lines == [message]
            if run["existed"]:
                assert run["output"].read_bytes() == b"precious"
                assert list(run["directory"].iterdir()) == [run["output"]]
            else:
                assert list(run["directory"].iterdir()) == []
    finally:
        for run in runs:
            if run["process"].poll() is None:
                run["process"].kill()
                run["process"].wait()


def test_an_interrupt_while_torch_is_imported_is_one_line(model_dir, big_input, tmp_path, env):
    # -X importtime reports every import as it ends: a line naming a torch submodule means
    # that `import torch` has begun and has seconds to go.
    process = _embed(big_input, tmp_path / "out.hdf5", model_dir, env,
                     python_options=("-X", "importtime"))
    try:
        seen = []
        for line in process.stderr:
            seen.append(line)
            if re.search(rb"\|\s+torch\.", line):
                break
        else:
            pytest.fail("torch was never imported: " + b"".join(seen).decode())
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = stderr.decode()
    assert process.returncode == 130, text
    assert "Traceback" not in text
    assert text.splitlines()[-1] == "skelmo: interrupted."
    assert list(tmp_path.iterdir()) == []


# -- the handler, in this process --------------------------------------------------------------


@pytest.mark.parametrize(("signum", "exception"), [
    pytest.param(signal.SIGINT, KeyboardInterrupt, id="SIGINT"),
    pytest.param(signal.SIGTERM, cli._Terminated, id="SIGTERM"),
])
def test_the_handler_raises_while_preparing_and_restores_the_previous_one(signum, exception):
    before = signal.getsignal(signum)
    with cli._Signals() as signals:
        assert signal.getsignal(signum) != before
        with pytest.raises(exception):
            signal.raise_signal(signum)
            time.sleep(1)  # not reached: the handler raises first
        assert signals.received == signum
    assert signal.getsignal(signum) == before


def test_a_dropped_exception_is_raised_again(monkeypatch):
    # Python drops an exception raised in __del__ (or a weak-reference callback) and only
    # prints it: the recorded signal is raised again by the next check.
    dropped = []
    monkeypatch.setattr(sys, "unraisablehook", dropped.append)

    class RaisesInDel:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)
            for _ in range(3):  # where the handler runs, and raises
                pass

    with cli._Signals() as signals:
        RaisesInDel()
        assert [type(d.exc_value) for d in dropped] == [KeyboardInterrupt]
        with pytest.raises(KeyboardInterrupt):
            signals.check()


def test_while_writing_signals_from_elsewhere_are_recorded_then_raised():
    with cli._Signals() as signals:
        signals.writing()
        signal.raise_signal(signal.SIGTERM)  # handled in this test's frame: not raised here
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGTERM  # the first one counts
        with pytest.raises(cli._Terminated):
            signals.check()
        with pytest.raises(cli._Terminated):
            signals.last_check()


def test_after_the_last_check_signals_are_recorded_only():
    with cli._Signals() as signals:
        signals.writing()
        signals.last_check()
        signal.raise_signal(signal.SIGINT)
        assert signals.received == signal.SIGINT
