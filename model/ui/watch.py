"""Whether anyone still watches the page a model plays on (Solara's kernel context of the calling thread).

Mesa's ▶ steps the model in a thread until the model stops running; Solara ends a closed tab's page
(its kernel context) ``serve.CULL_TIMEOUT`` after the tab disconnects, and Mesa's play loop was left to
notice that on its own. ``page_gone`` lets the model notice it itself: ``ChipMarketModelUI.step`` asks it
before every step and stops running (``running = False``) once the page is gone.
"""

from __future__ import annotations

import threading
import time

from model.ui.serve import CULL_TIMEOUT

#: Seconds a page may have no connected tab before its model stops (the reload window Solara keeps).
UNWATCHED_S = float(CULL_TIMEOUT.rstrip("s"))

#: When each page (by its kernel context's id) was first seen with no connected tab.
_since: dict[str, float] = {}
_lock = threading.Lock()


def page_gone(now: float | None = None) -> bool:
    """True if this thread's page was closed, or has had no connected tab for UNWATCHED_S seconds;
    False while a tab is connected, within the reload window, and outside a Solara page."""
    from solara.server import kernel_context

    if not kernel_context.has_current_context():
        return False
    context = kernel_context.get_current_context()
    if context.closed_event.is_set():
        with _lock:
            _since.pop(context.id, None)
        return True
    now = time.monotonic() if now is None else now
    with context.lock:
        connected = kernel_context.PageStatus.CONNECTED in context.page_status.values()
    with _lock:
        if connected:
            _since.pop(context.id, None)
            return False
        since = _since.setdefault(context.id, now)
    return now - since >= UNWATCHED_S
