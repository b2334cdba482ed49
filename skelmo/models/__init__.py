"""Named ELMo models: where they come from, where they are cached, how they are checked.

Four published ELMo models are registered by name:

============== ====================================== ===========
name           files (AllenNLP)                       output dim
============== ====================================== ===========
small          ``2x1024_128_2048cnn_1xhighway``       256
medium         ``2x2048_256_2048cnn_1xhighway``       512
original       ``2x4096_512_2048cnn_2xhighway``       1024
original-5.5b  ``2x4096_512_2048cnn_2xhighway_5.5B``  1024
============== ====================================== ===========

and one model ships inside the package, used in place and never downloaded:

================= ================================================ ===========
name              what                                             output dim
================= ================================================ ===========
skelmo-en-small   a small English biLM trained by                  256
                  ``recipes/small_english.py`` (see the model
                  card); the estimators' default ``model``
================= ================================================ ===========

Any estimator accepts a name as its ``model`` (``ElmoVectorizer(model="small")``);
the files are downloaded on first use into :func:`cache_dir`, one directory
per name::

    <cache_dir>/models/<name>/options.json
    <cache_dir>/models/<name>/weights.hdf5
    <cache_dir>/models/<name>/manifest.json

Verification
    The publisher gives no checksums, and skelmo records no expected sizes
    for the published files (none could be established from a source at
    hand; the ``options_size`` and ``weights_size`` of the built-in entries
    are None). Every download is therefore checked by content instead: the
    byte count must match the server's ``Content-Length``, the options must
    be a valid ``options.json``, the weights file must hold every dataset the
    options imply with the right shapes (read in full, so a truncated file
    fails), and the output width must match the registered one. The SHA-256
    of each file is then written to ``manifest.json``, and every later load
    checks the files against it. A mismatch raises
    :class:`ModelIntegrityError`; re-download with
    ``skelmo download NAME --force`` or delete the model's directory.
    Every hop of a redirect must pass the same address check as the
    registered URL (``https://`` only; never to a local file). Whatever goes
    wrong, a download fails with a :class:`ModelDownloadError` naming the
    URL. Both files are fetched and verified under temporary names before
    either replaces a cached copy, so a failed ``--force`` re-download leaves
    the verified copy as it was.

Your own models
    :func:`register` names a local directory, a pair of local files (used in
    place, never copied) or a pair of URLs (``https://`` or ``file://``,
    downloaded into the cache and verified like the published models).
    ``persist=True`` keeps the name in ``<cache_dir>/registry.json`` so that
    other processes, and the ``skelmo`` command line, see it too.

Layer
    This subpackage owns the registry, model resolution (an estimator's
    ``model`` parameter to two files) and verified downloads. It imports
    :mod:`skelmo._format` and :mod:`skelmo._utils` only; the estimators and
    the command line import it through this ``__init__``.
"""

from ._fetch import ModelDownloadError
from ._registry import (
    BUNDLED_MODEL,
    ModelIntegrityError,
    RegisteredModel,
    available_models,
    cache_dir,
    download,
    get_model_files,
    is_downloaded,
    lookup,
    model_directory,
    register,
    unregister,
)

# Internal to skelmo (not in __all__): how the estimators and the command line
# turn a ``model`` parameter into files.
from ._resolve import resolve_model as resolve_model

__all__ = [
    "BUNDLED_MODEL",
    "ModelDownloadError",
    "ModelIntegrityError",
    "RegisteredModel",
    "available_models",
    "cache_dir",
    "download",
    "get_model_files",
    "is_downloaded",
    "lookup",
    "model_directory",
    "register",
    "unregister",
]
