import sys

from opsbot.cli import main

sys.exit(main())
