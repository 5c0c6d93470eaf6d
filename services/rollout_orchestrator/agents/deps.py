"""Dependencies of the agent routes: the label selector, parsed."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from rollout_orchestrator.domain.selector import SelectorError, parse_selector
from rollout_orchestrator.errors import InvalidSelector


def _selector(
    selector: Annotated[
        str,
        Query(max_length=2000, description="`key=value[,key=value…]`, equality only."),
    ] = "",
) -> dict[str, str]:
    try:
        return parse_selector(selector)
    except SelectorError as exc:
        raise InvalidSelector(
            f"The selector is not valid: {exc}.",
            remediation="Write the selector as key=value pairs separated by commas, "
            "e.g. selector=team=payments,tier=canary (equality only).",
        ) from exc


Selector = Annotated[dict[str, str], Depends(_selector)]
