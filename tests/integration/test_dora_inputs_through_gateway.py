"""Issue 11 ("DORA inputs as real tools send them") through the gateway: signed GitHub, GitLab
and PagerDuty deliveries shaped as the providers document them, and REST events, into the
collector on real NATS and PostgreSQL; each test checks the stored facts (`GET /v1/events`)
and the DORA answer (`GET /v1/metrics/dora`). Items are numbered as in the issue."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from .conftest import Cluster
from .test_dora_api import eventually
from .webhook_payloads import (
    AGENCY,
    accepted,
    ago,
    deliver_github,
    deliver_gitlab,
    deliver_pagerduty,
    dora,
    github_deployment_status,
    github_pull_request_merged,
    github_push,
    github_repo,
    gitlab_deployment,
    gitlab_merge_request,
    gitlab_push,
    iso,
    pagerduty,
    set_secrets,
    sha,
    stored,
    stored_all,
    stored_versions,
)

HOUR = 3600.0


# --- 1: a deployment's sha is its head commit ------------------------------------------------


async def test_1_github_deployment_sha_is_the_head_and_ends_the_commit_set(
    cluster: Cluster,
) -> None:
    # Pushes a (6 h ago), b (5 h), c (4.5 h); D1 deploys head b (finished 4 h ago) → {a, b};
    # D2 deploys head c (finished 1 h ago) → {c}. Without heads, D1 would ship c too.
    a, b, c = sha(0xA1), sha(0xB1), sha(0xC1)
    await set_secrets(cluster, "github")
    async with cluster.client(key=None) as hook:
        accepted(await deliver_github(hook, "push", github_push([(a, ago(6)), (b, ago(5))])))
        accepted(await deliver_github(hook, "push", github_push([(c, ago(4.5))])))
        d1 = github_deployment_status(701, b, created=ago(4.2), finished=ago(4))
        d2 = github_deployment_status(702, c, created=ago(1.2), finished=ago(1))
        accepted(await deliver_github(hook, "deployment_status", d1))
        accepted(await deliver_github(hook, "deployment_status", d2))

    fact = await stored_versions(cluster, "deployment", "github-701", 1)
    assert fact["facts"]["head_commit"] == b
    r = await eventually(
        lambda: dora(cluster, service="hello-world"), lambda r: r["lead_time"]["n"] == 3
    )
    lead = r["lead_time"]
    assert lead["n"] == 3  # a, b by D1; c by D2
    # a: 2 h, b: 1 h (to D1), c: 3.5 h (to D2); with D1 taking c too, c would be 0.5 h
    assert (lead["p50_s"], lead["p90_s"]) == (2 * HOUR, 3.5 * HOUR)
    assert lead["mean_s"] == (2 + 1 + 3.5) * HOUR / 3


async def test_1_gitlab_deployment_sha_is_the_head_and_ends_the_commit_set(
    cluster: Cluster,
) -> None:
    a, b, c = sha(0xA2), sha(0xB2), sha(0xC2)
    await set_secrets(cluster, "gitlab")
    async with cluster.client(key=None) as hook:
        push = gitlab_push([(a, ago(6)), (b, ago(5)), (c, ago(4.5))])
        accepted(await deliver_gitlab(hook, push))
        accepted(await deliver_gitlab(hook, gitlab_deployment(31, "success", ago(4), b)))
        accepted(await deliver_gitlab(hook, gitlab_deployment(32, "success", ago(1), c)))

    fact = await stored_versions(cluster, "deployment", "gitlab-31", 1)
    assert fact["facts"]["head_commit"] == b
    r = await eventually(
        lambda: dora(cluster, service="diaspora"), lambda r: r["lead_time"]["n"] == 3
    )
    assert r["lead_time"]["n"] == 3
    assert (r["lead_time"]["p50_s"], r["lead_time"]["p90_s"]) == (2 * HOUR, 3.5 * HOUR)


# --- 2: one service identity -----------------------------------------------------------------


async def test_2_a_github_repo_and_a_pagerduty_service_are_one_service(cluster: Cluster) -> None:
    await set_secrets(cluster, "github", "pagerduty")
    head = sha(0x2A)
    async with cluster.client(key=None) as hook:
        accepted(await deliver_github(hook, "push", github_push([(head, ago(5))])))
        deployed = github_deployment_status(201, head, created=ago(4.2), finished=ago(4))
        answer = accepted(await deliver_github(hook, "deployment_status", deployed))
        assert answer["events"][0]["service"] == "hello-world"
        trigger = pagerduty("incident.triggered", "PHELLO", opened=ago(3), occurred=ago(3))
        resolve = pagerduty("incident.resolved", "PHELLO", opened=ago(3), occurred=ago(1))
        for payload in (trigger, resolve):
            assert accepted(await deliver_pagerduty(hook, payload))["events"][0]["service"] == (
                "hello-world"
            )

    incident = await stored_versions(cluster, "incident", "pagerduty-PHELLO", 2)
    deployment = await stored_versions(cluster, "deployment", "github-201", 1)
    assert incident["service"] == deployment["service"] == "hello-world"
    assert deployment["facts"]["service_name"] == "Hello-World"  # as sent, for display
    r = await eventually(
        lambda: dora(cluster, service="HELLO-world"),
        lambda r: r["recovery_time"]["n"] == 1,
    )
    assert r["filter"]["service"] == "hello-world"
    cfr = r["change_failure_rate"]
    assert (cfr["n"], cfr["failed"], cfr["unlinked_incidents"]) == (1, 1, 0)
    assert r["recovery_time"]["p50_s"] == 2 * HOUR  # opened 3 h ago, resolved 1 h ago
    assert r["lead_time"]["n"] == 1


# --- 4: stacked branches ---------------------------------------------------------------------


async def test_4_a_merge_into_a_stacked_branch_is_not_a_change_into_the_default_one_is(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "github", "gitlab")
    stacked_gh, main_gh, stacked_gl, main_gl = sha(0x41), sha(0x42), sha(0x43), sha(0x44)
    times = {"opened": ago(8), "merged": ago(6)}
    async with cluster.client(key=None) as hook:
        pr_stacked = github_pull_request_merged(3, "feature-stack", stacked_gh, **times)
        pr_main = github_pull_request_merged(4, "master", main_gh, **times)
        mr_stacked = gitlab_merge_request(5, "feature-stack", stacked_gl, **times)
        mr_main = gitlab_merge_request(6, "master", main_gl, **times)
        ignored = [
            accepted(await deliver_github(hook, "pull_request", pr_stacked)),
            accepted(await deliver_gitlab(hook, mr_stacked)),
        ]
        taken = [
            accepted(await deliver_github(hook, "pull_request", pr_main)),
            accepted(await deliver_gitlab(hook, mr_main)),
        ]
        # The default-branch merges are shipped: their lead time is in the answer.
        gh = github_deployment_status(401, main_gh, created=ago(5), finished=ago(4))
        accepted(await deliver_github(hook, "deployment_status", gh))
        accepted(await deliver_gitlab(hook, gitlab_deployment(41, "success", ago(3), main_gl)))
    for answer in ignored:
        assert (answer["ignored"], answer["accepted"]) == (True, 0)
        assert "'feature-stack'" in answer["reason"]
    assert [(a["ignored"], a["accepted"]) for a in taken] == [(False, 1), (False, 1)]

    changes = await eventually(
        lambda: stored_all(cluster, "change"), lambda s: {main_gh, main_gl} <= set(s)
    )
    assert set(changes) == {main_gh, main_gl}
    assert (changes[main_gh]["facts"]["pr_id"], changes[main_gl]["facts"]["pr_id"]) == ("4", "6")
    gh_report = await eventually(
        lambda: dora(cluster, service="hello-world"), lambda r: r["lead_time"]["n"] == 1
    )
    gl_report = await eventually(
        lambda: dora(cluster, service="diaspora"), lambda r: r["lead_time"]["n"] == 1
    )
    assert gh_report["lead_time"]["p50_s"] == 2 * HOUR  # merged 6 h ago, deployed 4 h ago
    assert gl_report["lead_time"]["p50_s"] == 3 * HOUR


# --- 5: names real tools produce -------------------------------------------------------------


async def test_5_names_real_tools_produce_are_accepted_and_a_refusal_says_field_and_fix(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "github", "pagerduty")
    dotgithub = github_repo(name=".github", owner="acme")
    head = sha(0x51)
    async with cluster.client(key=None) as hook:
        accepted(await deliver_github(hook, "push", github_push([(head, ago(5))], dotgithub)))
        deployed = github_deployment_status(
            501, head, created=ago(4.5), finished=ago(4), environment="生产", repo=dotgithub
        )
        answer = accepted(await deliver_github(hook, "deployment_status", deployed))
        assert (answer["events"][0]["service"], answer["events"][0]["environment"]) == (
            ".github",
            "生产",
        )
        incident = pagerduty("incident.triggered", "PPAY", opened=ago(2), occurred=ago(2))
        incident["event"]["data"]["service"]["summary"] = "支付"
        assert accepted(await deliver_pagerduty(hook, incident))["events"][0]["service"] == "支付"
    rest = {
        "type": "deployment",
        "id": "pay-1",
        "service": "支付",
        "environment": "生产",
        "status": "succeeded",
        "started_at": iso(ago(3.5)),
        "finished_at": iso(ago(3)),
    }
    bad = {**rest, "id": "pay-2", "service": "pay\x07ment"}
    async with cluster.client() as admin:
        ok = await admin.post("/v1/events", json={"agency": AGENCY, "events": [rest]})
        refused = await admin.post("/v1/events", json={"agency": AGENCY, "events": [rest, bad]})
    assert ok.status_code == 202, ok.text
    assert refused.status_code == 422, refused.text
    # At its field, the fix first (docs/metrics.md "Names").
    (error,) = refused.json()["errors"]
    assert error["loc"][-4:] == ["events", "1", "deployment", "service"], error
    assert error["message"].startswith(
        "remove or replace the control character U+0007 at position 3"
    ), error
    assert refused.json()["detail"].startswith(
        "The request does not match the schema: events[1].deployment.service: remove or replace"
    ), refused.json()["detail"]
    # A webhook refusal likewise: the field, then the fix.
    async with cluster.client(key=None) as hook:
        nameless = github_deployment_status(
            502, head, created=ago(4.5), finished=ago(4), environment="***", repo=dotgithub
        )
        payload_refused = await deliver_github(hook, "deployment_status", nameless)
    assert payload_refused.status_code == 422, payload_refused.text
    assert payload_refused.json()["code"] == "webhook_payload_invalid"
    assert re.search(
        r"cannot be used: environment: '\*\*\*' has no letter or digit to name it by: "
        r"add \?environment= to the webhook URL",
        payload_refused.json()["detail"],
    ), payload_refused.json()

    r = await eventually(
        lambda: dora(cluster, service=".github", environment="生产"),
        lambda r: r["lead_time"]["n"] == 1,
    )
    assert r["deployment_frequency"]["count"] == 1
    assert r["lead_time"]["p50_s"] == 1 * HOUR
    pay = await eventually(
        lambda: dora(cluster, service="支付", environment="生产"),
        lambda r: r["deployment_frequency"]["count"] == 1,
    )
    assert pay["deployment_frequency"]["count"] == 1  # pay-1 only: pay-2 was refused
    pay_prod = await eventually(
        lambda: dora(cluster, service="支付"),
        lambda r: r["change_failure_rate"]["incidents"] == 1,
    )
    assert pay_prod["change_failure_rate"]["incidents"] == 1  # PagerDuty's, in production
    assert await stored(cluster, "deployment", "pay-2") is None


# --- 6: GitLab's 20 listed commits -----------------------------------------------------------


def _truncated_total(metrics: str) -> float:
    found = re.search(
        r'^cortex_webhook_commits_truncated_total\{provider="gitlab"\} (\S+)$', metrics, re.M
    )
    return float(found.group(1)) if found else 0.0


async def test_6_a_gitlab_push_of_25_commits_listing_20_reports_the_truncation(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "gitlab")
    commits = [(sha(0x600 + n), ago(10 - n * 0.1)) for n in range(20)]
    async with cluster.client(key=None) as hook:
        before = _truncated_total((await hook.get("/metrics")).text)
        answer = accepted(await deliver_gitlab(hook, gitlab_push(commits, total=25)))
        after = _truncated_total((await hook.get("/metrics")).text)
        accepted(
            await deliver_gitlab(hook, gitlab_deployment(61, "success", ago(1), commits[-1][0]))
        )
    assert (answer["accepted"], answer["truncated_commits"]) == (20, 5)
    assert any("20 of the push's 25 commits" in w for w in answer["warnings"]), answer
    assert after - before == 5

    changes = await eventually(lambda: stored_all(cluster, "change"), lambda s: len(s) == 20)
    assert set(changes) == {c for c, _ in commits}
    r = await eventually(
        lambda: dora(cluster, service="diaspora"), lambda r: r["lead_time"]["n"] == 20
    )
    assert r["lead_time"]["n"] == 20  # the listed commits only


# --- 7: GitLab running then success ----------------------------------------------------------


async def test_7_gitlab_running_then_success_keeps_the_earliest_start(cluster: Cluster) -> None:
    await set_secrets(cluster, "gitlab")
    head = sha(0x71)
    async with cluster.client(key=None) as hook:
        for status, at in (("running", ago(3)), ("success", ago(2))):
            accepted(await deliver_gitlab(hook, gitlab_deployment(71, status, at, head)))
        # The other order: success delivered before running.
        for status, at in (("success", ago(2)), ("running", ago(3))):
            accepted(await deliver_gitlab(hook, gitlab_deployment(72, status, at, head)))
    for deployment_id in ("gitlab-71", "gitlab-72"):
        fact = (await stored_versions(cluster, "deployment", deployment_id, 2))["facts"]
        assert fact["status"] == "succeeded", deployment_id
        assert fact["started_at"] == iso(ago(3)), deployment_id
        assert fact["finished_at"] == iso(ago(2)), deployment_id


# --- 8: redeliveries -------------------------------------------------------------------------


async def test_8_redeliveries_of_each_provider_add_no_version(cluster: Cluster) -> None:
    await set_secrets(cluster)
    head = sha(0x81)
    gh_id, gl_id = "72d3162e-cc78-11e3-81ab-4c9367dc0958", "1de4d2a7-c1b2-4ad4-9b0f-1f6c5b1e2f3d"
    gh = github_deployment_status(801, head, created=ago(3), finished=ago(2))
    gl = gitlab_deployment(81, "success", ago(2), head)
    pd = pagerduty("incident.triggered", "PREDO", opened=ago(1), occurred=ago(1), event_id="EV1")

    async def send_all(hook: Any) -> list[dict[str, Any]]:
        return [
            accepted(await deliver_github(hook, "deployment_status", gh, delivery=gh_id)),
            accepted(await deliver_gitlab(hook, gl, delivery=gl_id)),
            accepted(await deliver_pagerduty(hook, pd)),
        ]

    facts = [
        ("deployment", "github-801"),
        ("deployment", "gitlab-81"),
        ("incident", "pagerduty-PREDO"),
    ]
    async with cluster.client(key=None) as hook:
        first = await send_all(hook)
        again_at_once = await send_all(hook)  # still in the outbox, or just published
        assert [a["duplicate"] for a in first] == [False, False, False]
        assert [a["delivery_id"] for a in first] == [gh_id, gl_id, "EV1"]
        for kind, event_id in facts:
            await stored_versions(cluster, kind, event_id, 1)
        later = await send_all(hook)  # long published: the collector drops them
        # A new delivery of each, after the redeliveries: once it is stored, any redelivery
        # that was going to be stored would have been too (one outbox, one stream, in order).
        gh_new = github_deployment_status(
            801, head, created=ago(3), finished=ago(2), state="failure"
        )
        gl_new = gitlab_deployment(81, "failed", ago(2), head)
        pd_new = pagerduty("incident.resolved", "PREDO", opened=ago(1), occurred=ago(0.5))
        accepted(await deliver_github(hook, "deployment_status", gh_new))
        accepted(await deliver_gitlab(hook, gl_new))
        accepted(await deliver_pagerduty(hook, pd_new))
    for answer in again_at_once + later:  # 202 either way; a duplicate when still staged
        assert answer["accepted"] == (0 if answer["duplicate"] else 1), answer
    for kind, event_id in facts:
        fact = await stored_versions(cluster, kind, event_id, 2)
        await asyncio.sleep(0.3)
        fact = await stored(cluster, kind, event_id) or fact
        assert fact["versions"] == 2, (event_id, fact)  # the first delivery once, and the new one


# --- 9: PagerDuty reopened and priority_updated ---------------------------------------------


async def test_9_reopened_reopens_and_priority_updated_raises_the_severity(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "github", "pagerduty")
    head = sha(0x91)
    opened = ago(3)

    def report(event_type: str, at: float, priority: str) -> dict[str, Any]:
        return pagerduty(event_type, "PREOPEN", opened=opened, occurred=ago(at), priority=priority)

    async with cluster.client(key=None) as hook:
        deployed = github_deployment_status(901, head, created=ago(4.5), finished=ago(4))
        accepted(await deliver_github(hook, "deployment_status", deployed))
        # Out of order, as deliveries may come: the raised priority before the trigger.
        for payload in (
            report("incident.priority_updated", 2.5, "P1"),
            report("incident.triggered", 3, "P3"),
            report("incident.resolved", 2, "P1"),
            report("incident.reopened", 1.5, "P1"),
        ):
            accepted(await deliver_pagerduty(hook, payload))

    reopened = await stored_versions(cluster, "incident", "pagerduty-PREOPEN", 4)
    assert reopened["facts"]["severity"] == "p1"
    assert reopened["facts"].get("resolved_at") is None
    assert reopened["facts"]["reopened_at"] == iso(ago(1.5))
    r = await eventually(
        lambda: dora(cluster, service="hello-world"),
        lambda r: r["change_failure_rate"]["failed"] == 1,
    )
    assert (r["recovery_time"]["n"], r["recovery_time"]["unrecovered"]) == (0, 1)

    async with cluster.client(key=None) as hook:
        accepted(await deliver_pagerduty(hook, report("incident.resolved", 1, "P1")))
    final = await stored_versions(cluster, "incident", "pagerduty-PREOPEN", 5)
    assert final["facts"]["resolved_at"] == iso(ago(1))
    assert final["facts"]["severity"] == "p1"
    r = await eventually(
        lambda: dora(cluster, service="hello-world"), lambda r: r["recovery_time"]["n"] == 1
    )
    assert r["recovery_time"]["unrecovered"] == 0
    assert r["recovery_time"]["p50_s"] == 2 * HOUR  # opened 3 h ago, finally resolved 1 h ago


# --- 10: GHES and github.com ids -------------------------------------------------------------


async def test_10_a_ghes_and_a_github_com_deployment_with_one_id_are_two_facts(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "github")
    ghes = github_repo(host="ghe.acme.example")
    async with cluster.client(key=None) as hook:
        dotcom = github_deployment_status(1001, sha(0x101), created=ago(3), finished=ago(2.5))
        enterprise = github_deployment_status(
            1001, sha(0x102), created=ago(2), finished=ago(1.5), state="failure", repo=ghes
        )
        ids = [
            accepted(await deliver_github(hook, "deployment_status", p))["events"][0]["id"]
            for p in (dotcom, enterprise)
        ]
    assert ids == ["github-1001", "github-ghe.acme.example-1001"]
    deployments = await eventually(lambda: stored_all(cluster, "deployment"), lambda s: len(s) == 2)
    assert set(deployments) == set(ids)
    assert deployments["github-1001"]["facts"]["status"] == "succeeded"
    assert deployments["github-ghe.acme.example-1001"]["facts"]["status"] == "failed"
    for deployment_id in ids:
        assert (await stored(cluster, "deployment", deployment_id) or {})["versions"] == 1
    r = await eventually(
        lambda: dora(cluster, service="hello-world"), lambda r: r["change_failure_rate"]["n"] == 2
    )
    assert (r["change_failure_rate"]["n"], r["change_failure_rate"]["failed"]) == (2, 1)


# --- 11: a deployment payload as a JSON string -----------------------------------------------


async def test_11_a_json_string_payload_is_parsed_and_an_unparseable_one_is_reported(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "github")
    head = sha(0x111)
    rollback = json.dumps({"labels": ["hotfix"], "rollback_of": "github-1101"})
    async with cluster.client(key=None) as hook:
        first = github_deployment_status(1101, head, created=ago(5), finished=ago(4.5))
        back = github_deployment_status(
            1102, head, created=ago(4), finished=ago(3.5), payload=rollback
        )
        garbled = github_deployment_status(
            1103, head, created=ago(2), finished=ago(1.5), payload="labels=hotfix"
        )
        answers = [
            accepted(await deliver_github(hook, "deployment_status", p))
            for p in (first, back, garbled)
        ]
    assert answers[1]["warnings"] == []
    (warning,) = answers[2]["warnings"]
    assert "not JSON" in warning
    assert "labels" in warning

    facts = {
        deployment_id: (await stored_versions(cluster, "deployment", deployment_id, 1))["facts"]
        for deployment_id in ("github-1101", "github-1102", "github-1103")
    }
    assert facts["github-1102"]["labels"] == ["hotfix"]
    assert facts["github-1102"]["rollback_of"] == "github-1101"
    assert not facts["github-1103"].get("labels")
    r = await eventually(
        lambda: dora(cluster, service="hello-world"),
        lambda r: r["change_failure_rate"]["n"] == 3,
    )
    assert r["change_failure_rate"]["failed"] == 1  # 1101, rolled back by 1102
    assert r["rework_rate"]["unplanned"] == 1  # 1102 (hotfix, rollback); 1103's labels unread


# --- 12: a cause that finished after the incident, and config-only deployments -------------


async def test_12_an_incident_naming_a_later_deployment_is_an_anomaly_not_a_failure(
    cluster: Cluster,
) -> None:
    await set_secrets(cluster, "github")
    head = sha(0x121)
    incident = {
        "type": "incident",
        "id": "I-early",
        "service": "hello-world",
        "environment": "production",
        "opened_at": iso(ago(3)),
        "resolved_at": iso(ago(2.5)),
        "caused_by_deployment": "github-1202",
    }
    async with cluster.client() as admin:
        # The deployment is not known yet: accepted (ingest never waits), counted as anomaly.
        early = await admin.post("/v1/events", json={"agency": AGENCY, "events": [incident]})
    assert early.status_code == 202, early.text
    async with cluster.client(key=None) as hook:
        # 1201 finished before the incident: latest_before would blame it, were the named
        # cause not taken as said. 1202, the named one, finished after the incident opened.
        before = github_deployment_status(1201, head, created=ago(5), finished=ago(4))
        named = github_deployment_status(1202, head, created=ago(2.2), finished=ago(2))
        accepted(await deliver_github(hook, "deployment_status", before))
        accepted(await deliver_github(hook, "deployment_status", named))
    await stored_versions(cluster, "deployment", "github-1202", 1)
    await stored_versions(cluster, "incident", "I-early", 1)
    r = await eventually(
        lambda: dora(cluster, service="hello-world"),
        lambda r: r["change_failure_rate"]["n"] == 2 and r["change_failure_rate"]["incidents"] == 1,
    )
    cfr = r["change_failure_rate"]
    assert cfr["anomalies"]["incident_before_deployment"] == 1
    assert (cfr["failed"], cfr["unlinked_incidents"]) == (0, 1)

    later = {**incident, "id": "I-later"}
    async with cluster.client() as admin:
        refused = await admin.post("/v1/events", json={"agency": AGENCY, "events": [later]})
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "incident_before_deployment"
    assert problem["detail"].startswith("events[0].caused_by_deployment: ")
    assert problem["deployment_id"] == "github-1202"
    assert problem["remediation"]
    assert await stored(cluster, "incident", "I-later") is None


async def test_12_a_deployment_shipping_no_commits_has_no_lead_time(cluster: Cluster) -> None:
    await set_secrets(cluster, "github")
    a = sha(0x12A)
    async with cluster.client(key=None) as hook:
        accepted(await deliver_github(hook, "push", github_push([(a, ago(6))])))
        config_only = github_deployment_status(
            1211, a, created=ago(5), finished=ago(4), payload={"ships_no_commits": True}
        )
        accepted(await deliver_github(hook, "deployment_status", config_only))
        real = github_deployment_status(1212, a, created=ago(1.5), finished=ago(1))
        accepted(await deliver_github(hook, "deployment_status", real))
    fact = await stored_versions(cluster, "deployment", "github-1211", 1)
    assert fact["facts"]["ships_no_commits"] is True
    r = await eventually(
        lambda: dora(cluster, service="hello-world"),
        lambda r: r["deployment_frequency"]["count"] == 2 and r["lead_time"]["n"] >= 1,
    )
    assert r["lead_time"]["n"] == 1
    assert r["lead_time"]["p50_s"] == 5 * HOUR  # shipped by 1212 (1 h ago), not 1211 (4 h)
