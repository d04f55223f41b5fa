"""Small helpers shared by the engine tests."""

from __future__ import annotations

from rlm_engine import RLM, events as ev


def make_rlm(backend, root="root", sub=None, **kw) -> RLM:
    kw.setdefault("max_retries", 0)
    return RLM(model=backend.spec(root), recursive_model=backend.spec(sub) if sub else None,
               **kw)


async def collect(rlm: RLM, prompt: str = "question", context=None):
    """Run to the end; (result, events)."""
    run = rlm.start(prompt, context)
    events = [e async for e in run]
    await rlm.aclose()
    return run.result, events


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


def last_user_message(request: dict) -> str:
    msgs = request["body"]["messages"]
    return [m for m in msgs if m["role"] == "user"][-1]["content"]


def kinds(events) -> list[str]:
    return [e.kind for e in events if not isinstance(e, (ev.TokenDelta, ev.ThinkingDelta,
                                                         ev.CodeOutput, ev.UsageUpdated))]


def running(pid: int) -> bool:
    """Process `pid` exists and is not dead-but-unreaped (a zombie runs no code)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")
