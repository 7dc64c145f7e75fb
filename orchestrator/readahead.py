"""Read-backs started while the bake still runs.

After a bake, publishing reads each pushed image back (its index, for the per-platform
digests and for the tag PUTs' bytes, and its attestation manifests) before tagging. At 30
targets those reads were two thirds of the publish phase's registry requests (issue 21),
all made after the last target finished. But an image is complete in the registry as soon as
BuildKit's exporter has pushed its root manifest, which the progress stream shows
(progress.PUSHING), while other targets are still being built. So the reads start then, a few
at a time, and publishing finds their answers in the registry client's by-digest memo.

Nothing is tagged here and nothing is decided: a read that fails, or a digest the metadata
file later contradicts, only means the publish phase reads that image itself, as it always
did (manifests fetched by digest never change, so an early answer is as good as a late one).
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
from collections.abc import Iterable

from orchestrator import executor, signing

# Few: the reads share the registry (and this machine's CPUs) with the bake still running.
WORKERS = 4


class ReadAhead:
    """Reads the images of `repositories` as the bake reports them pushed (Tracker.on_pushed)."""

    def __init__(self, repositories: Iterable[str]) -> None:
        self._repositories = set(repositories)
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self.cpu = 0.0  # seconds of CPU the reads took (their threads'), reported apart
        self.reads = 0

    def pushed(self, ref: str, digest: str) -> None:
        """BuildKit pushed `ref` (repo:tag) as `digest`: read it back, in the background."""
        repository, _, tag = ref.rpartition(":")
        if not repository or "/" in tag or repository not in self._repositories:
            return  # not one of ours (a cache export, another name): publishing never reads it
        with self._lock:
            if self._pool is None:
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    WORKERS, thread_name_prefix="readahead"
                )
            self._pool.submit(self._read, repository, digest)

    def _read(self, repository: str, digest: str) -> None:
        started = time.thread_time()
        index = executor.warm_manifest(f"{repository}@{digest}")
        count = 1
        for _, child in signing.attestation_manifests(index or {}):
            executor.warm_manifest(f"{repository}@{child}")
            count += 1
        with self._lock:
            self.cpu += time.thread_time() - started
            self.reads += count

    def close(self, *, wait: bool) -> None:
        """Wait for the reads under way (`wait`), or drop those not started (the bake failed:
        nothing will be published)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=not wait)
