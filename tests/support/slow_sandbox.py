"""A sandbox child that takes 3 s longer to start than :mod:`curate.sandbox` (guard tests)."""

import sys
import time

from curate.sandbox import main

if __name__ == "__main__":
    time.sleep(3.0)
    sys.exit(main(sys.argv[1:]))
