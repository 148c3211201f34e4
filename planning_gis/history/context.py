"""Why a write happens, told to the history triggers (migration 0016).

The triggers read transaction-local settings (``set_config(..., true)``): they last until the
transaction ends, so a pooled connection never carries one writer's decision into the next
writer's transaction.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import text

_SET = text("SELECT set_config('planning.decision', :decision, true),"
            " set_config('planning.effective_on', :effective_on, true),"
            " set_config('planning.user_id', :user_id, true),"
            " set_config('planning.user_email', :user_email, true),"
            " set_config('planning.note', :note, true)")


def change_context(executor: Any, *, decision: str | None = None,
                   effective_on: dt.date | None = None, user_id: int | None = None,
                   user_email: str | None = None, note: str | None = None) -> None:
    """Name the decision, the date it takes effect, the user and a note for every change this
    transaction writes to zones, red lines and plans. ``executor`` is a Connection or Session."""
    executor.execute(_SET, {
        "decision": decision or "", "effective_on": effective_on.isoformat() if effective_on else "",
        "user_id": str(user_id) if user_id is not None else "", "user_email": user_email or "",
        "note": note or ""})
