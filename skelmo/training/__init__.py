"""Pretrain an ELMo biLM on plain text and export it in the published format.

:func:`train` reads a corpus of tokenized sentences (one per line, tokens
separated by spaces, as :func:`skelmo.tokenize` gives them), trains the
forward and backward language models together, and writes ``options.json``
and ``weights.hdf5``: files any ELMo loader reads, skelmo's estimators
included. :func:`evaluate_perplexity` measures an exported model on held-out
text.

Continued pretraining: ``train(..., init_model=M)`` starts from any model the
estimators accept, keeping its architecture.

Layer
    An edge: it owns the trainable biLM, the training text's encoding into
    windows, the training loop and its checkpoints. It imports
    :mod:`skelmo._format`, :mod:`skelmo._engine` (the shared character-encoder
    function and weight conversions), :mod:`skelmo.models` (to resolve
    ``init_model``) and :mod:`skelmo._utils`, never the estimators.
"""

from ._train import Perplexity, TrainingResult, default_options, evaluate_perplexity, train

__all__ = ["Perplexity", "TrainingResult", "default_options", "evaluate_perplexity", "train"]
