"""Order independence, duplicates and late events; bounds that hold for any facts."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    DoraConfig,
    DoraReport,
    Incident,
    LinkingConfig,
    LinkStrategy,
    TrendBucket,
)
from tests.unit.metrics_collector.builders import change, deploy, h, incident, report, window

SERVICES = ("checkout", "billing")
ENVIRONMENTS = ("production", "staging")
STATUSES = ("succeeded", "succeeded", "failed", "in_progress", "rolled_back", "cancelled")
CONFIGS = [DoraConfig(linking=LinkingConfig(strategy=s)) for s in LinkStrategy]
hours = st.integers(0, 60).map(lambda q: q / 2)  # a coarse grid over 30 h: many ties

Facts = tuple[list[Change], list[Deployment], list[Incident]]


def _maybe(values: list[str]) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(values) if values else st.none()


def _some(values: list[str], max_size: int) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=max_size) if values else st.just([])


@st.composite
def _changes(draw: st.DrawFn, shas: list[str]) -> list[Change]:
    changes = [change(sha, draw(hours), service=draw(st.sampled_from(SERVICES))) for sha in shas]
    # the same commit reported again under another event id, its time possibly disagreeing
    again = draw(_some(shas, 3))
    return changes + [
        Change(
            f"again-{c.event_id}",
            c.commit_sha,
            c.service,
            draw(st.just(c.committed_at) | hours.map(h)),
        )
        for c in changes
        if c.commit_sha in again
    ]


@st.composite
def _deployments(
    draw: st.DrawFn, ids: list[str], shas: list[str], incident_ids: list[str]
) -> list[Deployment]:
    deployments = []
    for dep_id in ids:
        start = draw(hours)
        # several versions of one deployment: status updates, possibly conflicting
        for status in draw(st.lists(st.sampled_from(STATUSES), min_size=1, max_size=3)):
            finish = None if status == "in_progress" else start + draw(st.integers(0, 8)) / 4
            deployments.append(
                deploy(
                    dep_id,
                    start,
                    finish,
                    status,
                    shas=draw(_some(shas, 4)) if draw(st.booleans()) else (),
                    labels=draw(_some(["hotfix", "config", "UNPLANNED"], 2)),
                    service=draw(st.sampled_from(SERVICES)) if dep_id == "d0" else "checkout",
                    env=draw(st.sampled_from(ENVIRONMENTS)),
                    fixes=draw(_maybe(incident_ids)),
                    rollback_of=draw(_maybe(ids)),
                )
            )
    return deployments


@st.composite
def _incidents(
    draw: st.DrawFn, ids: list[str], deployment_ids: list[str], shas: list[str]
) -> list[Incident]:
    incidents: list[Incident] = []
    for inc_id in ids:
        opened = draw(hours)
        resolutions = draw(st.lists(st.none() | hours, min_size=1, max_size=2))
        incidents.extend(
            incident(
                inc_id,
                opened,
                None if resolved is None else opened + resolved / 4,
                env=draw(st.sampled_from(("production", ""))),
                caused_by=draw(_maybe([*deployment_ids, "ghost"])),
                caused_by_commit=draw(_maybe(shas)),
            )
            for resolved in resolutions
        )
    return incidents


@st.composite
def delivery_facts(draw: st.DrawFn) -> Facts:
    shas = [f"c{k}" for k in range(draw(st.integers(0, 14)))]
    deployment_ids = [f"d{k}" for k in range(draw(st.integers(0, 12)))]
    incident_ids = [f"i{k}" for k in range(draw(st.integers(0, 5)))]
    return (
        draw(_changes(shas)),
        draw(_deployments(deployment_ids, shas, incident_ids)),
        draw(_incidents(incident_ids, deployment_ids, shas)),
    )


def _shuffled(facts: Facts, rng: random.Random) -> Facts:
    changes, deployments, incidents = (list(x) for x in facts)
    for items in (changes, deployments, incidents):
        rng.shuffle(items)
    return changes, deployments, incidents  # type: ignore[return-value]


def _report(facts: Facts, config: DoraConfig, **kw: Any) -> DoraReport:
    return report(*facts, config=config, win=window(-24, 10 * 24), **kw)


# Rebuilding a snapshot per example is cheap, but the machine may be shared: no deadline.
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


@relaxed
@given(delivery_facts(), st.randoms(use_true_random=False), st.sampled_from(CONFIGS))
def test_any_permutation_of_the_same_facts_gives_the_same_metrics(
    facts: Facts, rng: random.Random, config: DoraConfig
) -> None:
    expected = _report(facts, config, bucket=TrendBucket.DAY, environment=None)
    assert (
        _report(_shuffled(facts, rng), config, bucket=TrendBucket.DAY, environment=None) == expected
    )


@relaxed
@given(delivery_facts(), st.sampled_from(CONFIGS))
def test_rates_stay_within_0_and_1_and_counts_add_up(facts: Facts, config: DoraConfig) -> None:
    r = _report(facts, config, bucket=TrendBucket.DAY, environment=None)
    for point in [r, *r["buckets"]]:
        cfr, rework, recovery = (
            point["change_failure_rate"],
            point["rework_rate"],
            point["recovery_time"],
        )
        for rate, k in ((cfr, cfr["failed"]), (rework, rework["unplanned"])):
            assert 0 <= k <= rate["n"]
            if rate["n"]:
                low, high = rate["ci95"]  # type: ignore[misc]
                assert 0.0 <= low <= rate["value"] <= high <= 1.0  # type: ignore[operator]
            else:
                assert rate["value"] is None
        assert recovery["n"] + recovery["unrecovered"] == cfr["failed"]
        assert cfr["unlinked_incidents"] <= cfr["incidents"]
        assert point["deployment_frequency"]["count"] <= cfr["n"]
    for key in ("count",):
        assert (
            sum(b["deployment_frequency"][key] for b in r["buckets"])
            == r["deployment_frequency"][key]
        )
    assert (
        sum(b["change_failure_rate"]["failed"] for b in r["buckets"])
        == r["change_failure_rate"]["failed"]
    )
    assert sum(b["lead_time"]["n"] for b in r["buckets"]) == r["lead_time"]["n"]


@relaxed
@given(delivery_facts())
def test_every_quick_check_score_is_on_the_0_10_scale(facts: Facts) -> None:
    q = _report(facts, CONFIGS[1])["quick_check"]
    scores = [
        q["deployment_frequency"],
        q["lead_time"],
        q["change_failure_rate"],
        q["recovery_time"],
        q["rework_rate"],
        q["overall"],
    ]
    assert all(v is None or 0 <= v <= 10 for v in scores)


def test_late_duplicate_and_out_of_order_delivery_equals_in_order_delivery() -> None:
    in_order = (
        [change("a", 0), change("b", 1)],
        [deploy("D1", 2, 2.5), deploy("D2", 5, 5.5, "failed"), deploy("D3", 8, 8.5)],
        [incident("I1", 3, 4, caused_by="D1")],
    )
    as_arrived = (
        # b arrives after the deployment that shipped it; a arrives twice
        [change("a", 0), change("b", 1), change("a", 0)],
        [
            deploy("D3", 8, 8.5),  # D3 before D1 and D2
            deploy("D1", 2, status="in_progress"),
            deploy("D2", 5, status="in_progress"),
            deploy("D1", 2, 2.5),
            deploy("D2", 5, 5.5, "failed"),
            deploy("D1", 2, status="in_progress"),  # a stale retry of the first report
        ],
        # resolved before opened, and twice
        [incident("I1", 3, 4), incident("I1", 3, caused_by="D1"), incident("I1", 3, 4)],
    )
    assert report(*as_arrived) == report(*in_order)
    assert report(*as_arrived)["change_failure_rate"]["failed"] == 2  # D1 (I1), D2 (status)
