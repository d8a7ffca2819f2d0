"""``python -m gmia ...``: the `gmia` command, for when the script is not on the PATH."""

import sys

from gmia.cli import main

sys.exit(main())
