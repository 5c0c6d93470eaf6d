"""Policy texts and wizard bodies past a parse limit become 413/422 problems naming the limit."""

from __future__ import annotations

import json

import pytest

from policy_engine.domain.document.parse_limits import ParseLimits
from policy_engine.errors import PolicyInvalidError
from policy_engine.policies.parsing import (
    BodyInvalid,
    PolicyLimitError,
    parse_json_body,
    parse_text,
)
from tests.unit.policy_engine.builders import EXAMPLES

LAUGHS = "lol: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]\n" for n in range(1, 9)
)
HOSTILE = {
    "deep-yaml-flow": ("[" * 10_000 + "]" * 10_000, "yaml", 422, "policy_too_deep"),
    "deep-yaml-block": ("- " * 5_000 + "x\n", "yaml", 422, "policy_too_deep"),
    "deep-json": ("[" * 50_000 + "]" * 50_000, "json", 422, "policy_too_deep"),
    "billion-laughs": (LAUGHS, "yaml", 422, "policy_too_many_nodes"),
    "many-aliases": ("a: &a x\nb: [" + ", ".join(["*a"] * 101) + "]\n", "yaml", 422,
                     "policy_too_many_aliases"),
    "big-document": ("# " + "x" * 200_000 + "\n", "yaml", 413, "policy_too_large"),
}  # fmt: skip
SETTINGS = {
    "policy_too_deep": "CORTEX_POLICY_ENGINE_POLICY_MAX_DEPTH",
    "policy_too_many_nodes": "CORTEX_POLICY_ENGINE_POLICY_MAX_NODES",
    "policy_too_many_aliases": "CORTEX_POLICY_ENGINE_POLICY_MAX_ALIASES",
    "policy_too_large": "CORTEX_POLICY_ENGINE_POLICY_MAX_BYTES",
}


@pytest.mark.parametrize(("text", "content_type", "status", "code"), HOSTILE.values(), ids=HOSTILE)
async def test_a_text_past_a_limit_is_a_problem_naming_the_limit(
    text: str, content_type: str, status: int, code: str
) -> None:
    with pytest.raises(PolicyLimitError) as caught:
        await parse_text(text, content_type, ParseLimits())  # type: ignore[arg-type]
    problem = caught.value.problem()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["limit"]["setting"] == SETTINGS[code]
    assert SETTINGS[code] in problem["remediation"]
    assert problem["issues"][0]["code"] == code


async def test_the_configured_limits_apply() -> None:
    with pytest.raises(PolicyLimitError) as caught:
        await parse_text("a: [[[[[[[[[[1]]]]]]]]]]\n", "yaml", ParseLimits(max_depth=8))
    assert caught.value.problem()["limit"] == {
        "name": "policy_max_depth",
        "value": 8,
        "setting": "CORTEX_POLICY_ENGINE_POLICY_MAX_DEPTH",
    }


async def test_a_valid_policy_still_parses_and_an_invalid_one_lists_its_issues() -> None:
    text = (EXAMPLES / "agency-acme.yaml").read_text()
    document, _ = await parse_text(text, "yaml", ParseLimits())
    assert document.metadata.agency == "acme"
    with pytest.raises(PolicyInvalidError):
        await parse_text(text.replace("ceiling: L2", "ceiling: L9"), "yaml", ParseLimits())


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"[" * 100_000 + b"]" * 100_000, 413, "policy_too_large"),
        (b'{"a": ' * 1_000 + b"1" + b"}" * 1_000, 422, "policy_too_deep"),
        (b'{"allow": [', 422, "invalid_body"),
        (b'{"allow": "\xff"}', 422, "invalid_body"),
    ],
    ids=["too-large", "too-deep", "not-json", "not-utf8"],
)
async def test_a_bad_json_body_is_a_problem_not_a_crash(
    body: bytes, status: int, code: str
) -> None:
    with pytest.raises((PolicyLimitError, BodyInvalid)) as caught:
        await parse_json_body(body, ParseLimits())
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_a_json_body_within_the_limits_is_parsed() -> None:
    body = {"allow": ["gpt-4o*"], "deny": []}
    assert await parse_json_body(json.dumps(body).encode(), ParseLimits()) == body
