"""``python -m aioxide``: the command line (aioxide.cli)."""

from aioxide.cli import main

raise SystemExit(main())
