"""``python -m model.validation ...``: an alias of ``chipstack validate ...``."""

import sys

from model.validation.cli import main

sys.exit(main())
