"""``python -m model.validation ...`` (also ``chipstack validate ...``)."""

import sys

from model.validation.docking import main

sys.exit(main())
