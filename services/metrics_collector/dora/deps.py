"""FastAPI dependencies of the DORA endpoints: the query, parsed, and who changed settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query

from cortex_kit.web import PRINCIPAL_HEADER
from metrics_collector.dora.service import DoraQuery, parse_query
from metrics_collector.state import State


def _dora_query(
    state: State,
    service_name: Annotated[str | None, Query(alias="service", max_length=200)] = None,
    environment: Annotated[
        str | None, Query(max_length=200, description="Default production; * for all.")
    ] = None,
    start: Annotated[str | None, Query(alias="from", max_length=64)] = None,
    end: Annotated[str | None, Query(alias="to", max_length=64)] = None,
    bucket: Annotated[str | None, Query(description="day, week or month")] = None,
) -> DoraQuery:
    return parse_query(
        service=service_name,
        environment=environment,
        start=start,
        end=end,
        bucket=bucket,
        now=datetime.now(UTC),
        max_days=state.dora.max_window_days,
    )


DoraQueryParams = Annotated[DoraQuery, Depends(_dora_query)]
"""``?service=&environment=&from=&to=&bucket=``, validated (400 problems otherwise)."""
Changer = Annotated[str | None, Header(alias=PRINCIPAL_HEADER)]
"""The API key the gateway authorised the change for (``X-Cortex-Principal``)."""
