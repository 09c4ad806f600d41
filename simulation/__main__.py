"""``python -m simulation`` is the ``ptce`` command."""

import sys

from .cli import main

sys.exit(main())
