"""The `cortex` command line. Subcommands live in their own modules and are added below."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import click

from cortex_sdk.cli_api import events, keys
from cortex_sdk.cli_approvals import approvals
from cortex_sdk.cli_context import EXIT_ERROR, EXIT_OK, CliState
from cortex_sdk.cli_deploy import deploy, deployments, rollback
from cortex_sdk.cli_dora import dora
from cortex_sdk.cli_policy import policy
from cortex_sdk.cli_preflight import preflight
from cortex_sdk.cli_trail import trail
from cortex_sdk.up import up

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--json", "json_output", is_flag=True, help="Machine-readable JSON output.")
@click.version_option(package_name="codevaldcortex", prog_name="cortex")
@click.pass_context
def cli(ctx: click.Context, json_output: bool) -> None:
    """CodeValdCortex: measurable, safe delivery for AI agents."""
    ctx.obj = CliState(json_output=json_output)


cli.add_command(up)
cli.add_command(keys)
cli.add_command(events)
cli.add_command(policy)
cli.add_command(dora)
cli.add_command(approvals)
cli.add_command(trail)
cli.add_command(preflight)
cli.add_command(deploy)
cli.add_command(rollback)
cli.add_command(deployments)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the `cortex` script; exits with the pipeline exit-code contract."""
    try:
        result = cli.main(args=argv, prog_name="cortex", standalone_mode=False)
    except click.UsageError as exc:
        exc.show()
        sys.exit(EXIT_ERROR)  # click would exit 2, which here means "blocked"
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(EXIT_ERROR)
    sys.exit(result if isinstance(result, int) else EXIT_OK)
