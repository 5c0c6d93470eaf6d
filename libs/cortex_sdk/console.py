"""What `cortex up` prints: prefixed process output, notices, errors, the banner; or JSON lines."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import click

from cortex_sdk.admin_key import ADMIN_KEY_ENVVAR, AdminKey

__all__ = ["Console"]

_COLOURS = ("cyan", "green", "yellow", "magenta", "blue", "bright_cyan", "bright_green")


class Console:
    """Terminal output: prefixed child lines, supervisor notices, the banner; or JSON lines."""

    def __init__(self, names: Sequence[str], *, json_output: bool = False) -> None:
        self.json_output = json_output
        self._width = max(len(name) for name in [*names, "cortex", "postgres"])
        self._colours = {name: _COLOURS[i % len(_COLOURS)] for i, name in enumerate(names)}

    def output(self, source: str, stream: str, line: str) -> None:
        if self.json_output:
            self._json(event="process.output", process=source, stream=stream, line=line)
        else:
            prefix = click.style(f"{source:<{self._width}} |", fg=self._colours.get(source))
            click.echo(f"{prefix} {line}")

    def notice(self, source: str, message: str) -> None:
        if self.json_output:
            self._json(event="cortex.notice", process=source, message=message)
        else:
            prefix = click.style(f"{source:<{self._width}} |", bold=True)
            click.echo(f"{prefix} {message}")

    def error(self, message: str) -> None:
        if self.json_output:
            self._json(event="cortex.error", message=message)
        else:
            click.echo(click.style("error: ", fg="red", bold=True) + message, err=True)

    def banner(self, gateway_url: str | None, key: AdminKey) -> None:
        """The cluster is ready: where to go, the admin key (once), how to stop."""
        shown = key.value if key.created and key.generated else None
        if self.json_output:
            self._json(
                event="cluster.ready",
                gateway_url=gateway_url,
                docs_url=f"{gateway_url}/docs" if gateway_url else None,
                admin_key=shown,
                admin_key_file=str(key.path),
                pid=os.getpid(),
            )
            return
        lines = ["", click.style("CodeValdCortex is up", bold=True)]
        if gateway_url:
            # The web console is not built yet: point at the interactive API reference instead.
            lines += [f"  gateway    {gateway_url}", f"  api docs   {gateway_url}/docs"]
        if shown:
            lines.append(f"  admin key  {shown}")
            lines.append(f"             (shown once; also saved to {key.path}, mode 0600)")
        elif key.created:
            lines.append(f"  admin key  from {ADMIN_KEY_ENVVAR}, saved to {key.path}")
        else:
            lines.append(f"  admin key  see {key.path}")
        lines += [f"  stop       Ctrl+C, or kill -TERM {os.getpid()}", ""]
        click.echo("\n".join(lines))

    def _json(self, **fields: object) -> None:
        click.echo(json.dumps(fields))
