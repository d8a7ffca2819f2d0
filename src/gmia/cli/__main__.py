import sys

from gmia.cli import main

sys.exit(main())
