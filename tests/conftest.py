"""Shared fixtures: small generated models and the optional reference fixture."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings

import skelmo
from skelmo import BiLM
from skelmo.testing import make_random_model

# CI draws one fixed set of examples, so that a failure there is reproducible; other runs draw
# new examples each time and keep failing ones in .hypothesis/.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "elmo-reference"


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(scope="session")
def small_model_files(tmp_path_factory) -> tuple[Path, Path]:
    """A random model with the reference fixture's architecture."""
    return make_random_model(tmp_path_factory.mktemp("small-model"), seed=1)


@pytest.fixture(scope="session")
def small_bilm(small_model_files) -> BiLM:
    return BiLM.from_files(*small_model_files)


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """The original TensorFlow model's outputs; tests using it skip when absent."""
    if not (REFERENCE_DIR / "options.json").is_file():
        pytest.skip(f"reference fixture not found at {REFERENCE_DIR}")
    return REFERENCE_DIR


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models: more threads only add contention on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def fresh_activation_cache():
    skelmo.activation_cache.clear()
    yield
    skelmo.activation_cache.clear()
