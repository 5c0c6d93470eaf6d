"""`cortex preflight -f plan.yaml` against the running services: the exit code is the verdict
(0 pass, 2 fail, 3 needs approval, 1 transport), human output lists findings with their fix and
the batches, `--json` is the API's answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import yaml

from tests.integration.conftest import ADMIN_KEY

from .conftest import Preflight
from .test_deadline import AGENCY, arrange
from .test_parity import OVERRIDE_FREEZE, agents, plan


def _cortex(args: list[str], capsys: Any) -> tuple[int, str, str]:
    from cortex_sdk.cli import main

    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


async def cortex(url: str, args: list[str], capsys: Any) -> tuple[int, str, str]:
    connection = ["--url", url, "--api-key", ADMIN_KEY, "--agency", AGENCY]
    return await asyncio.to_thread(_cortex, ["preflight", *args, *connection], capsys)


def write(tmp_path: Path, name: str, body: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(body))
    return str(path)


async def test_exit_codes_follow_the_verdict(
    preflight: Preflight, tmp_path: Path, capsys: Any
) -> None:
    await arrange(preflight, fleet=3)
    url = preflight.cluster.gateway_url
    passing = write(tmp_path, "pass.yaml", plan(agents(3), batch=2))
    code, out, _ = await cortex(url, ["-f", passing], capsys)
    assert code == 0, out
    assert out.startswith("verdict: pass")
    assert "batches: 2 for 3 agent(s)" in out
    waiting = write(tmp_path, "wait.yaml", plan(agents(3), batch=2, overrides=OVERRIDE_FREEZE))
    code, out, _ = await cortex(url, ["-f", waiting], capsys)
    assert code == 3, out
    assert "deployment_needs_approval" in out
    assert "fix: " in out
    unknown = write(tmp_path, "unknown.yaml", plan(["ghost"], batch=1))
    code, out, _ = await cortex(url, ["-f", unknown, "--json"], capsys)
    assert code == 2
    report = json.loads(out)
    assert report["enforcement"]["code"] == "unknown_targets"


async def test_an_unreachable_gateway_exits_1(tmp_path: Path, capsys: Any) -> None:
    from cortex_kit.embedded import free_port

    path = write(tmp_path, "plan.yaml", plan(agents(1), batch=1))
    code, _, err = await cortex(f"http://127.0.0.1:{free_port()}", ["-f", path], capsys)
    assert code == 1
    assert "cannot reach the gateway" in err
