"""The persistent on-disk cache: format, corruption, concurrency, eviction."""

from __future__ import annotations

import ast
import hashlib
import json
import multiprocessing
import os
import pickle
import re
import struct
import time
from pathlib import Path

import joblib
import numpy as np
import pytest

from skelmo._engine import DiskCache, _disk_cache, disk_cache_key

MAGIC = b"\x89SKELMO\n"
PREFIX = struct.Struct("<8sII32s")


def _entry(cache: DiskCache, key: bytes) -> Path:
    return cache.directory / "v1" / key.hex()[:2] / f"{key.hex()}.entry"


def _equal(got, expected) -> bool:
    if isinstance(expected, tuple):
        return (type(got) is tuple and len(got) == len(expected)
                and all(_equal(g, e) for g, e in zip(got, expected)))
    return (type(got) is np.ndarray and got.dtype == expected.dtype
            and got.shape == expected.shape and np.array_equal(got, expected, equal_nan=True))


# -- keys ----------------------------------------------------------------------------------

def test_key_is_a_stable_sha256_of_a_canonical_encoding():
    key = disk_cache_key("pooled", "0" * 64, "warm", "whitespace", ("The", "cat"))
    assert isinstance(key, bytes) and len(key) == 32
    assert key == disk_cache_key("pooled", "0" * 64, "warm", "whitespace", ("The", "cat"))
    # Pinned: the encoding is part of the on-disk format (a change orphans every entry).
    assert disk_cache_key("pooled", 3, ("The", "cat")).hex() == PINNED


PINNED = "c87960079b2982c61e9bad6223aca10b1c9af053b305ada9df75c6fdb368a09b"


@pytest.mark.parametrize(("a", "b"), [
    (("ab", "c"), ("a", "bc")),
    (("abc",), ("ab", "c")),
    (("1",), (1,)),
    (("a",), (b"a",)),
    (("a",), (("a",),)),
    ((("a", "b"),), ("a", "b")),
    ((("a", "b"), "c"), (("a",), "b", "c")),
    (("a", ()), ("a",)),
    ((), ((),)),
    ((1, 23), (12, 3)),
    ((-1,), ("-1",)),
    (("",), ()),
    (("a\x00b",), ("a", "b")),
])
def test_different_parts_give_different_keys(a, b):
    assert disk_cache_key(*a) != disk_cache_key(*b)


def test_key_accepts_numpy_ints_and_odd_strings_and_refuses_the_rest():
    assert disk_cache_key(np.int64(7)) == disk_cache_key(7)
    assert len(disk_cache_key("\ud800", "é", 10**40)) == 32
    for bad in (True, 1.5, ["a"], None, {"a": 1}):
        with pytest.raises(TypeError, match="disk_cache_key parts"):
            disk_cache_key("x", bad)
    with pytest.raises(TypeError):
        disk_cache_key(("x", ("y", [1])))


def test_the_module_does_not_import_joblib_at_run_time():
    tree = ast.parse(Path(_disk_cache.__file__).read_text(encoding="utf-8"))
    guarded = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING"
               for node in ast.walk(block)}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in guarded:
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert not any(name.split(".")[0] == "joblib" for name in names)


# -- construction --------------------------------------------------------------------------

def test_directory_from_path_or_joblib_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert DiskCache("here").directory == tmp_path.resolve() / "here"
    assert DiskCache(tmp_path).max_bytes == 10 * 2**30
    memory = joblib.Memory(location=tmp_path / "joblib", verbose=0)
    assert DiskCache(memory).directory == (tmp_path / "joblib").resolve() / "skelmo"
    with pytest.raises(ValueError, match="needs a location"):
        DiskCache(joblib.Memory(location=None, verbose=0))
    with pytest.raises(TypeError, match="path or a joblib.Memory"):
        DiskCache(3)


@pytest.mark.parametrize("max_bytes", [0, -1, True, 1.5, "10"])
def test_max_bytes_must_be_a_positive_integer(tmp_path, max_bytes):
    with pytest.raises(ValueError, match="max_bytes must be a positive integer"):
        DiskCache(tmp_path, max_bytes=max_bytes)


def test_pickles_as_its_directory_and_bound(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=12345)
    key = disk_cache_key("k")
    cache.put_many([(key, np.arange(3.0))])
    cache.get_many([key])
    copy = pickle.loads(pickle.dumps(cache))
    assert (copy.directory, copy.max_bytes, copy.hits, copy.misses) == (cache.directory, 12345,
                                                                        0, 0)
    assert _equal(copy.get_many([key])[0], np.arange(3.0))
    assert "12345" in repr(copy)


# -- round trips and format ----------------------------------------------------------------

VALUES = [
    np.array(1.5, np.float32),  # 0-d
    np.arange(12, dtype=np.float32).reshape(3, 4),
    np.linspace(-1, 1, 7, dtype=np.float64),
    np.array([np.nan, np.inf, -0.0, 65504], dtype=np.float16),
    np.zeros((0,), np.float32),
    np.zeros((3, 0, 2), np.float16),
    np.arange(24, dtype=np.float64).reshape(2, 3, 4).transpose(2, 0, 1),  # not C-contiguous
    np.arange(5, dtype=">f4"),  # big-endian is kept as such
    np.array([True, False]),
    np.arange(-3, 3, dtype=np.int64),
    np.array([1 + 2j], np.complex64),
    (np.ones((2, 3), np.float32), np.zeros(0, np.float16), np.arange(4.0)),
    (np.ones(1, np.float32),),
    (),
]


def test_values_round_trip_exactly(tmp_path):
    cache = DiskCache(tmp_path / "cache")
    keys = [disk_cache_key("value", i) for i in range(len(VALUES))]
    cache.put_many(list(zip(keys, VALUES)))
    for got in (cache.get_many(keys), DiskCache(tmp_path / "cache").get_many(keys)):
        for value, expected in zip(got, VALUES):
            assert _equal(value, expected), expected
    assert cache.hits == len(VALUES) and cache.misses == 0
    array = cache.get_many([keys[1]])[0]
    assert array.flags.writeable and array.flags.aligned
    array[0, 0] = 99  # a fresh array: the file is untouched
    assert cache.get_many([keys[1]])[0][0, 0] == 0


def test_a_later_put_replaces_the_value(tmp_path):
    cache = DiskCache(tmp_path)
    key = disk_cache_key("k")
    cache.put_many([(key, np.zeros(3))])
    cache.put_many([(key, (np.ones(2, np.float32),))])
    assert _equal(cache.get_many([key])[0], (np.ones(2, np.float32),))


def test_file_layout_and_header(tmp_path):
    cache = DiskCache(tmp_path)
    key = disk_cache_key("layout")
    value = (np.arange(6, dtype=np.float32).reshape(2, 3), np.zeros(0, np.float16))
    cache.put_many([(key, value)])
    files = [path for path in tmp_path.rglob("*") if path.is_file()]
    assert files == [_entry(cache, key)]
    data = files[0].read_bytes()
    magic, version, header_size, digest = PREFIX.unpack_from(data)
    assert (magic, version) == (MAGIC, 1)
    header = json.loads(data[PREFIX.size:PREFIX.size + header_size])
    assert header == {"key": key.hex(), "kind": "tuple",
                      "arrays": [["<f4", [2, 3]], ["<f2", [0]]]}
    payload = data[PREFIX.size + header_size:]
    assert payload == value[0].tobytes()
    assert digest == hashlib.sha256(data[PREFIX.size:]).digest()
    assert cache.nbytes == len(data)


def test_bad_keys_and_values_are_refused_before_anything_is_written(tmp_path):
    cache = DiskCache(tmp_path / "cache")
    good = (disk_cache_key("good"), np.ones(2))
    with pytest.raises(TypeError, match="must be bytes"):
        cache.get_many(["a string"])
    with pytest.raises(ValueError, match="digests of 16 to 64 bytes"):
        cache.get_many([b"short"])
    for bad in ([1.0, 2.0], np.array(["a"]), np.array([{}], dtype=object),
                (np.ones(2), [1]), np.zeros(2, dtype=[("a", "<f4")])):
        with pytest.raises(TypeError, match="DiskCache"):
            cache.put_many([good, (disk_cache_key("bad"), bad)])
    assert not (tmp_path / "cache").exists()


def test_get_on_a_missing_directory_is_a_miss_and_creates_nothing(tmp_path):
    cache = DiskCache(tmp_path / "absent" / "cache")
    assert cache.get_many([disk_cache_key("a"), disk_cache_key("b")]) == [None, None]
    assert (cache.hits, cache.misses, cache.nbytes) == (0, 2, 0)
    assert not (tmp_path / "absent").exists()
    cache.put_many([(disk_cache_key("a"), np.ones(1))])
    assert _entry(cache, disk_cache_key("a")).is_file()


# -- damaged entries -----------------------------------------------------------------------

def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-5])


def _flip_payload_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a cache entry" * 10)


def _empty(path: Path) -> None:
    path.write_bytes(b"")


def _wrong_magic(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(b"\x89NUMPY!\n" + data[8:])


def _wrong_version(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[8:12] = struct.pack("<I", 2)
    path.write_bytes(bytes(data))


def _other_key(path: Path) -> None:
    other = DiskCache(path.parents[3] / "other")
    key = disk_cache_key("another key")
    other.put_many([(key, np.arange(8, dtype=np.float32))])
    path.write_bytes(_entry(other, key).read_bytes())


def _appended(path: Path) -> None:
    path.write_bytes(path.read_bytes() + b"\x00")


def _shape_changed_with_valid_length(path: Path) -> None:
    # (8,) -> (4, 2): a well-formed header and the right length; only the checksum objects.
    data = path.read_bytes()
    magic, version, size, digest = PREFIX.unpack_from(data)
    rest = data[PREFIX.size:].replace(b"[8]", b"[4,2]", 1)
    path.write_bytes(PREFIX.pack(magic, version, size + 2, digest) + rest)


@pytest.mark.parametrize("damage", [_truncate, _flip_payload_byte, _garbage, _empty, _wrong_magic,
                                    _wrong_version, _other_key, _appended,
                                    _shape_changed_with_valid_length])
def test_a_damaged_entry_is_a_miss_is_removed_and_is_rewritten(tmp_path, damage):
    cache = DiskCache(tmp_path / "cache")
    key, value = disk_cache_key("victim"), np.arange(8, dtype=np.float32)
    cache.put_many([(key, value)])
    path = _entry(cache, key)
    damage(path)
    assert cache.get_many([key]) == [None]
    assert (cache.hits, cache.misses) == (0, 1)
    assert not path.exists()
    cache.put_many([(key, value)])
    assert _equal(cache.get_many([key])[0], value)


def test_an_unopenable_entry_is_a_miss_and_is_kept(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path)
    key = disk_cache_key("k")
    cache.put_many([(key, np.ones(3))])

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_disk_cache, "open", refuse, raising=False)
    assert cache.get_many([key]) == [None]
    monkeypatch.undo()
    assert _entry(cache, key).is_file()
    monkeypatch.setattr(os, "utime", refuse)  # a read-only file system: still a hit
    assert _equal(cache.get_many([key])[0], np.ones(3))


def test_an_unwritable_directory_raises_a_clear_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    cache = DiskCache(blocker / "cache")
    with pytest.raises(OSError, match=re.escape(str(blocker / "cache"))) as info:
        cache.put_many([(disk_cache_key("k"), np.ones(2))])
    assert "Pass a directory that can be created and written to" in str(info.value)
    assert isinstance(info.value.__cause__, OSError)
    assert cache.get_many([disk_cache_key("k")]) == [None]
    assert cache.nbytes == 0
    cache.clear()
    assert blocker.read_text() == "not a directory"


def test_a_write_failure_names_the_directory(tmp_path, monkeypatch):
    cache = DiskCache(tmp_path)

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(_disk_cache, "atomic_path", full)
    with pytest.raises(OSError, match="No space left on device. Pass a directory") as info:
        cache.put_many([(disk_cache_key("k"), np.ones(2))])
    assert info.value.errno == 28 and str(tmp_path) in str(info.value)


# -- size bound ----------------------------------------------------------------------------

def _put_aged(cache: DiskCache, names: list[int]) -> list[bytes]:
    keys = [disk_cache_key("entry", name) for name in names]
    cache.put_many([(key, np.full(1000, name, np.uint8)) for key, name in zip(keys, names)])
    return keys


def test_eviction_removes_the_least_recently_used_entries(tmp_path):
    probe = DiskCache(tmp_path / "probe")
    _put_aged(probe, [0])
    size = probe.nbytes
    cache = DiskCache(tmp_path / "cache", max_bytes=10 * size + size // 2)
    keys = _put_aged(cache, list(range(10)))
    assert cache.nbytes == 10 * size
    base = time.time_ns() - 1000 * 10**9
    for i, key in enumerate(keys):  # entry i is i seconds younger than entry 0
        os.utime(_entry(cache, key), ns=(base + i * 10**9,) * 2)
    assert cache.get_many([keys[0]])[0] is not None  # a hit makes entry 0 the newest
    new = _put_aged(cache, [10, 11, 12])  # 13 entries: back under 90%, i.e. 9 entries
    kept = [key for key in keys + new if _entry(cache, key).exists()]
    assert kept == [keys[0]] + keys[5:] + new
    assert cache.nbytes == 9 * size <= 0.9 * cache.max_bytes
    assert cache.get_many(keys[1:5]) == [None] * 4


def test_an_entry_larger_than_the_bound_is_not_stored(tmp_path):
    cache = DiskCache(tmp_path, max_bytes=500)
    cache.put_many([(disk_cache_key("big"), np.zeros(1000, np.uint8)),
                    (disk_cache_key("small"), np.zeros(10, np.uint8))])
    assert cache.get_many([disk_cache_key("big"), disk_cache_key("small")])[0] is None
    assert _entry(cache, disk_cache_key("small")).is_file()


def test_the_directory_is_listed_only_when_the_estimate_calls_for_it(tmp_path, monkeypatch):
    calls = []
    listing = DiskCache._list

    def counted(self):
        calls.append(1)
        return listing(self)

    monkeypatch.setattr(DiskCache, "_list", counted)
    cache = DiskCache(tmp_path, max_bytes=2**20)
    _put_aged(cache, [0])
    size = cache.nbytes
    assert len(calls) == 2  # the first put learns the total; nbytes always lists
    per_rescan = int(0.1 * 2**20) // size  # a tenth of the bound written since the listing
    _put_aged(cache, list(range(1, per_rescan)))
    assert len(calls) == 2
    _put_aged(cache, [per_rescan, per_rescan + 1])
    assert len(calls) == 3
    cache.max_bytes = 5 * size
    _put_aged(cache, [per_rescan + 2])  # the estimate is over the new bound: list, evict
    assert len(calls) == 4
    assert cache.nbytes <= 0.9 * 5 * size


def test_listing_removes_only_stale_temporary_files(tmp_path):
    cache = DiskCache(tmp_path)
    key = disk_cache_key("k")
    cache.put_many([(key, np.ones(2))])
    shard = _entry(cache, key).parent
    stale = shard / f".{key.hex()}.entry.0123abcd.tmp"
    fresh = shard / f".{key.hex()}.entry.89abcdef.tmp"
    mine = shard / "notes.txt"
    for path in (stale, fresh, mine):
        path.write_bytes(b"x" * 100)
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    os.utime(mine, (old, old))
    assert cache.nbytes == _entry(cache, key).stat().st_size
    assert not stale.exists() and fresh.exists() and mine.exists()


# -- clear ---------------------------------------------------------------------------------

def test_clear_removes_the_entries_only(tmp_path):
    cache = DiskCache(tmp_path)
    (tmp_path / "mine.txt").write_text("keep me")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "data.npy").write_bytes(b"keep me too")
    keys = [disk_cache_key("k", i) for i in range(5)]
    cache.put_many([(key, np.ones(i + 1)) for i, key in enumerate(keys)])
    cache.get_many(keys + [disk_cache_key("absent")])
    cache.clear()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["mine", "mine.txt"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"
    assert (tmp_path / "mine" / "data.npy").read_bytes() == b"keep me too"
    assert (cache.nbytes, cache.hits, cache.misses) == (0, 0, 0)
    assert cache.get_many(keys) == [None] * 5
    cache.clear()  # nothing to clear
    cache.put_many([(keys[0], np.ones(1))])
    assert _equal(cache.get_many([keys[0]])[0], np.ones(1))


# -- several processes ---------------------------------------------------------------------

def _value(i: int):
    rng = np.random.default_rng(i)
    if i % 2:
        return (rng.standard_normal((i % 7, 16)).astype(np.float32), np.arange(i, dtype=np.int32))
    return rng.standard_normal((3, i + 1)).astype(np.float16)


def _hammer(cache: DiskCache, worker: int, barrier, results) -> None:
    keys = [disk_cache_key("shared", i) for i in range(50)]
    expected = [_value(i) for i in range(50)]
    rng = np.random.default_rng(worker)
    bad = 0
    barrier.wait()
    for _ in range(3):
        for i in rng.permutation(50):
            cache.put_many([(keys[i], expected[i])])
            probe = rng.integers(0, 50, 5)
            for j, got in zip(probe, cache.get_many([keys[j] for j in probe])):
                bad += got is not None and not _equal(got, expected[j])
    final = cache.get_many(keys)
    bad += sum(got is None or not _equal(got, value) for got, value in zip(final, expected))
    results.put((worker, bad, cache.hits))


def test_processes_writing_the_same_keys_never_see_a_wrong_or_partial_value(tmp_path):
    context = multiprocessing.get_context("spawn")
    cache = DiskCache(tmp_path / "shared")
    barrier, results = context.Barrier(3), context.Queue()
    workers = [context.Process(target=_hammer, args=(cache, w, barrier, results))
               for w in range(3)]
    for worker in workers:
        worker.start()
    outcome = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    assert [bad for _, bad, _ in outcome] == [0, 0, 0]
    assert all(hits >= 50 for _, _, hits in outcome)
    keys = [disk_cache_key("shared", i) for i in range(50)]
    fresh = DiskCache(tmp_path / "shared")
    assert all(_equal(got, _value(i)) for i, got in enumerate(fresh.get_many(keys)))
    files = sorted(path.name for path in (tmp_path / "shared").rglob("*") if path.is_file())
    assert files == sorted(f"{key.hex()}.entry" for key in keys)  # no temporary file left
