"""Run the command line: ``python -m skelmo``."""

try:
    from .cli import main
except KeyboardInterrupt:  # Ctrl-C in the first instant, before the command starts
    import sys

    print("skelmo: interrupted.", file=sys.stderr)
    raise SystemExit(130) from None

raise SystemExit(main())
