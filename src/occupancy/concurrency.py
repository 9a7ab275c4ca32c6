"""Bounded, order-preserving parallel map for batch pipelines.

Arrow and NumPy kernels release the GIL, so two threads keep both cores of a small machine busy
on batch work without copying batches between processes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(func: Callable[[T], R], items: Iterable[T], *, workers: int = 2) -> Iterator[R]:
    """`map(func, items)` on a thread pool, results in input order, at most `workers + 1` in flight."""
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="occupancy-batch") as pool:
        pending: deque[Future[R]] = deque()
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
