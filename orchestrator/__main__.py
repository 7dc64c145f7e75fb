"""`python -m orchestrator` is the same as the `orchestrator` command."""

from orchestrator.main import main

raise SystemExit(main())
