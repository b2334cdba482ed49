"""Model files: exact round trips, arbitrary architectures, and every failure.

Every problem with a model file must raise :class:`skelmo.ModelFileError`
naming the file (and the key or dataset at fault), never a raw ``KeyError``,
``OSError`` or h5py error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

from skelmo import (
    BiLM,
    ElmoOptions,
    ModelFileError,
    ModelFileNotFoundError,
    batch_to_ids,
    read_model,
    write_model,
)
from skelmo._format import check_weights, expected_shapes, read_options, read_weights
from skelmo.testing import make_options, make_random_model, make_random_weights

LSTM = "RNN_{d}/RNN/MultiRNNCell/Cell{l}/LSTMCell"


# -- helpers -------------------------------------------------------------------

def flat(weights) -> dict[str, np.ndarray]:
    """Every array of an ElmoWeights under a structural name (independent of the file names)."""
    out = {"char_embed": weights.char_embed}
    for i, (kernel, bias) in enumerate(weights.conv):
        out[f"conv{i}.kernel"], out[f"conv{i}.bias"] = kernel, bias
    for k, high in enumerate(weights.highway):
        for name in ("w_carry", "b_carry", "w_transform", "b_transform"):
            out[f"highway{k}.{name}"] = getattr(high, name)
    if weights.projection is not None:
        out["proj.w"], out["proj.b"] = weights.projection
    for d, layers in enumerate(weights.lstm):
        for layer, cell in enumerate(layers):
            for name in ("kernel", "bias", "projection"):
                out[f"lstm{d}.{layer}.{name}"] = getattr(cell, name)
    return out


def assert_weights_identical(got, expected) -> None:
    got, expected = flat(got), flat(expected)
    assert got.keys() == expected.keys()
    for name in expected:
        assert got[name].dtype == np.float32, name
        assert np.array_equal(got[name], expected[name]), name


def datasets(weight_file: Path) -> dict[str, tuple[int, ...]]:
    found = {}
    with h5py.File(weight_file, "r") as f:
        f.visititems(lambda n, o: found.__setitem__(n, o.shape) if isinstance(o, h5py.Dataset)
                     else None)
    return found


def load_json(path: Path):
    return json.loads(path.read_text())


def dump_json(path: Path, data) -> None:
    path.write_text(json.dumps(data))


def raises_model_error(call, path, key=None, match=None) -> ModelFileError:
    """Run ``call``; it must raise exactly ModelFileError naming ``path`` (and ``key``)."""
    with pytest.raises(ModelFileError) as info:
        call()
    exc = info.value
    assert type(exc) is ModelFileError, type(exc)
    assert isinstance(exc, ValueError)
    assert exc.path == str(path)
    assert str(path) in str(exc)
    if key is not None:
        assert exc.key == key
        assert key in str(exc)
    if match is not None:
        assert match in str(exc)
    return exc


@pytest.fixture
def model(tmp_path) -> tuple[Path, Path]:
    """A fresh random model with the reference architecture, one per test (tests edit it)."""
    return make_random_model(tmp_path / "model", seed=0)


# -- round trips ---------------------------------------------------------------

def test_round_trip_is_bit_exact(tmp_path):
    options = make_options()
    weights = make_random_weights(options, seed=3)
    options_file, weight_file = tmp_path / "options.json", tmp_path / "weights.hdf5"
    write_model(options, weights, options_file, weight_file)
    got_options, got_weights = read_model(options_file, weight_file)
    assert got_options == options
    assert_weights_identical(got_weights, weights)


def test_written_file_layout_hand_derived(model):
    # Reference architecture: char dim 4, filters (1,4)..(5,64) = 124 channels,
    # 2 highway layers, projection 16, cell 64, 2 layers.
    found = datasets(model[1])
    assert len(found) == 1 + 2 * 5 + 4 * 2 + 2 + 2 * 2 * 3
    assert found["char_embed"] == (261, 4)
    assert found["CNN/W_cnn_4"] == (1, 5, 4, 64)
    assert found["CNN/b_cnn_4"] == (64,)
    assert found["CNN_high_1/W_carry"] == (124, 124)
    assert found["CNN_high_1/b_transform"] == (124,)
    assert found["CNN_proj/W_proj"] == (124, 16)
    assert found["CNN_proj/b_proj"] == (16,)
    assert found[LSTM.format(d=1, l=1) + "/W_0"] == (32, 256)
    assert found[LSTM.format(d=1, l=1) + "/B"] == (256,)
    assert found[LSTM.format(d=1, l=1) + "/W_P_0"] == (64, 16)
    assert found == expected_shapes(read_options(model[0]))


def test_written_options_hand_derived(model):
    assert load_json(model[0]) == {
        "lstm": {"dim": 64, "projection_dim": 16, "n_layers": 2, "use_skip_connections": True,
                 "cell_clip": 3.0, "proj_clip": 3.0},
        "char_cnn": {"embedding": {"dim": 4},
                     "filters": [[1, 4], [2, 8], [3, 16], [4, 32], [5, 64]],
                     "n_highway": 2, "activation": "relu", "max_characters_per_token": 50,
                     "n_characters": 262},
    }


def test_options_dict_round_trip():
    data = make_options().to_dict()
    assert ElmoOptions.from_dict(data).to_dict() == data
    assert ElmoOptions.from_dict(data) == make_options()


def test_bilm_round_trip_is_exact():
    options = make_options()
    weights = make_random_weights(options, seed=5)
    back = BiLM.from_weights(options, weights).to_weights()
    assert_weights_identical(back, weights)


def test_file_round_trip_through_bilm(tmp_path, model):
    options, weights = read_model(*model)
    bilm = BiLM.from_files(*model)
    write_model(options, bilm.to_weights(), tmp_path / "o.json", tmp_path / "w.hdf5")
    again = BiLM.from_files(tmp_path / "o.json", tmp_path / "w.hdf5")
    for (name, a), (_, b) in zip(bilm.named_parameters(), again.named_parameters()):
        assert np.array_equal(a.numpy(), b.numpy()), name


ARCHITECTURES = {
    "tanh": dict(activation="tanh"),
    "no-highway": dict(n_highway=0),
    "3-highway": dict(n_highway=3),
    "1-layer": dict(n_layers=1),
    "3-layer": dict(n_layers=3),
    "many-widths": dict(filters=((1, 2), (2, 3), (3, 5), (4, 7), (5, 11), (6, 13), (7, 17))),
    "widest-filter": dict(filters=((50, 6), (1, 2))),
    "no-projection": dict(filters=((1, 6), (3, 10)), projection_dim=16),
    "no-clips": dict(cell_clip=None, proj_clip=None),
    "no-skip": dict(use_skip_connections=False),
    "tiny": dict(char_dim=1, filters=((1, 1),), n_highway=1, projection_dim=1, cell_dim=1,
                 n_layers=1),
}


@pytest.mark.parametrize("architecture", ARCHITECTURES.values(), ids=ARCHITECTURES.keys())
def test_architectures_round_trip(tmp_path, architecture):
    options = make_options(**architecture)
    weights = make_random_weights(options, seed=7)
    options_file, weight_file = tmp_path / "options.json", tmp_path / "weights.hdf5"
    write_model(options, weights, options_file, weight_file)
    got_options, got_weights = read_model(options_file, weight_file)
    assert got_options == options
    assert_weights_identical(got_weights, weights)
    assert datasets(weight_file) == expected_shapes(options)
    lstm = load_json(options_file)["lstm"]
    assert lstm["use_skip_connections"] is options.use_skip_connections
    for clip in ("cell_clip", "proj_clip"):
        assert (clip in lstm) == (getattr(options, clip) is not None)
    # The model read back is usable.
    out = BiLM.from_weights(got_options, got_weights)(batch_to_ids([["a", "bc"], ["d"]]))
    assert tuple(out.layers.shape) == (options.n_layers + 1, 2, 2, 2 * options.projection_dim)


def test_projection_equal_to_filters_has_no_projection(tmp_path):
    options = make_options(filters=((1, 6), (3, 10)), projection_dim=16)
    assert not options.uses_projection
    weight_file = make_random_model(tmp_path, options=options)[1]
    with h5py.File(weight_file, "r") as f:
        assert "CNN_proj" not in f
    assert not any(name.startswith("CNN_proj") for name in datasets(weight_file))
    assert read_model(tmp_path / "options.json", weight_file)[1].projection is None


def test_clips_none_are_absent_from_options(tmp_path):
    options_file, weight_file = make_random_model(tmp_path, cell_clip=None, proj_clip=None)
    lstm = load_json(options_file)["lstm"]
    assert "cell_clip" not in lstm and "proj_clip" not in lstm
    options = read_options(options_file)
    assert options.cell_clip is None and options.proj_clip is None


def test_unknown_keys_survive_round_trip(tmp_path, model):
    data = load_json(model[0])
    data["comment"] = {"trained_on": "1B words", "n": [1, 2]}
    data["lstm"]["unroll_steps"] = 20
    data["char_cnn"]["custom"] = None
    data["char_cnn"]["embedding"]["note"] = "x"
    data["all_clip_norm_val"] = 10.0
    dump_json(model[0], data)

    options, weights = read_model(*model)
    assert options == make_options()  # extras do not take part in equality
    out = tmp_path / "copy"
    write_model(options, weights, out / "options.json", out / "weights.hdf5")
    assert load_json(out / "options.json") == data


def test_reference_options_dict_round_trip(reference_dir):
    data = load_json(reference_dir / "options.json")
    assert ElmoOptions.from_dict(data).to_dict() == data


def test_reference_file_layout_matches_expected_shapes(reference_dir):
    options = read_options(reference_dir / "options.json")
    assert datasets(reference_dir / "lm_weights.hdf5") == expected_shapes(options)


def test_reference_model_round_trip(tmp_path, reference_dir):
    options, weights = read_model(reference_dir / "options.json", reference_dir / "lm_weights.hdf5")
    write_model(options, weights, tmp_path / "options.json", tmp_path / "weights.hdf5")
    assert load_json(tmp_path / "options.json") == load_json(reference_dir / "options.json")
    with h5py.File(reference_dir / "lm_weights.hdf5", "r") as ref, \
            h5py.File(tmp_path / "weights.hdf5", "r") as got:
        for name in expected_shapes(options):
            assert got[name].dtype == np.float32
            assert np.array_equal(got[name][...], ref[name][...]), name


# -- options failures ----------------------------------------------------------

def test_options_file_missing(tmp_path):
    missing = tmp_path / "nope" / "options.json"
    for call in (lambda: read_options(missing), lambda: read_model(missing, missing)):
        with pytest.raises(ModelFileNotFoundError) as info:
            call()
        assert isinstance(info.value, FileNotFoundError)
        assert isinstance(info.value, ModelFileError)
        assert info.value.path == str(missing)
        assert str(missing) in str(info.value)


def test_weights_file_missing(tmp_path, model):
    missing = tmp_path / "weights.hdf5"
    with pytest.raises(ModelFileNotFoundError) as info:
        read_model(model[0], missing)
    assert isinstance(info.value, FileNotFoundError)
    assert info.value.path == str(missing)
    assert str(missing) in str(info.value)


@pytest.mark.parametrize("content", [b"{not json", b"", b"\xff\xfe\x00garbage",
                                     b'{"lstm": {}} trailing'], ids=repr)
def test_options_not_json(tmp_path, content):
    path = tmp_path / "options.json"
    path.write_bytes(content)
    raises_model_error(lambda: read_options(path), path, match="JSON")


@pytest.mark.parametrize("text", ["[1, 2]", "null", '"options"', "3"])
def test_options_not_an_object(tmp_path, text):
    path = tmp_path / "options.json"
    path.write_text(text)
    raises_model_error(lambda: read_options(path), path, match="object")


def _delete(data: dict, dotted: str) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[part]
    del data[last]


def _set(data: dict, dotted: str, value) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data[part]
    data[last] = value


REQUIRED = ["lstm.dim", "lstm.projection_dim", "lstm.n_layers", "char_cnn.filters",
            "char_cnn.n_highway", "char_cnn.activation", "char_cnn.embedding.dim",
            "char_cnn.n_characters", "char_cnn.max_characters_per_token", "char_cnn.embedding",
            "lstm", "char_cnn"]


@pytest.mark.parametrize("key", REQUIRED)
def test_required_key_missing(model, key):
    data = load_json(model[0])
    _delete(data, key)
    dump_json(model[0], data)
    raises_model_error(lambda: read_options(model[0]), model[0], key, match="missing")
    raises_model_error(lambda: read_model(*model), model[0], key)


BAD_VALUES = [
    ("char_cnn.activation", "sigmoid"),
    ("char_cnn.activation", None),
    ("char_cnn.filters", []),
    ("char_cnn.filters", [[1]]),
    ("char_cnn.filters", [[1, 4, 2]]),
    ("char_cnn.filters", [[0, 4]]),
    ("char_cnn.filters", [[1, -4]]),
    ("char_cnn.filters", [["1", 4]]),
    ("char_cnn.filters", [[1.0, 4]]),
    ("char_cnn.filters", [[1, True]]),
    ("char_cnn.filters", [[51, 4]]),
    ("char_cnn.filters", "[[1, 4]]"),
    ("char_cnn.filters", {"1": 4}),
    ("lstm.dim", -64),
    ("lstm.dim", 0),
    ("lstm.dim", 64.0),
    ("lstm.dim", "64"),
    ("lstm.dim", True),
    ("lstm.projection_dim", -16),
    ("lstm.n_layers", 0),
    ("char_cnn.embedding.dim", -4),
    ("char_cnn.n_highway", -1),
    ("char_cnn.n_highway", 1.5),
    ("char_cnn.max_characters_per_token", 40),
    ("char_cnn.n_characters", 300),
    ("lstm.cell_clip", -3),
    ("lstm.cell_clip", 0),
    ("lstm.proj_clip", "3"),
    ("lstm.proj_clip", True),
    ("lstm.use_skip_connections", "false"),
    ("lstm.use_skip_connections", 1),
    ("lstm", [1, 2]),
    ("char_cnn", "cnn"),
    ("char_cnn.embedding", 4),
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES, ids=[f"{k}={v!r}" for k, v in BAD_VALUES])
def test_bad_option_value(model, key, value):
    data = load_json(model[0])
    _set(data, key, value)
    dump_json(model[0], data)
    raises_model_error(lambda: read_options(model[0]), model[0], key)
    raises_model_error(lambda: ElmoOptions.from_dict(data), "<options>", key)


def test_nan_clip_rejected(model):
    # Python's json module reads the non-standard NaN literal.
    model[0].write_text(model[0].read_text().replace('"cell_clip": 3.0', '"cell_clip": NaN'))
    raises_model_error(lambda: read_options(model[0]), model[0], "lstm.cell_clip")


UNHOLDABLE_OPTIONS = {
    # JSON that Python's json module cannot turn into values, or values no float can hold.
    "nested 100000 deep": ("[" * 100_000 + "]" * 100_000, None, "nested too deeply"),
    "5000-digit integer": ('{"lstm": {"dim": ' + "9" * 5000 + "}}", None, "4300 digits"),
    "cell_clip 10**400": (None, "lstm.cell_clip", "about 401 digits"),
}


@pytest.mark.parametrize(("text", "key", "match"), UNHOLDABLE_OPTIONS.values(),
                         ids=UNHOLDABLE_OPTIONS.keys())
def test_options_python_cannot_hold_are_model_file_errors(model, text, key, match):
    if text is None:
        data = load_json(model[0])
        _set(data, key, 10**400)
        text = json.dumps(data)
    model[0].write_text(text)
    exc = raises_model_error(lambda: read_options(model[0]), model[0], key, match=match)
    assert len(str(exc)) < 500  # the value is described, not printed in full
    raises_model_error(lambda: read_model(*model), model[0], key)
    if key is not None:
        raises_model_error(lambda: ElmoOptions.from_dict(json.loads(text)), "<options>", key)


def test_null_clip_and_skip_connections_are_defaults(model):
    data = load_json(model[0])
    data["lstm"].update(cell_clip=None, proj_clip=None, use_skip_connections=None)
    dump_json(model[0], data)
    options = read_options(model[0])
    assert (options.cell_clip, options.proj_clip, options.use_skip_connections) == (
        None, None, False)


def test_training_time_character_count_accepted(model):
    data = load_json(model[0])
    data["char_cnn"]["n_characters"] = 261
    dump_json(model[0], data)
    assert read_options(model[0]).n_characters == 261


# -- weights failures ----------------------------------------------------------

@pytest.mark.parametrize("content", [b"this is not an HDF5 file\n", b"", b"{}"], ids=repr)
def test_weights_not_hdf5(model, content):
    model[1].write_bytes(content)
    raises_model_error(lambda: read_model(*model), model[1], match="HDF5")


def test_a_directory_is_not_a_model_file(tmp_path, model):
    directory = tmp_path / "a-directory"
    directory.mkdir()
    for call, what in ((lambda: read_options(directory), "options"),
                       (lambda: read_model(directory, model[1]), "options"),
                       (lambda: read_weights(directory, make_options()), "weights"),
                       (lambda: read_model(model[0], directory), "weights")):
        exc = raises_model_error(call, directory, match=f"is a directory, not the {what} file")
        assert not isinstance(exc, FileNotFoundError)
        assert "not found" not in str(exc)


def _external_link(f, name, other):
    del f[name]
    f[name] = h5py.ExternalLink(str(other), name)


def _soft_link(f, name, other):
    f.move(name, "kept/" + name)
    f[name] = h5py.SoftLink("/kept/" + name)


def _virtual(f, name, other, source=None):
    shape, dtype = f[name].shape, f[name].dtype
    if source is None:  # the values stay in this file, mapped from another dataset
        f.move(name, "kept/" + name)
        source = h5py.VirtualSource(".", "kept/" + name, shape=shape, dtype=dtype)
    else:
        del f[name]
    layout = h5py.VirtualLayout(shape=shape, dtype=dtype)
    layout[...] = source
    f.create_virtual_dataset(name, layout)


def _external_raw(f, name, other):
    values = f[name][...].astype("<f4")
    raw = other.with_suffix(".raw")
    values.tofile(raw)
    del f[name]
    f.create_dataset(name, shape=values.shape, dtype="<f4", external=[(str(raw), 0, values.nbytes)])


STORED_OUTSIDE = {
    # how -> (edit of the weights file, dataset edited, key named, words of the message)
    "external link": (_external_link, "char_embed", "char_embed", "external link"),
    "external link to no file": (
        lambda f, name, other: _external_link(f, name, other.parent / "absent.h5"),
        "char_embed", "char_embed", "external link"),
    "external link on a group": (_external_link, "CNN", "CNN", "external link"),
    "soft link": (_soft_link, "CNN/b_cnn_1", "CNN/b_cnn_1", "soft link"),
    "soft link on a group": (_soft_link, "RNN_1", "RNN_1", "soft link"),
    "virtual dataset, other file": (
        lambda f, name, other: _virtual(f, name, other, h5py.VirtualSource(
            str(other), name, shape=f[name].shape, dtype=f[name].dtype)),
        "char_embed", "char_embed", "virtual dataset"),
    "virtual dataset, same file": (_virtual, "CNN_proj/W_proj", "CNN_proj/W_proj",
                                   "virtual dataset"),
    "external raw storage": (_external_raw, LSTM.format(d=0, l=1) + "/B",
                             LSTM.format(d=0, l=1) + "/B", "external raw storage"),
}


@pytest.mark.parametrize(("edit", "name", "key", "match"), STORED_OUTSIDE.values(),
                         ids=STORED_OUTSIDE.keys())
def test_weights_stored_outside_the_file_are_refused(tmp_path, model, edit, name, key, match):
    """The model's SHA-256 covers the weights file alone: its values must all be in it."""
    other = tmp_path / "other.h5"
    with h5py.File(model[1], "r") as f, h5py.File(other, "w") as g:
        f.copy(name, g, name=name)  # the same values: only where they live is wrong
    with h5py.File(model[1], "a") as f:
        edit(f, name, other)
    exc = raises_model_error(lambda: read_model(*model), model[1], key, match=match)
    assert "the weights must be stored in the file itself" in str(exc)


def test_datasets_outside_the_bilm_may_be_links(model):
    with h5py.File(model[1], "a") as f:
        f["softmax/W"] = h5py.ExternalLink("absent.h5", "W")
        f["notes"] = h5py.SoftLink("/char_embed")
    assert read_model(*model)[0] == make_options()


def test_options_file_given_as_weights(model):
    raises_model_error(lambda: read_model(model[0], model[0]), model[0], match="HDF5")


@pytest.mark.parametrize("size", ["half", 1000, 100, 10])
def test_weights_truncated(model, size):
    data = model[1].read_bytes()
    keep = len(data) // 2 if size == "half" else size
    model[1].write_bytes(data[:keep])
    raises_model_error(lambda: read_model(*model), model[1])


@pytest.mark.parametrize("name", ["char_embed", "CNN/W_cnn_2", "CNN/b_cnn_0",
                                  "CNN_high_1/b_transform", "CNN_proj/W_proj",
                                  LSTM.format(d=1, l=1) + "/W_P_0", LSTM.format(d=0, l=0) + "/B"])
def test_missing_dataset(model, name):
    with h5py.File(model[1], "a") as f:
        del f[name]
    raises_model_error(lambda: read_model(*model), model[1], name, match="missing")


def test_dataset_replaced_by_group(model):
    with h5py.File(model[1], "a") as f:
        del f["char_embed"]
        f.create_group("char_embed")
    raises_model_error(lambda: read_model(*model), model[1], "char_embed")


WRONG_SHAPES = [
    ("char_embed", (262, 4)),
    ("CNN/W_cnn_1", (1, 3, 4, 8)),
    ("CNN_high_0/W_carry", (124, 123)),
    (LSTM.format(d=0, l=1) + "/W_0", (16, 256)),
    ("CNN_proj/b_proj", ()),
]


@pytest.mark.parametrize(("name", "shape"), WRONG_SHAPES)
def test_dataset_wrong_shape(model, name, shape):
    with h5py.File(model[1], "a") as f:
        del f[name]
        f.create_dataset(name, data=np.zeros(shape, np.float32))
    exc = raises_model_error(lambda: read_model(*model), model[1], name)
    assert str(shape) in str(exc)


def test_dataset_wrong_dtype(model):
    with h5py.File(model[1], "a") as f:
        shape = f["CNN/b_cnn_0"].shape
        del f["CNN/b_cnn_0"]
        f.create_dataset("CNN/b_cnn_0", data=np.zeros(shape, np.int32))
    raises_model_error(lambda: read_model(*model), model[1], "CNN/b_cnn_0", match="dtype")


def test_float64_dataset_read_as_float32(model):
    with h5py.File(model[1], "a") as f:
        values = f["CNN/b_cnn_0"][...]
        del f["CNN/b_cnn_0"]
        f.create_dataset("CNN/b_cnn_0", data=values.astype(np.float64))
    bias = read_model(*model)[1].conv[0][1]
    assert bias.dtype == np.float32
    assert np.array_equal(bias, values)


def test_unrelated_datasets_are_ignored(model):
    with h5py.File(model[1], "a") as f:
        f.create_dataset("softmax/W", data=np.zeros((3, 16), np.float32))
    assert read_model(*model)[0] == make_options()


@pytest.mark.parametrize(("name", "expected"), [
    ("softmax/W", True), ("foo/bar", True), ("CNNx/W", True), ("RNN/W_0", True),
    ("CNN/W_cnn_5", False), ("CNN_high_2/W_carry", False), ("CNN_proj/extra", False),
    ("RNN_2/RNN/MultiRNNCell/Cell0/LSTMCell/W_0", False),
    (LSTM.format(d=1, l=2) + "/W_0", False),
])
def test_only_datasets_of_the_bilm_groups_must_be_expected(model, name, expected):
    """A dataset in the biLM's groups is another architecture; one outside them is ignored."""
    with h5py.File(model[1], "a") as f:
        f[name] = np.zeros(3, np.float32)
    if expected:
        assert read_model(*model)[0] == make_options()
    else:
        raises_model_error(lambda: read_model(*model), model[1], name, match="not expected")


def _cell(d: int, layer: int) -> set[str]:
    return {LSTM.format(d=d, l=layer) + suffix for suffix in ("/W_0", "/B", "/W_P_0")}


DISAGREEMENTS = {
    # options edit -> the datasets that may be named as at fault
    "projection_dim 8 for 16": (("lstm.projection_dim", 8), {"CNN_proj/W_proj"}),
    "3 layers for 2": (("lstm.n_layers", 3), _cell(0, 2)),
    "1 layer for 2": (("lstm.n_layers", 1), _cell(0, 1) | _cell(1, 1)),
    "1 highway for 2": (("char_cnn.n_highway", 1),
                        {f"CNN_high_1/{n}" for n in ("W_carry", "W_transform", "b_carry",
                                                     "b_transform")}),
    "3 highway for 2": (("char_cnn.n_highway", 3), {"CNN_high_2/W_carry"}),
    "cell 32 for 64": (("lstm.dim", 32), {LSTM.format(d=0, l=0) + "/W_0"}),
    "char dim 8 for 4": (("char_cnn.embedding.dim", 8), {"char_embed", "CNN/W_cnn_0"}),
    "filter widths": (("char_cnn.filters", [[2, 4], [2, 8], [3, 16], [4, 32], [5, 64]]),
                      {"CNN/W_cnn_0"}),
    "filter channels": (("char_cnn.filters", [[1, 4], [2, 8], [3, 16], [4, 32], [5, 60]]),
                        {"CNN/W_cnn_4"}),
}


@pytest.mark.parametrize(("edit", "culprits"), DISAGREEMENTS.values(), ids=DISAGREEMENTS.keys())
def test_options_disagree_with_weights(model, edit, culprits):
    data = load_json(model[0])
    _set(data, *edit)
    dump_json(model[0], data)
    exc = raises_model_error(lambda: read_model(*model), model[1])
    assert exc.key in culprits
    assert exc.key in str(exc)
    assert "options" in str(exc)


def test_read_weights_with_other_options(tmp_path):
    small = make_options(projection_dim=8)
    _, weight_file = make_random_model(tmp_path, options=small)
    raises_model_error(lambda: read_weights(weight_file, make_options()), weight_file,
                       "CNN_proj/W_proj")


# -- writing -------------------------------------------------------------------

def _entries(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()} if directory.exists() else set()


def test_write_leaves_only_the_two_files(tmp_path):
    make_random_model(tmp_path / "deep" / "er")
    assert _entries(tmp_path / "deep" / "er") == {"options.json", "weights.hdf5"}


def test_write_uses_ordinary_file_permissions(tmp_path):
    umask = os.umask(0o022)
    os.umask(umask)
    for path in make_random_model(tmp_path):
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, path


def test_write_overwrites_existing_model(tmp_path):
    make_random_model(tmp_path, seed=0)
    make_random_model(tmp_path, seed=1)
    _, weights = read_model(tmp_path / "options.json", tmp_path / "weights.hdf5")
    assert_weights_identical(weights, make_random_weights(make_options(), seed=1))
    assert _entries(tmp_path) == {"options.json", "weights.hdf5"}


def test_write_rejects_weights_not_matching_options(tmp_path):
    weights = make_random_weights(make_options(projection_dim=8))
    options_file, weight_file = tmp_path / "out" / "options.json", tmp_path / "out" / "weights.hdf5"
    raises_model_error(lambda: write_model(make_options(), weights, options_file, weight_file),
                       weight_file, "CNN_proj/W_proj")
    assert _entries(tmp_path / "out") == set()


def test_write_rejects_extra_layers(tmp_path):
    weights = make_random_weights(make_options(n_layers=3))
    weight_file = tmp_path / "weights.hdf5"
    raises_model_error(
        lambda: write_model(make_options(), weights, tmp_path / "options.json", weight_file),
        weight_file, LSTM.format(d=0, l=2) + "/W_0", match="not expected")
    assert _entries(tmp_path) == set()


def test_write_rejects_invalid_options(tmp_path):
    options = make_options(activation="sigmoid")
    weights = make_random_weights(make_options())
    options_file = tmp_path / "options.json"
    raises_model_error(
        lambda: write_model(options, weights, options_file, tmp_path / "weights.hdf5"),
        options_file, "char_cnn.activation")
    assert _entries(tmp_path) == set()


def test_write_rejects_unserializable_options(tmp_path):
    options = make_options()
    options.extra["note"] = object()
    options_file = tmp_path / "options.json"
    raises_model_error(
        lambda: write_model(options, make_random_weights(options), options_file,
                            tmp_path / "weights.hdf5"),
        options_file)
    assert _entries(tmp_path) == set()


def test_failed_write_keeps_existing_model(tmp_path):
    options_file, weight_file = make_random_model(tmp_path)
    before = options_file.read_bytes(), weight_file.read_bytes()
    bad = make_random_weights(make_options(n_highway=1))
    with pytest.raises(ModelFileError):
        write_model(make_options(), bad, options_file, weight_file)
    assert (options_file.read_bytes(), weight_file.read_bytes()) == before
    assert _entries(tmp_path) == {"options.json", "weights.hdf5"}


def test_write_failing_midway_leaves_nothing(tmp_path, monkeypatch):
    import skelmo._format._files as fmt

    def broken_file(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fmt.h5py, "File", broken_file)
    options = make_options()
    with pytest.raises(OSError, match="disk full"):
        write_model(options, make_random_weights(options), tmp_path / "options.json",
                    tmp_path / "weights.hdf5")
    # The options were staged first; they must not have replaced anything.
    assert _entries(tmp_path) == set()


def _link(kind: str, target: Path, link: Path) -> Path:
    if kind == "symlink":
        link.symlink_to(target)
    elif kind == "hard link":
        os.link(target, link)
    return link


SAME_FILE = {
    # how the weights destination names the options destination
    "same path": lambda options_file: options_file,
    "same path, spelled otherwise": lambda options_file: (
        options_file.parent / "sub" / ".." / options_file.name),
    "symlink": lambda options_file: _link("symlink", options_file,
                                          options_file.parent / "link.hdf5"),
    "hard link": lambda options_file: _link("hard link", options_file,
                                            options_file.parent / "link.hdf5"),
}


@pytest.mark.parametrize("name", SAME_FILE.keys())
def test_write_refuses_one_file_for_both(tmp_path, name):
    options = make_options()
    options_file = tmp_path / "model"
    options_file.write_bytes(b"the old file")
    (tmp_path / "sub").mkdir()
    weight_file = SAME_FILE[name](options_file)
    before = _entries(tmp_path)
    raises_model_error(
        lambda: write_model(options, make_random_weights(options), options_file, weight_file),
        weight_file, match="same file as the options destination")
    assert options_file.read_bytes() == b"the old file"
    assert _entries(tmp_path) == before


def test_write_refuses_one_new_file_for_both(tmp_path):
    options = make_options()
    path = tmp_path / "out" / "model"
    raises_model_error(lambda: write_model(options, make_random_weights(options), path, path),
                       path, match="two different files")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("which", ["options", "weights"])
def test_write_refuses_a_directory_destination(tmp_path, which):
    options_file, weight_file = make_random_model(tmp_path, seed=0)
    before = options_file.read_bytes(), weight_file.read_bytes()
    directory = tmp_path / "a-directory"
    directory.mkdir()
    targets = (directory, weight_file) if which == "options" else (options_file, directory)
    raises_model_error(
        lambda: write_model(make_options(), make_random_weights(make_options(), seed=1),
                            *targets),
        directory, match=f"is a directory; the {which} file cannot be written")
    assert (options_file.read_bytes(), weight_file.read_bytes()) == before
    assert _entries(tmp_path) == {"options.json", "weights.hdf5", "a-directory"}
    assert _entries(directory) == set()


def test_write_into_a_directory_that_cannot_exist_renames_nothing(tmp_path):
    options_file, weight_file = make_random_model(tmp_path, seed=0)
    before = options_file.read_bytes()
    with pytest.raises(OSError):
        write_model(make_options(), make_random_weights(make_options(), seed=1), options_file,
                    weight_file / "weights.hdf5")  # under a file: no directory can be made
    assert options_file.read_bytes() == before
    assert _entries(tmp_path) == {"options.json", "weights.hdf5"}


def _failing_second_rename(monkeypatch, destinations: tuple[Path, ...]) -> list[Path]:
    """Make the second rename onto one of ``destinations`` fail; return the renames' targets."""
    real_replace = os.replace
    targets: list[Path] = []

    def replace(source, destination):
        if Path(destination) in destinations:
            targets.append(Path(destination))
            if len(targets) == 2:
                raise OSError("rename failed")
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    return targets


def test_a_failed_weights_rename_puts_the_old_options_back(tmp_path, monkeypatch):
    options_file, weight_file = make_random_model(tmp_path, seed=0)
    before = options_file.read_bytes(), weight_file.read_bytes()
    targets = _failing_second_rename(monkeypatch, (options_file, weight_file))
    options = make_options(cell_clip=None)  # other options, so the options file would change
    with pytest.raises(OSError, match="rename failed"):
        write_model(options, make_random_weights(options, seed=1), options_file, weight_file)
    # Options first, weights second (which fails), then the old options go back.
    assert targets == [options_file, weight_file, options_file]
    assert (options_file.read_bytes(), weight_file.read_bytes()) == before
    assert _entries(tmp_path) == {"options.json", "weights.hdf5"}


def test_a_failed_weights_rename_leaves_no_new_options(tmp_path, monkeypatch):
    options_file, weight_file = tmp_path / "options.json", tmp_path / "weights.hdf5"
    _failing_second_rename(monkeypatch, (options_file, weight_file))
    options = make_options()
    with pytest.raises(OSError, match="rename failed"):
        write_model(options, make_random_weights(options), options_file, weight_file)
    assert _entries(tmp_path) == set()


def test_write_keeps_the_replaced_files_modes(tmp_path):
    options_file, weight_file = make_random_model(tmp_path, seed=0)
    options_file.chmod(0o600)
    weight_file.chmod(0o640)
    make_random_model(tmp_path, seed=1)
    assert options_file.stat().st_mode & 0o7777 == 0o600
    assert weight_file.stat().st_mode & 0o7777 == 0o640
    _, weights = read_model(options_file, weight_file)
    assert_weights_identical(weights, make_random_weights(make_options(), seed=1))


def test_check_weights_default_source():
    options = make_options()
    weights = make_random_weights(make_options(cell_dim=32))
    raises_model_error(lambda: check_weights(options, weights), "<weights>",
                       LSTM.format(d=0, l=0) + "/W_0")
    check_weights(options, make_random_weights(options))  # matching weights pass


# -- non-finite weights --------------------------------------------------------

NON_FINITE = [
    ("char_embed", [(0, 0)], np.nan),
    ("CNN/b_cnn_0", [(1,), (2,), (3,)], np.inf),
    (LSTM.format(d=1, l=1) + "/W_P_0", [(0, 0), (5, 3)], -np.inf),
]


@pytest.mark.parametrize(("name", "where", "value"), NON_FINITE,
                         ids=[f"{n}={v}" for n, _, v in NON_FINITE])
def test_non_finite_weights_rejected(model, name, where, value):
    with h5py.File(model[1], "a") as f:
        values = f[name][...]
        for index in where:
            values[index] = value
        f[name][...] = values
    raises_model_error(lambda: read_model(*model), model[1], name,
                       match=f"{len(where)} value{'s' if len(where) > 1 else ''} not finite")


def test_write_rejects_non_finite_weights(tmp_path):
    options = make_options()
    weights = make_random_weights(options)
    weights.lstm[0][1].bias[7] = np.nan
    weights.highway[1].w_carry[2, 3] = np.inf  # the first bad dataset is named
    weight_file = tmp_path / "weights.hdf5"
    raises_model_error(
        lambda: write_model(options, weights, tmp_path / "options.json", weight_file),
        weight_file, "CNN_high_1/W_carry", match="1 value not finite")
    assert _entries(tmp_path) == set()


def test_float64_weights_too_large_for_float32_rejected(model, recwarn):
    with h5py.File(model[1], "a") as f:
        values = f["CNN/b_cnn_0"][...].astype(np.float64)
        values[0] = 1e300  # finite in the file, infinite once read as float32
        del f["CNN/b_cnn_0"]
        f.create_dataset("CNN/b_cnn_0", data=values)
    raises_model_error(lambda: read_model(*model), model[1], "CNN/b_cnn_0",
                       match="1 value not finite")
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


# -- checksums -----------------------------------------------------------------

def test_written_datasets_carry_checksums(model):
    import hashlib

    with h5py.File(model[1], "r") as f:
        for name in expected_shapes(make_options()):
            digest = f[name].attrs["skelmo_sha256"].decode()
            assert digest == hashlib.sha256(f[name][...].astype("<f4").tobytes()).hexdigest()


def test_changed_values_fail_their_checksum(model):
    name = LSTM.format(d=0, l=1) + "/B"
    with h5py.File(model[1], "a") as f:
        f[name][3] += 1.0  # finite, right shape and dtype: only the checksum can tell
    raises_model_error(lambda: read_model(*model), model[1], name, match="checksum")


@pytest.mark.parametrize("value", [b"0" * 63, "not hex", np.arange(3)], ids=repr)
def test_malformed_checksum_attribute(model, value):
    with h5py.File(model[1], "a") as f:
        f["char_embed"].attrs["skelmo_sha256"] = value
    raises_model_error(lambda: read_model(*model), model[1], "char_embed", match="SHA-256")


def test_deleting_the_checksums_accepts_an_edit(model):
    with h5py.File(model[1], "a") as f:
        f["char_embed"][0, 0] = 0.5
        del f["char_embed"].attrs["skelmo_sha256"]
    assert read_model(*model)[1].char_embed[0, 0] == 0.5


def test_corrupt_object_headers_are_corrupt_files_not_missing_datasets(model):
    """The file's metadata is checksummed: a damaged header is named as corruption."""
    data = model[1].read_bytes()
    headers = [i for i in range(len(data)) if data.startswith(b"OHDR", i)]
    assert len(headers) > len(expected_shapes(make_options()))  # datasets and groups
    for start in headers:
        damaged = bytearray(data)
        damaged[start + 12] ^= 0x55
        model[1].write_bytes(bytes(damaged))
        exc = raises_model_error(lambda: read_model(*model), model[1])
        assert "corrupt" in str(exc) and "does not match" not in str(exc), str(exc)
