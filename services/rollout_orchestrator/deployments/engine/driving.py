"""Moving a run: every transition (a row of the timeline, the run's next version, its events
in the outbox, all in the caller's transaction), and one reconciler step of a run. Effects are
database writes in the same transaction as the state change, so a step that is repeated after
a crash finds its effect already there and does nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox
from rollout_orchestrator.agents.service import DESIRED_CHANGED
from rollout_orchestrator.agents.waiting import Key
from rollout_orchestrator.deployments import events, repository
from rollout_orchestrator.deployments.engine import metrics
from rollout_orchestrator.deployments.engine.signals import AFTER_COMMIT, RUNS_CHANGED
from rollout_orchestrator.deployments.rows import Batch, Run
from rollout_orchestrator.domain import run as rules
from rollout_orchestrator.domain.gate import Observation, Verdict, gate_verdict
from rollout_orchestrator.domain.plan import HealthGate
from rollout_orchestrator.domain.run import ActorKind, RollbackTrigger, RunStatus


@dataclass(frozen=True, slots=True)
class Cause:
    """Who or what makes a transition, and why."""

    actor_kind: ActorKind
    actor: str
    reason_code: str
    reason: str


GATE = "gate"


@dataclass(frozen=True)
class Driver:
    """What every transition needs: the outbox and the name of this replica."""

    outbox: Table
    replica: str

    async def transition(
        self,
        session: AsyncSession,
        run: Run,
        to: RunStatus,
        event: str,
        cause: Cause,
        now: datetime,
        *,
        batch_index: int | None = None,
        values: dict[str, Any] | None = None,
    ) -> Run:
        """The run moves to ``to`` (or stays, for batch events): next version, a timeline row
        naming this replica, and the events the move makes true, in this transaction."""
        changes: dict[str, Any] = {"status": to, "updated_at": now, "progress_at": now}
        if to != run.status:
            changes["reason"] = cause.reason
        if to == "running" and run.started_at is None:
            changes["started_at"] = now
        if to in rules.TERMINAL:
            changes["finished_at"] = now
        changes |= values or {}
        before = run
        run = await repository.update_run(session, run, changes)
        row = await repository.insert_transition(
            session,
            {
                "run_id": run.id,
                "at": now,
                "from_status": before.status,
                "to_status": to,
                "event": event,
                "actor_kind": cause.actor_kind,
                "actor": cause.actor,
                "reason_code": cause.reason_code,
                "reason": cause.reason,
                "batch_index": batch_index,
                "driver": self.replica,
            },
        )
        staged = [events.transitioned(run, row)]
        staged += await self._status_events(session, before, run, cause, now)
        await self.stage(session, staged)
        if to != before.status:
            self.after_commit(session, lambda: metrics.transitioned(before.status, to))
        return run

    async def _status_events(
        self, session: AsyncSession, before: Run, run: Run, cause: Cause, now: datetime
    ) -> list[PendingEvent]:
        if run.status == before.status:
            return []
        found: list[PendingEvent] = []
        batches: list[Batch] | None = None
        if run.status == "running" and before.started_at is None:
            batches = await repository.batches_of(session, run.id)
            found.append(events.started(run, batches, now))
        ended = run.status in events.FINISHED_STATUS and run.started_at is not None
        if ended and run.status == "rolled_back":
            # A success rolled back later (an incident) was announced finished already: its
            # RolledBack says the rest (the collector counts it failed, and recovered).
            ended = not await repository.has_event(session, run.id, "succeeded")
        if ended:
            batches = batches or await repository.batches_of(session, run.id)
            found.append(events.finished(run, batches, now, cause.actor))
        if run.status == "rolled_back" and run.started_at is not None:
            counts = await repository.revert_counts(session, run.id)
            found.append(events.rolled_back(run, counts.reverted, counts.total, now))
        return found

    async def stage(self, session: AsyncSession, staged: list[PendingEvent]) -> None:
        await add_to_outbox(session, self.outbox, staged)
        session.info[RUNS_CHANGED] = True

    def after_commit(self, session: AsyncSession, observe: Callable[[], object]) -> None:
        """Call ``observe`` (a metric) once this transaction committed."""
        session.info.setdefault(AFTER_COMMIT, []).append(observe)

    async def start_rollback(
        self,
        session: AsyncSession,
        run: Run,
        trigger: RollbackTrigger,
        cause: Cause,
        now: datetime,
        *,
        event: str = "rollback_started",
        detected_at: datetime | None = None,
        rule_id: str | None = None,
    ) -> Run:
        """Every agent the run touched is told its snapshot revision again (its long-polls
        are woken after the commit); the run is rolling back until they all run it."""
        reverted = await repository.revert_touched(session, run)
        _desired_changed(session, run.agency, reverted)
        return await self.transition(
            session,
            run,
            "rolling_back",
            event,
            cause,
            now,
            values={
                "rollback_trigger": trigger,
                "rollback_actor": cause.actor,
                "rollback_reason": cause.reason,
                "rollback_rule_id": rule_id,
                "rollback_detected_at": detected_at or now,
                "rollback_started_at": now,
                "rollback_finished_at": None,
                "finished_at": None,
            },
        )

    # --- the reconciler's step of one run ---------------------------------------------------

    async def step(self, session: AsyncSession, run: Run, now: datetime) -> Run:
        """Drive a locked running or rolling-back run as far as it goes now."""
        watchdog = run.plan.get("watchdog", {})
        max_no_progress = timedelta(seconds=int(watchdog.get("max_no_progress_s", 3600)))
        if run.status == "rolling_back":
            return await self._rolling_back(session, run, now, max_no_progress)
        if rules.is_stuck(run.status, run.progress_at, max_no_progress, now):
            return await self._stuck(session, run, str(watchdog.get("on_stuck", "pause")), now)
        for _ in range(2 * run.batches_total + 2):  # each pass makes progress or returns
            if run.status != "running":
                return run
            batches = await repository.batches_of(session, run.id)
            moved = await self._advance(session, run, batches, now)
            if moved is None:
                return run
            run = moved
        return run

    async def _advance(
        self, session: AsyncSession, run: Run, batches: list[Batch], now: datetime
    ) -> Run | None:
        pause = timedelta(seconds=int(run.plan["strategy"].get("pause_between_batches_s", 0)))
        states = [rules.BatchState(b.index, b.status, b.started_at, b.finished_at) for b in batches]
        step = rules.next_step(states, pause, now)
        if isinstance(step, rules.ApplyBatch):
            return await self._apply(session, run, step.index, now)
        if isinstance(step, rules.Judge):
            return await self._judge(session, run, batches[step.index], now)
        if isinstance(step, rules.Succeed):
            cause = Cause("system", GATE, "all_batches_passed", "every batch passed its gate")
            return await self.transition(session, run, "succeeded", "succeeded", cause, now)
        return None  # waiting between batches

    async def _apply(self, session: AsyncSession, run: Run, index: int, now: datetime) -> Run:
        told = await repository.set_batch_desired(session, run, index, run.revision)
        _desired_changed(session, run.agency, told)
        await repository.update_batch(
            session, run.id, index, {"status": "observing", "started_at": now}
        )
        size = len(told)
        self.after_commit(session, lambda: metrics.BATCH_SIZE.observe(size))
        cause = Cause(
            "system",
            GATE,
            "batch_started",
            f"batch {index + 1} of {run.batches_total}: {size} agents told {run.revision}",
        )
        return await self.transition(
            session, run, "running", "batch_started", cause, now, batch_index=index
        )

    async def _judge(
        self, session: AsyncSession, run: Run, batch: Batch, now: datetime
    ) -> Run | None:
        assert batch.started_at is not None
        gate = HealthGate.model_validate(run.plan["strategy"].get("health_gate", {}))
        agent_ids = await repository.batch_members(session, run.id, batch.index)
        found = await repository.readings(session, run.id, batch.index)
        verdict = gate_verdict(gate, Observation(agent_ids, found, batch.started_at, now))
        outcome = rules.judge(verdict, run.plan.get("on_failure", "rollback"))
        if outcome.batch_status is None:
            return None
        stored = verdict_json(verdict)
        await repository.update_batch(
            session,
            run.id,
            batch.index,
            {"status": outcome.batch_status, "verdict": stored, "finished_at": now},
        )
        judged = Batch(
            run.id, batch.index, batch.size, outcome.batch_status, stored, batch.started_at, now
        )
        e = verdict.evidence
        await self.stage(
            session,
            [events.batch_completed(run, judged, agent_ids, e.healthy, e.failed, verdict.reason)],
        )
        self.after_commit(session, lambda: metrics.verdict(verdict.outcome, verdict.reason))
        why = (
            f"batch {batch.index + 1}: {verdict.reason} — {e.healthy} of {e.sampled} sampled "
            f"healthy, {e.failed} failed (threshold {e.threshold}, min sample {e.min_sample})"
        )
        if outcome.batch_status == "passed":
            cause = Cause("gate", GATE, "gate_passed", why)
            return await self.transition(
                session, run, "running", "batch_passed", cause, now, batch_index=batch.index
            )
        cause = Cause("gate", GATE, "gate_failed", why)
        if outcome.run_status == "paused":
            return await self.transition(
                session, run, "paused", "paused", cause, now, batch_index=batch.index
            )
        detected = max((r.at for r in found if r.at <= now), default=now)
        return await self.start_rollback(
            session, run, "health_gate", cause, now, detected_at=detected
        )

    async def _stuck(self, session: AsyncSession, run: Run, on_stuck: str, now: datetime) -> Run:
        idle = (now - run.progress_at).total_seconds()
        allowed = run.plan["watchdog"]["max_no_progress_s"]
        cause = Cause(
            "watchdog",
            "watchdog",
            "stuck",
            f"no progress for {idle:.0f} s (the plan allows {allowed} s)",
        )
        self.after_commit(session, metrics.STUCK.inc)
        values = {"stuck_at": now}
        if on_stuck == "rollback":
            run = await repository.update_run(session, run, values)
            return await self.start_rollback(session, run, "watchdog", cause, now, event="stuck")
        return await self.transition(session, run, "paused", "stuck", cause, now, values=values)

    async def _rolling_back(
        self, session: AsyncSession, run: Run, now: datetime, max_no_progress: timedelta
    ) -> Run:
        counts = await repository.revert_counts(session, run.id)
        if counts.reverted >= counts.total:
            cause = Cause(
                "system",
                "rollout_orchestrator",
                "all_reverted",
                f"{counts.reverted} of {counts.total} touched agents run their snapshot revision",
            )
            run = await self.transition(
                session,
                run,
                "rolled_back",
                "rolled_back",
                cause,
                now,
                values={"rollback_finished_at": now},
            )
            self.after_commit(session, lambda: metrics.rolled_back(run))
            return run
        if run.stuck_at is None and now - run.progress_at > max_no_progress:
            cause = Cause(
                "watchdog",
                "watchdog",
                "stuck",
                f"rolling back: {counts.reverted} of {counts.total} agents reverted, no progress "
                f"for {(now - run.progress_at).total_seconds():.0f} s",
            )
            self.after_commit(session, metrics.STUCK.inc)
            return await self.transition(
                session, run, "rolling_back", "stuck", cause, now, values={"stuck_at": now}
            )
        return run


def _desired_changed(session: AsyncSession, agency: str, agent_ids: list[str]) -> None:
    changed: set[Key] = session.info.setdefault(DESIRED_CHANGED, set())
    changed.update((agency, agent_id) for agent_id in agent_ids)


def verdict_json(verdict: Verdict) -> dict[str, Any]:
    e = verdict.evidence
    return {
        "outcome": verdict.outcome,
        "reason": verdict.reason,
        "evidence": {
            "healthy": e.healthy,
            "failed": e.failed,
            "sampled": e.sampled,
            "batch_size": e.batch_size,
            "threshold": e.threshold,
            "min_sample": e.min_sample,
            "consecutive_failures": e.consecutive_failures,
            "window_start": e.window_start.isoformat(),
            "window_end": e.window_end.isoformat(),
        },
    }
