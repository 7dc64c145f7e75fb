"""`python -m orchestrator` is the same as the `orchestrator` command."""

from orchestrator.main import entry

entry()
