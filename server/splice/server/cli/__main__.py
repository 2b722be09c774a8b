"""``python -m splice.server.cli``."""

import sys

from splice.server.cli import main

sys.exit(main())
