"""Benchmarks of the orchestrator against raw `docker buildx bake`, as ratios (issue 9).

`python -m bench` (or `make bench`) runs the seven cases of bench/README.md on copies of
sample-go-app, prints a table and writes bench/results/latest.json + latest.md.
"""

SCHEMA_VERSION = 1
