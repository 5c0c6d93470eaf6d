"""``GET /v1/metrics/dora/schema``: the typed document it answers is the report's JSON Schema,
every key of it (nothing dropped by the response model)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from pydantic import TypeAdapter

from metrics_collector.dora import service
from metrics_collector.dora.endpoints import router
from metrics_collector.dora.schemas import DoraResponse


def test_the_document_is_the_json_schema_of_the_report() -> None:
    expected = TypeAdapter(DoraResponse).json_schema()
    assert service.report_schema().model_dump(by_alias=True) == expected


async def test_the_endpoint_answers_it_unchanged() -> None:
    app = FastAPI()
    app.include_router(router)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://collector") as client:
        answer = await client.get("/v1/metrics/dora/schema")
    assert answer.status_code == 200
    assert answer.json() == TypeAdapter(DoraResponse).json_schema()
    assert "lead_time" in answer.json()["properties"]
