import sys

from eodrec.cli import main

sys.exit(main())
