"""The scikit-learn estimators: documents in, ELMo vectors out.

Owns :class:`~skelmo.ElmoVectorizer` and :class:`~skelmo.ElmoTokenVectorizer`,
the validation of their input documents, layer choice, scalar mix and
pooling, and the linear probe that learns a mix. Also the small interface
(:func:`check_params`, :func:`check_distributable`, :func:`tokenize_documents`,
:func:`document_lengths`, :func:`transform_documents`, :func:`feature_width`,
:class:`DocumentError`) through which the edges run an estimator.

Imports: scikit-learn, pandas, :mod:`skelmo._engine`, :mod:`skelmo._format`,
:mod:`skelmo.models` (model resolution) and :mod:`skelmo._utils`. The edges
import it through this ``__init__``.
"""

from ._base import (
    Document,
    ElmoEstimatorBase,
    check_distributable,
    check_params,
    document_lengths,
    feature_width,
    tokenize_documents,
    transform_documents,
)
from ._inputs import DocumentError, DocumentTypeError, DocumentValueError
from ._mix import check_layer, check_mix, combine_layers, output_width, softmax
from ._vectorizers import ElmoTokenVectorizer, ElmoVectorizer

__all__ = [
    "Document",
    "DocumentError",
    "DocumentTypeError",
    "DocumentValueError",
    "ElmoEstimatorBase",
    "ElmoTokenVectorizer",
    "ElmoVectorizer",
    "check_distributable",
    "check_layer",
    "check_mix",
    "check_params",
    "combine_layers",
    "document_lengths",
    "feature_width",
    "output_width",
    "softmax",
    "tokenize_documents",
    "transform_documents",
]
