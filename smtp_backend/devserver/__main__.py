"""``python -m smtp_backend.devserver``: run the mail catcher until Ctrl-C."""

import sys

from .console import main

sys.exit(main())
