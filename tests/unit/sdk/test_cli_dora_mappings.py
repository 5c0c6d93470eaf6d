"""`cortex dora mappings`: the human view of a mapping, and the files it reads."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cortex_sdk.cli_dora import read_document, render_mapping

ANSWER = {
    "agency": "acme",
    "version": 3,
    "is_default": False,
    "updated_by": "0123456789ab",
    "updated_at": "2025-03-03T10:00:00Z",
    "mapping": {
        "repositories": {
            "acme/payments": {"service": "payments", "branches": ["main", "release/*"]},
            "acme/web": {"service": None, "branches": None},
        },
        "pagerduty_services": {"PF9KMXH": {"service": "payments", "environment": None}},
        "environments": {"prod": "production"},
    },
}


def test_the_view_shows_each_rule_with_its_defaults_spelled_out() -> None:
    lines = render_mapping(ANSWER).splitlines()
    assert lines[0] == "mapping · acme · version 3 (set by 0123456789ab at 2025-03-03T10:00:00Z)"
    text = "\n".join(lines)
    assert "acme/payments" in text
    assert "→ payments  (branches: main, release/*)" in text
    assert "→ (its own name)  (default branch)" in text
    assert "→ payments  (production)" in text
    assert "→ production" in text


def test_no_mapping_says_every_default_applies() -> None:
    empty = {"agency": "acme", "version": 0, "is_default": True, "mapping": {}}
    assert "none set (every default applies)" in render_mapping(empty)


def test_yaml_and_json_files_are_read_alike(tmp_path: Path) -> None:
    as_yaml, as_json = tmp_path / "m.yaml", tmp_path / "m.json"
    as_yaml.write_text("environments:\n  prod: production\n")
    as_json.write_text('{"environments": {"prod": "production"}}')
    assert read_document(str(as_yaml)) == read_document(str(as_json))


@pytest.mark.parametrize("text", ["- a list\n", "just text\n", "{unclosed: [\n"])
def test_a_file_that_holds_no_mapping_object_is_a_usage_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(text)
    with pytest.raises(click.UsageError):
        read_document(str(path))


def test_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(click.UsageError):
        read_document(str(tmp_path / "absent.yaml"))
