"""BuildKit-aware build orchestrator: builds.yaml -> plan -> docker buildx -> report."""

__version__ = "0.1.0"
