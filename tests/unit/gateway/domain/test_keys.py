from gateway.domain.keys import (
    ALL_AGENCIES,
    Principal,
    Role,
    generate_token,
    hash_secret,
    parse_token,
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
