"""Where a use case stages what its transaction made true: events in the outbox (published
after commit) and notifications in their queue (delivered after commit)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from approval_workflow.notifications.service import Notice, Notifier
from cortex_kit.messaging.outbox import PendingEvent, add_to_outbox


@dataclass(frozen=True)
class Staging:
    outbox: Table
    notifier: Notifier

    async def stage(
        self, session: AsyncSession, events: Sequence[PendingEvent], notices: Sequence[Notice]
    ) -> None:
        await add_to_outbox(session, self.outbox, events)
        await self.notifier.stage(session, notices)
