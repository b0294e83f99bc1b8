import sys

from quickstart.up import main

sys.exit(main())
