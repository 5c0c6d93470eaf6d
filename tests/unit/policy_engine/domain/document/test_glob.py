import pytest

from policy_engine.domain.document.glob import (
    compile_globs,
    glob_error,
    glob_matches,
    glob_subsumes,
)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("gpt-4o*", "gpt-4o-mini", True),
        ("gpt-4o*", "xgpt-4o", False),
        ("*", "anything/at.all", True),
        ("gpt-?", "gpt-4", True),
        ("gpt-?", "gpt-40", False),
        ("db.[rw]*", "db.write", True),
        ("db.[!rw]*", "db.write", False),
        ("v[0-9]", "v7", True),
        ("GPT", "gpt", False),
    ],
)
def test_globs_match_whole_strings(pattern: str, text: str, expected: bool) -> None:
    assert glob_matches(pattern, text) is expected


@pytest.mark.parametrize(
    ("pattern", "problem"),
    [
        ("", "empty pattern"),
        (" gpt", "whitespace"),
        ("gpt-[4", "unclosed '['"),
        ("a[]", "empty character class"),
        ("[z-a]", "reversed range"),
        ("a]", "unopened ']'"),
        ("a\tb", "control character"),
        ("x" * 300, "longer than"),
    ],
)
def test_bad_globs_say_what_is_wrong(pattern: str, problem: str) -> None:
    error = glob_error(pattern)
    assert error is not None
    assert problem in error


def test_a_list_of_globs_matches_any_of_them() -> None:
    regex = compile_globs(("gpt-*", "claude-*"))
    assert regex.match("claude-3")
    assert regex.match("gpt-4")
    assert not regex.match("llama")
    assert not compile_globs(()).match("")


@pytest.mark.parametrize(
    ("outer", "inner", "expected"),
    [
        ("*", "gpt-4", True),
        ("gpt-*", "gpt-4o*", True),
        ("gpt-4o*", "gpt-*", False),
        ("*-preview", "gpt-4-preview", True),
        ("gpt-[0-9]", "gpt-[3-5]", True),
        ("gpt-[3-5]", "gpt-[0-9]", False),
        ("a*c", "a*b*c", True),
        ("a*b*c", "a*c", False),
        ("[!a]*", "b*", True),
        ("[!a]*", "*", False),
        ("deploy.*", "deploy.prod", True),
        ("deploy.prod", "deploy.*", False),
    ],
)
def test_subsumption_is_language_inclusion(outer: str, inner: str, expected: bool) -> None:
    assert glob_subsumes(outer, inner) is expected
