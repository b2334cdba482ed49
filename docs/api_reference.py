"""The objects documented in the API reference: the one list to edit.

Each section documents public objects of one module, one name per line. To
document a new object, add its name to its section; to document a new
module, add a section.

``objects=None`` documents every name in the module's ``__all__``. A dotted
name (``"skelmo.train"``) documents an object under another module's name,
for an object that a module re-exports.

A missing module or name fails the build, and so does a name in the
``__all__`` of a documented module that no section lists, so the reference
never silently falls behind the code.

``conf.py`` renders ``api/index.rst`` from this list at every build.
"""

from __future__ import annotations

API_REFERENCE: list[dict] = [
    {
        "title": "Estimators",
        "module": "skelmo",
        "description": "scikit-learn transformers: text in, ELMo vectors out.",
        "objects": [
            "ElmoVectorizer",
            "ElmoTokenVectorizer",
        ],
    },
    {
        "title": "Embedding with the biLM",
        "module": "skelmo",
        "description": "Direct access to every layer of the model, outside scikit-learn.",
        "objects": [
            "ElmoEmbedder",
            "EmbeddedBatch",
            "BiLM",
            "BiLMOutput",
            "LstmState",
            "batch_to_ids",
            "tokenize",
            "split_sentences",
        ],
    },
    {
        "title": "Model files",
        "module": "skelmo",
        "description": "Reading, validating and writing models in the published ELMo format.",
        "objects": [
            "read_model",
            "write_model",
            "ElmoOptions",
            "ElmoWeights",
            "ModelFileError",
            "ModelFileNotFoundError",
        ],
    },
    {
        "title": "Caches",
        "module": "skelmo",
        "description": "The process-wide model and activation caches, and the persistent "
                       "cache on disk.",
        "objects": [
            "load_bilm",
            "clear_model_cache",
            "activation_cache",
            "DiskCache",
        ],
    },
    {
        "title": "Named models",
        "module": "skelmo.models",
        "description": "The registry of named models, their download and verification.",
        "objects": [
            "available_models",
            "get_model_files",
            "download",
            "is_downloaded",
            "register",
            "unregister",
            "lookup",
            "cache_dir",
            "model_directory",
            "BUNDLED_MODEL",
            "RegisteredModel",
            "ModelDownloadError",
            "ModelIntegrityError",
        ],
    },
    {
        "title": "Datasets",
        "module": "skelmo.datasets",
        "description": "Small public data sets for examples and tests.",
        "objects": [
            "fetch_movie_reviews",
            "fetch_brown_pos",
            "get_data_home",
            "clear_data_home",
            "DatasetFetchError",
            "UNIVERSAL_TAGS",
            "universal_tag",
            "simplify_tag",
            "fetch_package",
            "PackageSource",
        ],
    },
    {
        "title": "Dask",
        "module": "skelmo.dask",
        "description": "Embedding Dask collections of documents on a Dask cluster.",
        "objects": None,
    },
    {
        "title": "Spark",
        "module": "skelmo.spark",
        "description": "Embedding a column of a Spark DataFrame.",
        "objects": None,
    },
    {
        "title": "Training",
        "module": "skelmo.training",
        "description": "Pretraining a biLM of your own and exporting it in the published format.",
        "objects": [
            "skelmo.train",
            "evaluate_perplexity",
            "default_options",
            "TrainingResult",
            "Perplexity",
        ],
    },
    {
        "title": "Testing",
        "module": "skelmo.testing",
        "description": "Small random models in the published format, for tests and examples.",
        "objects": [
            "make_random_model",
            "make_options",
            "make_random_weights",
        ],
    },
]
