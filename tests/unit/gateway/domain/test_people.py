"""A verified OIDC token's claims → the caller (gateway.domain.people)."""

from __future__ import annotations

import pytest

from gateway.domain.keys import Role
from gateway.domain.people import (
    ClaimNames,
    ClaimsInsufficient,
    looks_like_jwt,
    person_id,
    principal_of,
)

NAMES = ClaimNames(role_map={"sre": Role.DEPLOYER, "security": Role.APPROVER})


def test_the_role_and_agency_claims_name_the_principal() -> None:
    claims = {
        "iss": "https://idp",
        "sub": "alice",
        "cortex_role": "viewer",
        "cortex_agency": "acme",
    }

    person = principal_of(claims, NAMES)

    assert (person.key_id, person.role, person.agency) == ("oidc:alice", Role.VIEWER, "acme")


def test_without_a_role_claim_the_strongest_mapped_group_wins() -> None:
    claims = {"sub": "bob", "groups": ["staff", "security", "sre"], "cortex_agency": "acme"}

    assert principal_of(claims, NAMES).role is Role.DEPLOYER


def test_approval_roles_and_team_come_only_as_valid_words_and_only_to_deciders() -> None:
    base = {"sub": "c", "cortex_agency": "acme", "cortex_team": "payments"}
    approver = {**base, "cortex_role": "approver", "cortex_approval_roles": ["data-owner", "No!"]}
    viewer = {**base, "cortex_role": "viewer", "cortex_approval_roles": ["data-owner"]}

    assert principal_of(approver, NAMES).approval_roles == ("data-owner",)
    assert principal_of(approver, NAMES).team == "payments"
    assert principal_of(viewer, NAMES).approval_roles == ()


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "d", "cortex_agency": "acme"},  # no role, no mapped group
        {"sub": "d", "cortex_role": "root", "cortex_agency": "acme"},  # not a role
        {"sub": "d", "cortex_role": "viewer"},  # no agency
        {"sub": "d", "cortex_role": "deployer", "cortex_agency": "*"},  # only admins span all
    ],
)
def test_claims_that_do_not_say_what_the_person_may_do_are_refused(
    claims: dict[str, object],
) -> None:
    with pytest.raises(ClaimsInsufficient):
        principal_of(claims, NAMES)


def test_a_default_agency_serves_tokens_that_name_none() -> None:
    names = ClaimNames(default_agency="acme")

    assert principal_of({"sub": "e", "cortex_role": "viewer"}, names).agency == "acme"


def test_a_subject_an_id_may_not_hold_is_hashed_with_its_issuer() -> None:
    odd = person_id("https://idp", "Jane Doe\n")

    assert odd.startswith("oidc:sha256-")
    assert odd != person_id("https://other-idp", "Jane Doe\n")
    assert person_id("https://idp", "jane@example.com") == "oidc:jane@example.com"


def test_only_compact_jws_tokens_look_like_jwts() -> None:
    assert looks_like_jwt("eyJhbGciOi.eyJzdWIi.c2ln")
    assert not looks_like_jwt("cvc_0123456789ab_" + "A" * 43)
