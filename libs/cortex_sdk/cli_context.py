"""What every `cortex` subcommand shares: global options and the exit-code contract."""

from __future__ import annotations

from dataclasses import dataclass

import click

__all__ = [
    "EXIT_ERROR",
    "EXIT_FAILED",
    "EXIT_NEEDS_APPROVAL",
    "EXIT_OK",
    "CliState",
    "pass_state",
]

# Exit codes pipelines rely on (ARCHITECTURE §4).
EXIT_OK = 0  # pass / succeeded
EXIT_ERROR = 1  # usage or transport error
EXIT_FAILED = 2  # blocked / failed
EXIT_NEEDS_APPROVAL = 3


@dataclass
class CliState:
    """Global options, stored in `ctx.obj` by the `cortex` group."""

    json_output: bool = False


pass_state = click.make_pass_decorator(CliState, ensure=True)
