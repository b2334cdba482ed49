"""Run the command line: ``python -m skelmo``."""

from .cli import main

raise SystemExit(main())
