"""The DORA cache pauses cyclic garbage collection while agencies load, and always resumes it."""

from __future__ import annotations

import gc

import pytest

from metrics_collector.dora.cache import _gc_paused


def test_collection_resumes_only_when_the_last_of_overlapping_loads_ends() -> None:
    assert gc.isenabled()
    with _gc_paused():
        assert not gc.isenabled()
        with _gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer load is still running
    assert gc.isenabled()


def test_collection_resumes_when_a_load_fails() -> None:
    with pytest.raises(RuntimeError, match="database away"), _gc_paused():
        raise RuntimeError("database away")
    assert gc.isenabled()
