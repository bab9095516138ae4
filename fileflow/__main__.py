import sys

from fileflow.cli.main import main

sys.exit(main())
