"""How `cortex deploy` and `cortex deployments` show a run: the progress line, the changes
between two reads of the record, the final summary, the exit code (pure functions of the
record, docs/rollouts.md "The record")."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cortex_sdk.cli_context import EXIT_FAILED, EXIT_NEEDS_APPROVAL, EXIT_OK

Record = Mapping[str, Any]

FAILED_STATES = frozenset({"failed", "rolled_back", "aborted", "rejected"})
BAR_WIDTH = 30


def exit_code(status: str) -> int:
    """0 succeeded (or still going), 2 failed / rolled back / aborted / rejected, 3 waiting for
    an approval (ARCHITECTURE §4)."""
    if status in FAILED_STATES:
        return EXIT_FAILED
    if status == "pending_approval":
        return EXIT_NEEDS_APPROVAL
    return EXIT_OK


def _progress(record: Record) -> Mapping[str, Any]:
    progress: Mapping[str, Any] = record.get("progress") or {}
    return progress


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    filled = width if total <= 0 else min(width, round(width * done / total))
    return "[" + "#" * filled + "." * (width - filled) + "]"


def progress_line(record: Record) -> str:
    """One line: a bar of agents updated (or reverted, while rolling back), the batch, the
    status."""
    p = _progress(record)
    rollback = record.get("rollback")
    if rollback and record["status"] in ("rolling_back", "rolled_back"):
        done, total = int(rollback.get("agents_reverted", 0)), int(rollback.get("agents_total", 0))
        what = f"{done}/{total} agents reverted"
    else:
        done, total = int(p.get("agents_updated", 0)), int(p.get("agents_total", 0))
        what = f"{done}/{total} agents"
    batches = int(p.get("batches_total", 0))
    current = p.get("current_batch")
    batch = f"batch {int(current) + 1}/{batches}" if current is not None else f"{batches} batches"
    return f"{bar(done, total)} {what} · {batch} · {record['status']}"


def _transition(entry: Mapping[str, Any]) -> str:
    actor = " ".join(str(x) for x in (entry.get("actor_kind"), entry.get("actor")) if x)
    why = " ".join(str(x) for x in (entry.get("reason_code"), entry.get("reason")) if x)
    batch = f" (batch {entry['batch_index']})" if entry.get("batch_index") is not None else ""
    return (
        f"{entry.get('at', '')} {entry.get('from') or '-'} → {entry.get('to')}{batch}"
        + (f" by {actor}" if actor else "")
        + (f": {why}" if why else "")
    )


def _verdict(batch: Mapping[str, Any]) -> str:
    verdict = batch.get("verdict")
    if not verdict:
        return str(batch.get("status", "pending"))
    evidence = verdict.get("evidence") or {}
    line = f"{verdict.get('outcome')} {verdict.get('reason')}"
    if evidence:
        line += (
            f" — {evidence.get('healthy', 0)}/{evidence.get('sampled', 0)} healthy of "
            f"{evidence.get('batch_size', 0)}, threshold {evidence.get('threshold')}"
        )
    return line


def batch_line(batch: Mapping[str, Any]) -> str:
    size = len(batch.get("agent_ids") or ())
    return f"batch {batch.get('index')}: {size} agent(s), {batch.get('status')} · {_verdict(batch)}"


@dataclass
class Changes:
    """What is new in each read of a record (for one line per change when not on a TTY)."""

    timeline_seen: int = 0
    batches_seen: dict[int, str] = field(default_factory=dict)
    last_line: str = ""

    def lines(self, record: Record) -> list[str]:
        out: list[str] = []
        timeline: Sequence[Mapping[str, Any]] = record.get("timeline") or []
        out += [_transition(entry) for entry in timeline[self.timeline_seen :]]
        self.timeline_seen = len(timeline)
        for batch in record.get("batches") or []:
            index, shown = int(batch.get("index", 0)), batch_line(batch)
            if self.batches_seen.get(index) != shown and batch.get("status") != "pending":
                self.batches_seen[index] = shown
                out.append(shown)
        line = progress_line(record)
        if line != self.last_line:
            self.last_line = line
            out.append(line)
        return out


def created_line(record: Record) -> str:
    return (
        f"deployment {record['id']} · {record['status']} "
        f"({record.get('service')} → {record.get('environment')}, "
        f"revision {record.get('revision')})\nstatus: {record.get('status_url', '')}"
    )


def summary(record: Record) -> str:
    """The final view of a run: what, outcome, policy, approval, batches, rollback, timeline."""
    p = _progress(record)
    lines = [
        f"deployment {record['id']} · {record['status']}",
        f"change     {record.get('service')} → {record.get('environment')}, revision "
        f"{record.get('revision')} (by {record.get('actor')})",
        f"agents     {p.get('agents_updated', 0)}/{p.get('agents_total', 0)} updated, "
        f"{p.get('batches_done', 0)}/{p.get('batches_total', 0)} batches done",
    ]
    decision = record.get("decision")
    if decision:
        lines.append(
            f"policy     {decision.get('verdict')}, risk {decision.get('risk_score')} "
            f"(decision {decision.get('id')}, policy {decision.get('policy_version')})"
        )
    approval = record.get("approval")
    if approval:
        approvers = ", ".join(approval.get("approvers") or []) or "nobody yet"
        waited = f" after {approval['wait_s']} s" if approval.get("wait_s") is not None else ""
        lines.append(f"approval   {approval.get('status')} by {approvers}{waited}")
    lines += [
        f"override   {o.get('limit')}: {o.get('reason')}" for o in record.get("overrides") or []
    ]
    lines += ["  " + batch_line(b) for b in record.get("batches") or []]
    rollback = record.get("rollback")
    if rollback:
        lines.append(
            f"rollback   {rollback.get('trigger')} by {rollback.get('actor')}: "
            f"{rollback.get('reason')}; {rollback.get('agents_reverted')}/"
            f"{rollback.get('agents_total')} reverted"
        )
    timeline = record.get("timeline") or []
    if timeline:
        lines.append("timeline")
        lines += ["  " + _transition(entry) for entry in timeline]
    return "\n".join(lines)


def blocked(problem: Mapping[str, Any]) -> str:
    """A refused plan (422 deployment_blocked and friends): every reason with its fix."""
    lines = [f"blocked: {problem.get('code')}: {problem.get('detail', '')}"]
    for reason in problem.get("reasons") or []:
        where = " ".join(
            f"{k}={reason[k]}" for k in ("rule_id", "actual", "limit") if reason.get(k) is not None
        )
        line = f"  {reason.get('code')}: {reason.get('message', '')}"
        lines.append(line + (f" ({where})" if where else ""))
        if reason.get("remediation"):
            lines.append(f"    fix: {reason['remediation']}")
    lines += [
        f"  {c.get('agent_id')} is in deployment {c.get('deployment_id')}"
        for c in problem.get("conflicts") or []
    ]
    if problem.get("missing"):
        lines.append(f"  unknown targets: {', '.join(map(str, problem['missing']))}")
    if problem.get("remediation"):
        lines.append(f"  fix: {problem['remediation']}")
    return "\n".join(lines)


def list_table(items: Sequence[Record]) -> str:
    if not items:
        return "no deployments"
    lines = [f"{'ID':36} {'STATUS':16} {'SERVICE':24} {'ENV':12} {'AGENTS':9} CREATED"]
    for d in items:
        p = _progress(d)
        agents = f"{p.get('agents_updated', 0)}/{p.get('agents_total', 0)}"
        lines.append(
            f"{d['id']:36} {d['status']:16} {str(d.get('service'))[:24]:24} "
            f"{str(d.get('environment'))[:12]:12} {agents:9} {d.get('created_at', '')}"
        )
    return "\n".join(lines)
