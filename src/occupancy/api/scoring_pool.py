"""The few threads where POST /predict is parsed, validated and scored, off the event loop.

On the loop, a 1,000-listing batch (about half a second) held up every other request, the
probes included: two such batches kept /health/live waiting over a second. Here the loop only
reads the body and hands the work over, so probes stay on the loop and answer in milliseconds.

SCORING_THREADS is 2: the work is mostly Python holding the GIL, so threads beyond the one CPU
of an API pod (charts/api `limits.cpu: 1`) add no throughput, only GIL contention (dozens of
threads were measured to halve throughput at 16 connections) and more waiting for the loop when
it wants the GIL for a probe. One thread would put a single listing behind a half-second batch;
two let it through beside one. Requests beyond that wait on the loop, costing it nothing.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from threadpoolctl import threadpool_limits

SCORING_THREADS = 2
T = TypeVar("T")


class ScoringPool:
    """A fixed number of scoring threads, each limited to one BLAS/OpenMP thread."""

    def __init__(self, threads: int = SCORING_THREADS) -> None:
        self.threads = threads
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scoring")
        self._local = threading.local()

    async def run(self, work: Callable[[], T]) -> T:
        """`work()` in a scoring thread; the caller's task waits without holding the loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, work)

    def _call(self, work: Callable[[], T]) -> T:
        self._limit_native_threads()
        return work()

    def _limit_native_threads(self) -> None:
        # OpenMP's thread count is a per-thread setting, so the lifespan's limit on the loop's
        # thread does not reach this one; and threadpoolctl only sees libraries loaded when it
        # runs, while loading a model imports new ones (libgomp with scikit-learn's ensembles).
        # So limit again whenever modules were imported since: a len() once warm, the limit
        # itself (5-20 ms) once per thread after a load.
        modules = len(sys.modules)
        if getattr(self._local, "modules", None) != modules:
            threadpool_limits(limits=1)
            self._local.modules = modules
