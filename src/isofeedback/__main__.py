"""``python -m isofeedback`` = the ``isofeedback`` command."""

import sys

from isofeedback.cli import main

sys.exit(main())
