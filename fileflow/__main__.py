import sys

from fileflow.cli.daemon_client import main

sys.exit(main())
