"""`cortex approvals` and `CortexClient.wait_for_approval` through the real gateway and
approval workflow (the CLI and the SDK are synchronous: they run off the cluster's loop)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from cortex_sdk.client import ApprovalOutcome, CortexClient

from .conftest import Cluster
from .test_approvals_gateway import ask, create_key


def _cortex(args: list[str], capsys: Any) -> tuple[int, str, str]:
    from cortex_sdk.cli import main

    try:
        main(args)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


async def cortex(cluster: Cluster, key: str, args: list[str], capsys: Any) -> tuple[int, str, str]:
    connection = ["--url", cluster.gateway_url, "--api-key", key]
    return await asyncio.to_thread(_cortex, [*args, *connection], capsys)


async def test_approve_several_show_and_list_through_the_gateway(
    cluster: Cluster, capsys: Any
) -> None:
    deployer = await create_key(cluster, "acme", "deployer")
    owner = await create_key(cluster, "acme", "approver", approval_roles=["data-owner"])
    one = await ask(cluster, deployer, subject_id="dep-1", required_roles=["data-owner"])
    two = await ask(cluster, deployer, subject_id="dep-2", quorum=2)
    code, out, _ = await cortex(cluster, owner, ["approvals", "list", "--mine"], capsys)
    assert code == 0
    assert {line.split()[0] for line in out.splitlines()[1:]} == {one["id"], two["id"]}
    code, out, _ = await cortex(
        cluster, owner, ["approvals", "approve", one["id"], two["id"], "--json"], capsys
    )
    assert code == 0
    statuses = [i["result"]["approval"]["status"] for i in json.loads(out)["items"]]
    assert statuses == ["granted", "pending"]
    assert (await cortex(cluster, owner, ["approvals", "show", one["id"]], capsys))[0] == 0
    code, out, _ = await cortex(cluster, owner, ["approvals", "show", two["id"]], capsys)
    assert code == 3  # one of two approvals: still needs approval
    assert "1 so far" in out


async def test_a_refused_decision_exits_2_through_the_gateway(
    cluster: Cluster, capsys: Any
) -> None:
    asked = await ask(cluster, await create_key(cluster, "acme", "deployer"))
    viewer = await create_key(cluster, "acme", "viewer")
    approver = await create_key(cluster, "acme", "approver")
    code, _, err = await cortex(cluster, viewer, ["approvals", "approve", asked["id"]], capsys)
    assert code == 2
    assert "role_forbidden" in err
    code, _, _ = await cortex(
        cluster, approver, ["approvals", "reject", asked["id"], "--comment", "no"], capsys
    )
    assert code == 0
    code, _, err = await cortex(cluster, approver, ["approvals", "approve", asked["id"]], capsys)
    assert code == 2
    assert "already_decided" in err
    assert (await cortex(cluster, viewer, ["approvals", "show", asked["id"]], capsys))[0] == 2


async def test_wait_for_approval_returns_the_grant(cluster: Cluster) -> None:
    asked = await ask(cluster, await create_key(cluster, "acme", "deployer"))
    approver = await create_key(cluster, "acme", "approver")
    client = CortexClient(cluster.gateway_url, approver)
    waiting = asyncio.create_task(asyncio.to_thread(client.wait_for_approval, asked["id"], 60))
    await asyncio.sleep(0.5)
    async with cluster.client(approver) as http:
        decided = await http.post(
            f"/v1/approvals/{asked['id']}/decisions", json={"decision": "approve"}
        )
        assert decided.status_code == 200, decided.text
    result = await asyncio.wait_for(waiting, 60)
    assert (result.outcome, result.granted) == (ApprovalOutcome.GRANTED, True)
    assert [t["decision"] for t in result.approval["trail"]] == ["approve"]


async def test_wait_for_approval_is_pending_at_its_timeout(cluster: Cluster) -> None:
    asked = await ask(cluster, await create_key(cluster, "acme", "deployer"))
    client = CortexClient(cluster.gateway_url, await create_key(cluster, "acme", "viewer"))
    result = await asyncio.to_thread(client.wait_for_approval, asked["id"], 1.0)
    assert (result.outcome, result.timed_out) == (ApprovalOutcome.PENDING, True)
