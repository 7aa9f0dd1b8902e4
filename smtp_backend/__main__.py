"""``python -m smtp_backend``: the ``smtp-backend`` command line."""

from smtp_backend.cli import main

raise SystemExit(main())
