"""`python -m qiboconnection`: the command-line interface."""

import sys

from qiboconnection.cli import main

if __name__ == "__main__":
    sys.exit(main())
