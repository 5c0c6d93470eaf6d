"""The `cortex` command group: global options and the exit-code contract."""

from __future__ import annotations

import click
import pytest

from cortex_sdk.cli import cli, main
from cortex_sdk.cli_context import CliState, pass_state


def run_main(args: list[str]) -> int | str | None:
    with pytest.raises(SystemExit) as exit_:
        main(args)
    return exit_.value.code


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["--help"]) == 0
    assert "up" in capsys.readouterr().out


def test_a_usage_error_exits_1_not_clicks_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_main(["up", "--no-such-flag"]) == 1
    assert "No such option" in capsys.readouterr().err


def test_json_flag_reaches_subcommands_through_the_context() -> None:
    seen: list[CliState] = []

    @cli.command("probe-state", hidden=True)
    @pass_state
    def probe(state: CliState) -> int:
        seen.append(state)
        return 3

    try:
        assert run_main(["--json", "probe-state"]) == 3
    finally:
        cli.commands.pop("probe-state")
    assert seen == [CliState(json_output=True)]


def test_subcommand_exit_codes_pass_through() -> None:
    @cli.command("probe-exit", hidden=True)
    @click.pass_context
    def probe(ctx: click.Context) -> None:
        ctx.exit(2)

    try:
        assert run_main(["probe-exit"]) == 2
    finally:
        cli.commands.pop("probe-exit")
