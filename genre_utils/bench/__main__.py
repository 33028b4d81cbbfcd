"""``python -m genre_utils.bench``."""

import sys

from .report import main

sys.exit(main())
