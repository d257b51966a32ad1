"""``python -m lmm_core`` is the ``lmm`` command."""
import sys

from .cli import main

sys.exit(main())
