"""`python -m bench`: run the benchmark (options: `python -m bench --help`)."""

import sys

from bench.run import main

sys.exit(main())
