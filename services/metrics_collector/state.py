"""What a metrics-collector process holds beyond the kit's runtime, built once at start."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from cortex_kit.runtime import StateSlot
from metrics_collector.dora.prometheus import DoraCollector
from metrics_collector.dora.service import DoraFeature


@dataclass(frozen=True)
class CollectorState:
    dora: DoraFeature  # the DORA cache the endpoints answer from, and its query bounds
    prometheus: DoraCollector  # exports the cache's metrics


state_of: StateSlot[CollectorState] = StateSlot()
"""``state_of(request)``: the process's state, typed."""
State = Annotated[CollectorState, Depends(state_of.dependency)]
"""The process's state as an endpoint parameter."""
