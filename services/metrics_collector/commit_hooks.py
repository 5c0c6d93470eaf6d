"""Run something once a request's or a message batch's transaction has committed."""

from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """``callback`` runs after this session's next commit, never after a rollback."""
    event.listen(session.sync_session, "after_commit", lambda _session: callback(), once=True)
