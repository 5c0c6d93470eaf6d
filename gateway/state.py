"""Process state of the gateway beyond the kit's runtime: key cache and upstream clients."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from cortex_kit.runtime import Runtime, get_runtime
from gateway.auth.service import KeyCache
from gateway.upstream import Upstreams


@dataclass
class GatewayState:
    key_cache: KeyCache
    upstreams: Upstreams
    max_events: int


def gateway_state(request: Request) -> GatewayState:
    return state_of(get_runtime(request))


def state_of(rt: Runtime) -> GatewayState:
    state = rt.extras["gateway"]
    assert isinstance(state, GatewayState)
    return state


__all__ = ["GatewayState", "gateway_state", "state_of"]
