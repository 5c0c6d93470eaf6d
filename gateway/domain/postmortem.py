"""A postmortem draft of a failed or rolled-back deployment, as Markdown, from its trail: the
run's record, its approval, its DORA facts (docs/api.md "Trail"). Pure: the same record always
renders the same text."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.domain.trail import DoraImpact

Json = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class PostmortemInput:
    run: Json
    """``GET /v1/deployments/{id}`` as returned."""
    approval: Json | None = None
    """``GET /v1/approvals/{id}`` as returned (None: none was needed, or it is unavailable)."""
    incidents: Sequence[Json] = ()
    impact: DoraImpact | None = None
    gaps: Sequence[str] = ()
    """Parts of the trail that were unavailable, each with its reason (said in the draft)."""


def duration(seconds: float | None) -> str:
    """``5400`` → ``1h 30m 0s``; ``0.4`` → ``0.4s``; ``None`` → ``unknown``."""
    if seconds is None:
        return "unknown"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"


def _at(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _between(start: Any, end: Any) -> str:
    a, b = _at(start), _at(end)
    return duration((b - a).total_seconds()) if a and b else "unknown"


def _text(value: Any) -> str:
    """A value in a Markdown table cell (no line breaks, no column bar)."""
    if value is None or value == "":
        return "—"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _summary(run: Json) -> list[str]:
    progress = run.get("progress") or {}
    lines = [
        f"Deployment `{run['id']}` of **{run.get('service')}** (revision `{run.get('revision')}`) "
        f"to **{run.get('environment')}**, started by `{run.get('actor')}` at "
        f"{_text(run.get('started_at') or run.get('created_at'))}, ended **{run.get('status')}** "
        f"at {_text(run.get('finished_at'))}.",
        "",
        f"- Agents: {progress.get('agents_updated', '?')} of {progress.get('agents_total', '?')} "
        f"updated, in {progress.get('batches_done', '?')} of {progress.get('batches_total', '?')} "
        "batches.",
    ]
    if run.get("reason"):
        lines.append(f"- Last reason: {run['reason']}")
    rollback = run.get("rollback")
    if rollback:
        lines.append(
            f"- Rolled back ({rollback.get('trigger')}) by `{rollback.get('actor')}`: "
            f"{rollback.get('reason')} — {rollback.get('agents_reverted')} of "
            f"{rollback.get('agents_total')} touched agents reverted."
        )
    return lines


def _timeline(run: Json) -> list[str]:
    rows = ["| at | transition | event | actor | reason |", "|---|---|---|---|---|"]
    for t in run.get("timeline") or ():
        moved = f"{t.get('from') or '∅'} → {t.get('to')}"
        batch = "" if t.get("batch_index") is None else f" (batch {t['batch_index']})"
        actor = f"{t.get('actor_kind')} `{t.get('actor')}`"
        reason = f"{t.get('reason_code')}: {t.get('reason')}"
        rows.append(
            f"| {_text(t.get('at'))} | {moved} | {_text(t.get('event'))}{batch} | "
            f"{_text(actor)} | {_text(reason)} |"
        )
    return rows if len(rows) > 2 else ["No transition is recorded."]


def failing_batch(run: Json) -> Json | None:
    """The first batch whose health verdict failed (None: no gate failed)."""
    for batch in run.get("batches") or ():
        verdict = batch.get("verdict") or {}
        if verdict.get("outcome") == "fail":
            return dict(batch)
    return None


def _evidence(batch: Json) -> list[str]:
    verdict = batch.get("verdict") or {}
    e = verdict.get("evidence")
    head = (
        f"Batch {batch.get('index')} ({batch.get('size')} agents) failed its health gate: "
        f"verdict **{verdict.get('outcome')}** ({verdict.get('reason')})."
    )
    if not e:
        return [head, "", "The verdict carries no evidence."]
    threshold = e.get("threshold")
    shown = f"{threshold:.0%}" if isinstance(threshold, int | float) else str(threshold)
    return [
        head,
        "",
        f"- **{e.get('healthy')} of {e.get('sampled')} healthy** ({e.get('failed')} failed; "
        f"batch size {e.get('batch_size')}).",
        f"- Threshold: {shown} healthy, minimum sample {e.get('min_sample')}, "
        f"consecutive failures {e.get('consecutive_failures')}.",
        f"- Window: {e.get('window_start')} → {e.get('window_end')} "
        f"({_between(e.get('window_start'), e.get('window_end'))}).",
    ]


def _what_failed(run: Json) -> list[str]:
    batch = failing_batch(run)
    if batch is not None:
        return _evidence(batch)
    rollback = run.get("rollback") or {}
    if rollback:
        return [
            f"No batch failed its health gate; the run was rolled back ({rollback.get('trigger')})"
            f" by `{rollback.get('actor')}`: {rollback.get('reason')}."
        ]
    return [
        f"No batch failed its health gate; the run ended {run.get('status')}: "
        f"{run.get('reason') or 'no reason recorded'}."
    ]


def _times(run: Json, impact: DoraImpact | None) -> list[str]:
    rollback = run.get("rollback") or {}
    start = run.get("started_at") or run.get("created_at")
    detected = rollback.get("detected_at") or rollback.get("started_at")
    lines = [
        f"- Started: {_text(start)}",
        f"- Detected: {_text(detected)} ({_between(start, detected)} after the start)",
    ]
    if rollback:
        lines += [
            f"- Rollback started: {_text(rollback.get('started_at'))}",
            f"- Recovered (every touched agent reverted): {_text(rollback.get('finished_at'))}",
            f"- Detection → recovery: **{_between(detected, rollback.get('finished_at'))}**",
        ]
    if impact is not None and impact.counted_as_failed:
        lines.append(
            f"- DORA recovery time: **{duration(impact.recovery_s)}** (detected "
            f"{_text(impact.detected_at and impact.detected_at.isoformat())}, recovered "
            f"{_text(impact.recovered_at and impact.recovered_at.isoformat())})"
        )
    return lines


def _policy(run: Json) -> list[str]:
    decision = run.get("decision") or {}
    reasons = decision.get("reasons") or []
    rule_ids = sorted({str(r["rule_id"]) for r in reasons if r.get("rule_id")})
    lines = [
        f"- Decision `{decision.get('id')}`: **{decision.get('verdict')}**, risk "
        f"{decision.get('risk_score')}, policy version `{decision.get('policy_version')}`, "
        f"evaluated {_text(decision.get('evaluated_at'))}.",
        f"- Rules: {', '.join(f'`{r}`' for r in rule_ids) or 'none'}.",
    ]
    for r in reasons:
        where = f" (rule `{r['rule_id']}`)" if r.get("rule_id") else ""
        lines.append(f"  - `{r.get('code')}`{where}: {r.get('message')}")
    lines += [
        f"- Override asked: `{o.get('limit')}` — {o.get('reason')}"
        for o in run.get("overrides") or ()
    ]
    return lines


def _approval(run: Json, approval: Json | None) -> list[str]:
    summary = run.get("approval")
    if not summary:
        return ["No approval was needed."]
    wait = summary.get("wait_s")
    if approval is not None and approval.get("queue_seconds") is not None:
        wait = approval["queue_seconds"]
    lines = [
        f"- Request `{summary.get('id')}`: **{summary.get('status')}**, requested "
        f"{_text(summary.get('requested_at'))}, decided {_text(summary.get('decided_at'))}, "
        f"waited **{duration(wait)}**.",
        f"- Approvers: {', '.join(f'`{a}`' for a in summary.get('approvers') or []) or 'none'}.",
    ]
    if approval is None:
        return lines
    lines.append(
        f"- Required roles: {', '.join(approval.get('required_roles') or []) or 'none'}, "
        f"quorum {approval.get('quorum')}; rules "
        f"{', '.join(f'`{r}`' for r in approval.get('rule_ids') or []) or 'none'}."
    )
    for vote in approval.get("trail") or ():
        roles = ", ".join(vote.get("roles") or [])
        lines.append(
            f"  - `{vote.get('approver')}` ({roles}) {vote.get('decision')} at "
            f"{vote.get('decided_at')}: {vote.get('comment') or '—'}"
        )
    return lines


def _dora(impact: DoraImpact | None, incidents: Sequence[Json]) -> list[str]:
    if impact is None:
        return ["The metrics collector has no fact of this deployment (yet)."]
    if not impact.counted_as_failed:
        return ["The deployment does not count as failed in the change failure rate."]
    lines = [
        "- Counted as **failed** in the change failure rate: "
        + "; ".join(impact.failed_because)
        + ".",
        f"- Failed deployment recovery time: **{duration(impact.recovery_s)}**"
        + ("" if impact.recovered_at else " (not recovered yet)")
        + ".",
    ]
    for incident in incidents:
        facts = incident.get("facts") or {}
        lines.append(
            f"- Incident `{incident.get('event_id')}`: opened {_text(facts.get('opened_at'))}, "
            f"resolved {_text(facts.get('resolved_at'))}."
        )
    return lines


def render_postmortem(given: PostmortemInput) -> str:
    """The Markdown draft: title, summary, timeline, what failed with its evidence, detection
    → recovery, the policy decision, the approval, the DORA impact, and what is left to write."""
    run = given.run
    sections = [
        [
            f"# Postmortem (draft): {run.get('service')} {run.get('revision')} in "
            f"{run.get('environment')} — {run.get('status')}"
        ],
        ["## Summary", "", *_summary(run)],
        ["## Timeline", "", *_timeline(run)],
        ["## What failed", "", *_what_failed(run)],
        ["## Detection and recovery", "", *_times(run, given.impact)],
        ["## Policy decision", "", *_policy(run)],
        ["## Approval", "", *_approval(run, given.approval)],
        ["## DORA impact", "", *_dora(given.impact, given.incidents)],
    ]
    if given.gaps:
        sections.append(["## Missing from this draft", "", *(f"- {g}" for g in given.gaps)])
    sections.append(
        ["## To be written", "", "- Root cause:", "- What went well:", "- Action items:"]
    )
    return "\n\n".join("\n".join(s) for s in sections) + "\n"
