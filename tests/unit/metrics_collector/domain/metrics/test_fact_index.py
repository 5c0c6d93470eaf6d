"""One slice rebuilt alone, and slices rebuilt as facts arrive, equal one build of everything."""

from __future__ import annotations

import random
from collections import defaultdict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metrics_collector.domain.facts.model import Fact
from metrics_collector.domain.metrics.calculators import (
    Change,
    Deployment,
    DoraConfig,
    Incident,
    LinkingConfig,
    LinkStrategy,
    SliceSnapshot,
    build_snapshot,
    merge_reports,
)
from metrics_collector.domain.metrics.commits import SliceKey
from metrics_collector.domain.metrics.fact_index import FactIndex
from tests.unit.metrics_collector.builders import change, deploy, incident

SERVICES = ("checkout", "billing")
ENVIRONMENTS = ("production", "staging")
STATUSES = ("succeeded", "succeeded", "failed", "in_progress", "rolled_back", "cancelled")
CONFIGS = [DoraConfig(linking=LinkingConfig(strategy=s)) for s in LinkStrategy] + [
    DoraConfig(linking=LinkingConfig(strategy=LinkStrategy.WINDOW, explicit_first=False))
]
hours = st.integers(0, 40).map(lambda q: q / 2)
relaxed = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=150)
Stored = list[tuple[str, str, Fact]]


def _maybe(values: list[str]) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(values) if values else st.none()


@st.composite
def histories(draw: st.DrawFn) -> Stored:
    """Stored facts (one per kind and id) spread over slices, naming each other across them."""
    shas = [f"c{k}" for k in range(draw(st.integers(0, 10)))]
    deployment_ids = [f"d{k}" for k in range(draw(st.integers(0, 12)))]
    incident_ids = [f"i{k}" for k in range(draw(st.integers(0, 6)))]
    stored: Stored = [
        ("change", f"ev-{sha}", change(sha, draw(hours), service=draw(st.sampled_from(SERVICES))))
        for sha in shas
    ]
    for dep_id in deployment_ids:
        start = draw(hours)
        status = draw(st.sampled_from(STATUSES))
        finish = None if status == "in_progress" else start + draw(st.integers(0, 8)) / 4
        fact = deploy(
            dep_id,
            start,
            finish,
            status,
            shas=draw(st.lists(st.sampled_from(shas), max_size=3)) if shas else (),
            labels=draw(st.lists(st.sampled_from(["hotfix", "config"]), max_size=1)),
            service=draw(st.sampled_from(SERVICES)),
            env=draw(st.sampled_from(ENVIRONMENTS)),
            fixes=draw(_maybe(incident_ids)),
            rollback_of=draw(_maybe(deployment_ids)),
        )
        stored.append(("deployment", dep_id, fact))
    for inc_id in incident_ids:
        opened = draw(hours)
        resolved = draw(st.none() | hours)
        fact = incident(
            inc_id,
            opened,
            None if resolved is None else opened + resolved / 4,
            service=draw(st.sampled_from(SERVICES)),
            env=draw(st.sampled_from(("production", "staging", ""))),
            caused_by=draw(_maybe([*deployment_ids, "ghost"])),
            caused_by_commit=draw(_maybe(shas)),
        )
        stored.append(("incident", inc_id, fact))
    return stored


def _full(stored: Stored, config: DoraConfig) -> dict[SliceKey, SliceSnapshot]:
    changes = [f for _, _, f in stored if isinstance(f, Change)]
    deployments = [f for _, _, f in stored if isinstance(f, Deployment)]
    incidents = [f for _, _, f in stored if isinstance(f, Incident)]
    return dict(build_snapshot(changes, deployments, incidents, config).slices)


@relaxed
@given(histories(), st.sampled_from(CONFIGS))
def test_a_slice_built_alone_equals_the_same_slice_of_a_full_build(
    stored: Stored, config: DoraConfig
) -> None:
    index = FactIndex(config)
    index.put_all(stored)
    full = _full(stored, config)
    assert index.slices() == set(full)
    for key, expected in full.items():
        assert index.build(key) == expected, key


@relaxed
@given(histories(), st.sampled_from(CONFIGS), st.randoms(use_true_random=False))
def test_rebuilding_only_touched_slices_as_facts_arrive_converges_to_the_full_build(
    stored: Stored, config: DoraConfig, rng: random.Random
) -> None:
    arrivals = list(stored)
    rng.shuffle(arrivals)
    index = FactIndex(config)
    snapshots: dict[SliceKey, SliceSnapshot] = {}
    for kind, event_id, fact in arrivals:
        for key in index.put(kind, event_id, fact):
            built = index.build(key)
            if built is None:
                snapshots.pop(key, None)
            else:
                snapshots[key] = built
    assert snapshots == _full(stored, config)


def test_a_later_version_replaces_the_earlier_one_and_touches_both_slices() -> None:
    index = FactIndex()
    assert index.put("deployment", "d1", deploy("d1", 0, env="staging")) == {
        ("checkout", "staging")
    }
    moved = deploy("d1", 0, 1, "failed", env="production")
    assert index.put("deployment", "d1", moved) == {
        ("checkout", "staging"),
        ("checkout", "production"),
    }
    assert index.slices() == {("checkout", "production")}
    assert index.get("deployment", "d1") == moved
    assert index.put("deployment", "d1", moved) == set()


def test_an_incident_naming_a_deployment_elsewhere_touches_that_deployments_slice() -> None:
    index = FactIndex()
    index.put("deployment", "p1", deploy("p1", 0, service="payments"))
    touched = index.put("incident", "i1", incident("i1", 1, caused_by="p1"))
    assert touched == {("checkout", "production"), ("payments", "production")}
    built = index.build(("payments", "production"))
    assert built is not None
    assert built.outcomes[0].failed


def test_a_change_touches_every_slice_of_its_service() -> None:
    index = FactIndex()
    index.put("deployment", "d1", deploy("d1", 5, env="staging"))
    index.put("deployment", "d2", deploy("d2", 6, env="production"))
    index.put("deployment", "b1", deploy("b1", 6, service="billing"))
    assert index.put("change", "ev-a", change("a", 1)) == {
        ("checkout", "staging"),
        ("checkout", "production"),
    }


def test_versions_merged_before_indexing_give_the_merged_fact() -> None:
    versions = [deploy("d1", 0, None, "in_progress", shas=["a"]), deploy("d1", 0, 1)]
    index = FactIndex()
    index.put("deployment", "d1", merge_reports(versions))
    stored = index.get("deployment", "d1")
    assert isinstance(stored, Deployment)
    assert (stored.status.value, stored.commit_shas) == ("succeeded", ("a",))


def test_slices_are_grouped_by_service_and_environment() -> None:
    index = FactIndex()
    grouped: defaultdict[SliceKey, int] = defaultdict(int)
    for k, (service, env) in enumerate([("a", "x"), ("a", "y"), ("b", "x"), ("a", "x")]):
        index.put("deployment", f"d{k}", deploy(f"d{k}", k, service=service, env=env))
        grouped[(service, env)] += 1
    assert index.slices() == set(grouped)
    assert len(index) == 4


def _arrive(index: FactIndex, facts: list[tuple[str, str, Fact]]) -> dict[SliceKey, SliceSnapshot]:
    snapshots: dict[SliceKey, SliceSnapshot] = {}
    for kind, event_id, fact in facts:
        for key in index.put(kind, event_id, fact):
            if (built := index.build(key)) is not None:
                snapshots[key] = built
    return snapshots


def test_an_incident_naming_a_later_deployment_is_an_anomaly_whatever_the_arrival_order() -> None:
    # I (checkout) opened at 1 h names p1 (payments); p1 was in progress then, finished at 3 h.
    facts: list[tuple[str, str, Fact]] = [
        ("incident", "i1", incident("i1", 1, caused_by="p1")),
        ("deployment", "p1", deploy("p1", 0, status="in_progress", service="payments")),
        ("deployment", "p1", deploy("p1", 0, 3, service="payments")),
    ]
    for order in (facts, facts[1:] + facts[:1]):
        snapshots = _arrive(FactIndex(), order)
        payments = snapshots[("payments", "production")]
        assert [o.failed for o in payments.outcomes] == [False]
        checkout = snapshots[("checkout", "production")]
        assert (checkout.incident_linked, checkout.incident_before_deployment) == (
            (False,),
            (True,),
        )
