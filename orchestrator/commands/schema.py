"""`orchestrator schema`: the JSON Schema of builds.yaml, for editor completion."""

from __future__ import annotations

import argparse
import json

from orchestrator import console, outfile
from orchestrator.manifest import json_schema


def run(args: argparse.Namespace) -> int:
    text = json.dumps(json_schema(), indent=2) + "\n"
    if args.output:
        outfile.write(args.output, text)
        console.err.print(f"wrote {args.output}", markup=False)
    else:
        console.result(text, markup=False, highlight=False, end="")
    return 0
