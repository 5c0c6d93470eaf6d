"""The Cerbos peer of the gateway suite decides like the policy engine: a real Cerbos server
(``make tools`` installs it under ``.tools``) with the translated policy, asked over its HTTP
API about every request of the suite, answers the engine's three-way decision.

The npm package ships a linux-x64 binary only: elsewhere these tests are skipped, saying so.
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from benchmarks.policy_cases import (
    CASES,
    CEDAR_CONDITIONS,
    POLICY_20,
    compile_text,
    without_budgets,
)
from benchmarks.policy_cedar import translate as cedar_translate
from benchmarks.policy_cerbos import (
    ACT,
    ACT_APPROVED,
    CERBOS_CONDITIONS,
    CerbosPolicy,
    CerbosServer,
    cerbos_server,
    check_body,
    decision_of,
    decisions_of,
    translate,
)
from policy_engine.domain.decisions.compiler import CompiledPolicy
from policy_engine.domain.decisions.evaluator import evaluate

LINUX_X64 = platform.system() == "Linux" and platform.machine() in ("x86_64", "AMD64")
needs_cerbos = pytest.mark.skipif(
    not LINUX_X64,
    reason=f"@cerbos/cerbos-linux-x64 does not run on {platform.system()}-{platform.machine()}",
)

POLICIES = {
    "gateway-suite (no budgets)": without_budgets(POLICY_20),
    "full 20 rules": POLICY_20,
}


def _blocking_rules(compiled: CompiledPolicy) -> int:
    """Settings that can block on their own: the Cedar translation counts the same 20."""
    return cedar_translate(compiled.effective, CEDAR_CONDITIONS).rules


@pytest.fixture(scope="module", params=list(POLICIES), ids=list(POLICIES))
def engines(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[CompiledPolicy, CerbosPolicy, CerbosServer]]:
    if not LINUX_X64:
        pytest.skip(f"no Cerbos binary for {platform.system()}-{platform.machine()}")
    compiled = compile_text(POLICIES[request.param])
    policy = translate(compiled.effective, CERBOS_CONDITIONS)
    root: Path = tmp_path_factory.mktemp("cerbos")
    with cerbos_server(root, policy) as server:
        yield compiled, policy, server


@needs_cerbos
def test_every_request_gets_the_engines_decision_from_a_real_cerbos_server(
    engines: tuple[CompiledPolicy, CerbosPolicy, CerbosServer],
) -> None:
    compiled, policy, server = engines
    assert policy.rules == _blocking_rules(compiled)
    ours = {
        c.name: evaluate(compiled, c.authorize_input(), c.eval_context()).decision for c in CASES
    }
    with httpx.Client(timeout=10.0) as client:
        theirs = {c.name: decisions_of(server.check(client, check_body(c)))[0] for c in CASES}

    assert theirs == ours
    # the mix covers the three outcomes, so no side can be trivially "always allow"
    assert set(ours.values()) == {"allow", "deny", "require_approval"}


@needs_cerbos
def test_a_principal_of_another_agency_is_denied_what_its_own_may_do(
    engines: tuple[CompiledPolicy, CerbosPolicy, CerbosServer],
) -> None:
    _, _, server = engines
    allowed = next(c for c in CASES if c.expect == "allow")
    body = check_body(allowed)
    body["principal"]["attr"]["agency"] = "other"
    with httpx.Client(timeout=10.0) as client:
        assert decisions_of(server.check(client, check_body(allowed))) == ["allow"]
        assert decisions_of(server.check(client, body)) == ["deny"]


def test_the_two_actions_read_as_the_three_way_decision() -> None:
    allow, deny = "EFFECT_ALLOW", "EFFECT_DENY"
    assert decision_of({ACT: allow, ACT_APPROVED: allow}) == "allow"
    assert decision_of({ACT: deny, ACT_APPROVED: allow}) == "require_approval"
    assert decision_of({ACT: deny, ACT_APPROVED: deny}) == "deny"


def test_a_condition_without_a_translation_is_refused() -> None:
    text = POLICY_20.replace("request.rows > 1000", "request.rows > 2000")
    with pytest.raises(ValueError, match="no Cerbos translation"):
        translate(compile_text(text).effective, CERBOS_CONDITIONS)


def test_globs_become_the_cheapest_cel_that_says_the_same() -> None:
    from benchmarks.policy_cerbos import _glob

    assert _glob("x", "db.drop") == 'x == "db.drop"'
    assert _glob("x", "prod.*") == 'x.startsWith("prod.")'
    assert _glob("x", "*-preview") == 'x.endsWith("-preview")'
    assert _glob("x", "*experimental*") == 'x.contains("experimental")'
    assert _glob("x", "*") == "true"
    assert _glob("x", "a*b.c") == r'x.matches(r"^a.*b\.c$")'
    with pytest.raises(ValueError, match="only"):
        _glob("x", "db.[ab]*")
