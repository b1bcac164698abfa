"""``python -m selector`` behaves exactly like the ``selector`` command."""

import sys

from selector.cli import main

if __name__ == "__main__":
    sys.exit(main())
