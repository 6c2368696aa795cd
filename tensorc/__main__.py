"""`python -m tensorc doctor`: the `tensorc` command without its console script."""

from tensorc.cli import main

raise SystemExit(main())
