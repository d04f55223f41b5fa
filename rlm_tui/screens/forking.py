""""Fork here" in the app: from the step being looked at (in the live session or a replay),
ask for the changes (fork_dialog.py), then start the fork as a live run of the session screen.

The fork point is the selected step's iteration (live: the last one). A session runs one run
at a time, so while a run is going, fork once it ends or after cancelling it (Esc); its last
finished iteration is then the fork point. A fork runs in a REPL worker of its own (rebuilt
from the recording): the session's worker, and its variables, are left as they were.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from rlm_engine import RLM, RLMError
from rlm_engine.fork import start_fork
from rlm_engine.replay import RecordedRun

from .fork_dialog import ForkDialog, ForkRequest


def fork_point(view) -> Optional[tuple[int, int]]:
    """(run index, iteration) to fork at, from the view's selection; None with no run."""
    runs = view.runs
    if not runs:
        return None
    if view.selected is not None:
        r, it = view.selected
    else:
        r = len(runs) - 1
        it = len(runs[r].state.iterations)
    run = runs[r]
    if not run.done and it >= len(run.state.iterations):
        it = max(0, len(run.state.iterations) - 1)  # the one going on is not finished
    return r, it


async def fork_here(view) -> None:
    """Ask for the fork's changes and start it (an async worker of `view`)."""
    point = fork_point(view)
    if point is None:
        view.notify("no run to fork yet: ask a question, or open one from the history",
                    severity="warning")
        return
    if view.app.session.busy:  # one run at a time in a session
        view.notify("a run is going: wait for it or cancel it (Esc), then fork",
                    severity="warning")
        return
    r, at = point
    run = view.runs[r]
    if isinstance(run, RecordedRun):
        parent = run
    elif run.trajectory_path is None:
        view.notify("this run was not saved, so it cannot be forked", severity="warning")
        return
    else:
        try:
            parent = await asyncio.to_thread(RecordedRun.load, run.trajectory_path)
        except (OSError, ValueError) as exc:
            view.notify(f"cannot read the run's file: {exc}", severity="error")
            return
    start = parent.state.started
    if start is None:
        view.notify("the file holds no run to fork", severity="error")
        return
    settings = view.app.session.settings
    from_rlms = start.settings.get("source") == "rlms log"
    model = settings.model if from_rlms else start.model  # an rlms log has no backend names
    sub = (settings.recursive_model or settings.model) if from_rlms else start.recursive_model
    record = parent.state.iterations[at - 1] if at else None
    last_code = record.blocks[-1].code if record is not None and record.blocks else ""

    def chosen(request: Optional[ForkRequest]) -> None:
        if request is not None:
            launch(view, parent, request)

    view.app.push_screen(ForkDialog(at, len(parent.state.iterations), model, sub, last_code),
                         chosen)


def launch(view, parent: RecordedRun, request: ForkRequest) -> None:
    """Start the fork in the session screen (closing the replay and history screens above
    it)."""
    app = view.app
    session_screen = app._session_screen()
    if session_screen is None:
        view.notify("no session to run the fork in", severity="error")
        return
    if session_screen.session.busy:
        view.notify("a run is going: wait for it, or cancel it, then fork", severity="warning")
        return
    while app.screen is not session_screen and len(app.screen_stack) > 1:
        app.pop_screen()
    session_screen.start_fork(parent, request)


def begin(session_screen, parent: RecordedRun, request: ForkRequest):
    """The fork's RLM and Run, or a one-line error (RLMError) for a bad model or a context
    that cannot be found."""
    settings = session_screen.session.settings.with_(
        model=request.model, recursive_model=request.sub_model or None)
    rlm = RLM.from_config(settings)
    options = request.options
    try:
        run = start_fork(rlm, parent, options)
    except RLMError:
        asyncio.get_running_loop().create_task(rlm.aclose())
        raise
    return rlm, run
