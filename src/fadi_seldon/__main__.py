"""Allow `python -m fadi_seldon`."""

from fadi_seldon.cli import main

raise SystemExit(main())
