import sys

from visuomotor.cli import main

sys.exit(main())
