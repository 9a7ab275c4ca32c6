"""The scoring threads: one BLAS/OpenMP thread each, though OpenMP's setting is per thread."""

from __future__ import annotations

import asyncio

import sklearn.ensemble  # noqa: F401 - loads libgomp, as a loaded tree-ensemble model does
from threadpoolctl import threadpool_info, threadpool_limits

from occupancy.api.scoring_pool import ScoringPool


def test_work_runs_in_a_scoring_thread_with_one_native_thread_per_library() -> None:
    # Restores the process-wide BLAS limit the scoring thread sets, for the tests after this one.
    with threadpool_limits(limits=None):
        info = asyncio.run(ScoringPool(threads=1).run(threadpool_info))
    assert any(library["internal_api"] == "openmp" for library in info)
    assert {library["num_threads"] for library in info} == {1}, info
