"""What a notification says: a Slack incoming-webhook body (``{"text", "blocks"}``), rendered
from the request when the event happens. Pure; text from requests is escaped for Slack's
mrkdwn and cut to Slack's limits."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, get_args

from approval_workflow.approvals.repository import StoredApproval
from approval_workflow.domain.model import Approval

NotificationEvent = Literal[
    "requested", "granted", "rejected", "expired", "escalated", "superseded"
]
NOTIFICATION_EVENTS: tuple[NotificationEvent, ...] = get_args(NotificationEvent)

_TITLES: dict[NotificationEvent, str] = {
    "requested": "Approval requested",
    "granted": "Approval granted",
    "rejected": "Approval rejected",
    "expired": "Approval expired (failed closed)",
    "escalated": "Approval escalated",
    "superseded": "Approval superseded",
}
_EMOJI: dict[NotificationEvent, str] = {
    "requested": ":raising_hand:",
    "granted": ":white_check_mark:",
    "rejected": ":no_entry:",
    "expired": ":hourglass:",
    "escalated": ":rotating_light:",
    "superseded": ":arrows_counterclockwise:",
}
SECTION_LIMIT = 3000  # Slack: a section's text
FIELD_LIMIT = 2000  # Slack: a field's text
HEADER_LIMIT = 150  # Slack: a header's plain text
TEXT_LIMIT = 4000  # the fallback text shown in notifications


def escape(text: str) -> str:
    """Slack mrkdwn control characters (``&``, ``<``, ``>``), so a summary cannot ping
    ``<!channel>`` or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _when(at: datetime) -> str:
    """A date Slack shows in the reader's time zone (with the UTC time as fallback)."""
    iso = at.isoformat().replace("+00:00", "Z")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} {{time}}|{iso}>"


def _needs(a: Approval) -> str:
    roles = ", ".join(f"`{r}`" for r in a.requirement.required_roles) or "any role"
    count = a.requirement.quorum
    return f"{count} approver{'s' if count != 1 else ''}; roles {roles}"


def outcome(event: NotificationEvent, a: Approval) -> str:
    """What happened, in a line."""
    if event == "granted":
        return "granted by " + ", ".join(escape(p) for p in a.approvers)
    if event == "rejected":
        vote = next((v for v in a.votes if v.decision == "reject"), None)
        if vote is None:
            return "rejected"
        comment = f": “{escape(vote.comment)}”" if vote.comment else ""
        return f"rejected by {escape(vote.approver)}{comment}"
    if event == "expired":
        return "expired before it was granted: the subject stays blocked"
    if event == "superseded":
        return f"superseded by the newer request `{escape(a.superseded_by or '')}`"
    if event == "escalated":
        return f"escalated to `{escape(a.escalate_to or '')}`; {len(a.approvers)} approved so far"
    return f"pending; {len(a.approvers)} of {a.requirement.quorum} approved"


def _fields(event: NotificationEvent, stored: StoredApproval) -> list[dict[str, str]]:
    a, d = stored.approval, stored.details
    team = f" (team `{escape(a.requester_team)}`)" if a.requester_team else ""
    who = escape(a.requested_by) + team
    risk = "unknown" if d.risk_score is None else f"{d.risk_score:.2f}"
    values = [
        ("Subject", f"{a.subject.kind} `{escape(a.subject.id)}`"),
        ("Requested by", who),
        ("Risk", risk),
        ("Needs", _needs(a)),
        ("Expires", _when(a.expires_at)),
        ("Outcome", outcome(event, a)),
    ]
    return [{"type": "mrkdwn", "text": cut(f"*{k}*\n{v}", FIELD_LIMIT)} for k, v in values]


def _context(stored: StoredApproval) -> str:
    a, d = stored.approval, stored.details
    parts = [f"approval `{escape(a.id)}`", f"agency `{escape(a.agency)}`"]
    if d.policy_version:
        parts.append(f"policy {escape(d.policy_version)}")
    if d.rule_ids:
        parts.append("rules " + ", ".join(f"`{escape(r)}`" for r in d.rule_ids))
    return cut(" · ".join(parts), FIELD_LIMIT)


def body(event: NotificationEvent, stored: StoredApproval, *, link: str | None) -> dict[str, Any]:
    """The Slack body of ``event`` about ``stored`` (its state right after the event)."""
    a, d = stored.approval, stored.details
    title = _TITLES[event]
    summary = escape(d.summary) or f"{a.subject.kind} {escape(a.subject.id)}"
    about = f"*{summary}*" + (f"\n{escape(d.reason)}" if d.reason else "")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": cut(title, HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": cut(about, SECTION_LIMIT)}},
        {"type": "section", "fields": _fields(event, stored)},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _context(stored)}]},
    ]
    if link is not None:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the request"},
                        "url": link,
                    }
                ],
            }
        )
    text = (
        f"{_EMOJI[event]} {title}: {summary} ({a.subject.kind} `{escape(a.subject.id)}`) — "
        f"{outcome(event, a)}; needs {_needs(a)}; risk "
        f"{'unknown' if d.risk_score is None else f'{d.risk_score:.2f}'}; "
        f"expires {_when(a.expires_at)}; approval `{escape(a.id)}`"
        + (f" <{link}|open>" if link else "")
    )
    return {"text": cut(text, TEXT_LIMIT), "blocks": blocks}


def render(event: NotificationEvent, stored: StoredApproval, *, link: str | None) -> str:
    """The exact bytes sent (and signed), as text."""
    return json.dumps(body(event, stored, link=link), ensure_ascii=False, separators=(",", ":"))
