"""`python -m codeassist`: the same as the `codeassist` console script."""

import sys

from codeassist.main import main

sys.exit(main())
