"""genre_utils: the shared package behind the genre-book.

Rebuilds, from raw audio, the CNN + bidirectional-GRU music-genre classifier of Hsiang, Deng, Zhang and
Leal ("Deep learning model for music genre classification using CNN and RNN in PyTorch"): data sources,
audio and features, leak-free splits, the feature store, models, training, evaluation, plots and widgets.
Notebooks import it as ``import genre_utils as gu``.
"""

__version__ = "0.1.0"

from .config import PROFILES, FeatureParams, Profile, get_profile  # noqa: F401
from .genres import GENRES  # noqa: F401
