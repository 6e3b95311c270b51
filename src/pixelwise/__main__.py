"""``python -m pixelwise`` (also what ``torchrun -m pixelwise`` runs)."""

import sys

from pixelwise.cli.main import main

sys.exit(main())
