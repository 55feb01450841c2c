"""`python -m replication`: see replication.cli."""

import sys

from .cli import main

sys.exit(main())
