import re

import pytest

from gateway.domain.keys import (
    ALL_AGENCIES,
    ROUTE_SCOPE,
    Principal,
    Role,
    generate_token,
    hash_secret,
    parse_token,
    route_allowed,
    secret_matches,
)


def test_generated_token_parses_back_to_its_id() -> None:
    token, key_id = generate_token()
    parsed = parse_token(token)
    assert parsed is not None
    assert parsed.key_id == key_id
    assert secret_matches(parsed.secret, hash_secret(parsed.secret))


def test_tokens_are_unique() -> None:
    assert len({generate_token()[0] for _ in range(100)}) == 100


def test_malformed_tokens_do_not_parse() -> None:
    for bad in [
        "",
        "cvc_",
        "cvc_XYZ_" + "a" * 43,
        "abc_0123456789ab_" + "a" * 43,
        "cvc_0123456789ab_short",
    ]:
        assert parse_token(bad) is None


def test_wrong_secret_does_not_match() -> None:
    assert not secret_matches("a" * 43, hash_secret("b" * 43))


def test_admin_may_everything_other_roles_only_theirs() -> None:
    admin = Principal("k", Role.ADMIN, ALL_AGENCIES)
    viewer = Principal("k", Role.VIEWER, "acme")
    assert admin.may(frozenset({Role.DEPLOYER}))
    assert not viewer.may(frozenset({Role.DEPLOYER}))
    assert viewer.may(frozenset({Role.VIEWER}))


def test_agency_scope() -> None:
    assert Principal("k", Role.VIEWER, "acme").sees("acme")
    assert not Principal("k", Role.VIEWER, "acme").sees("globex")
    assert Principal("k", Role.ADMIN, ALL_AGENCIES).sees("globex")


# --- route scopes ----------------------------------------------------------------------


def test_a_key_without_route_scopes_may_call_every_route() -> None:
    assert route_allowed(None, "DELETE", "/v1/keys/{key_id}")


@pytest.mark.parametrize(
    ("scope", "method", "template", "allowed"),
    [
        ("POST /v1/authorize", "POST", "/v1/authorize", True),
        ("POST /v1/authorize", "GET", "/v1/authorize", False),
        ("POST /v1/authorize", "POST", "/v1/authorize/extra", False),
        ("* /v1/approvals/{approval_id}", "GET", "/v1/approvals/{approval_id}", True),
        ("GET /v1/agents/*", "GET", "/v1/agents/{agent_id}/desired", True),
        ("GET /v1/agents/*", "GET", "/v1/agents", False),  # below the path, not the path
        ("GET /v1/agents/*", "GET", "/v1/agentsx/{id}", False),
        ("GET /v1/agents/*", "POST", "/v1/agents/{agent_id}/heartbeat", False),
    ],
)
def test_a_scope_matches_its_method_and_template(
    scope: str, method: str, template: str, allowed: bool
) -> None:
    assert route_allowed((scope,), method, template) is allowed


@pytest.mark.parametrize(
    "scope",
    ["POST /v1/authorize", "* /v1/agents/*", "GET /v1/approvals/{approval_id}"],
)
def test_scopes_are_written_method_space_template(scope: str) -> None:
    assert re.match(ROUTE_SCOPE, scope)


@pytest.mark.parametrize(
    "scope", ["post /v1/authorize", "POST /v2/x", "POST  /v1/a", "POST /v1/a?b", "GET /v1/*/x"]
)
def test_malformed_scopes_are_refused(scope: str) -> None:
    assert re.match(ROUTE_SCOPE, scope) is None
