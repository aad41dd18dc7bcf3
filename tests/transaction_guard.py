"""A pytest plugin loaded by conftest: the suite fails if anything but the request pipeline
(``tracker/pipeline.py``) or a CLI command (``tracker/cli.py``) commits or rolls back, and
above all if a service does — whatever the test was about.

Every commit and rollback of any session is watched (SQLAlchemy session events); the call
stack at that moment names who asked for it.
"""

import sys
import traceback
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

TRACKER = Path(__file__).resolve().parent.parent / "tracker"
#: The only modules that end a transaction.
OWNERS = {TRACKER / "pipeline.py", TRACKER / "cli.py"}
#: Modules whose functions are services: they flush, never commit or roll back.
SERVICE_MODULES = {
    *TRACKER.glob("*/services.py"),
    TRACKER / "auth" / "tokens.py",
    TRACKER / "auth" / "two_factor.py",
    TRACKER / "auth" / "sessions.py",
    TRACKER / "petitions" / "importing.py",
    TRACKER / "demo.py",
}
violations: list[str] = []


def transaction_end_problem(frames) -> str | None:
    """What is wrong with ending a transaction from this stack (outermost first), or None."""
    ours = [Path(frame.filename).resolve() for frame in frames]
    ours = [path for path in ours if path.is_relative_to(TRACKER)]
    services = [path for path in ours if path in SERVICE_MODULES]
    if services:
        return f"a service ended a transaction: {services[-1].relative_to(TRACKER)}"
    if ours and ours[-1] not in OWNERS:
        return f"{ours[-1].relative_to(TRACKER)} ended a transaction, not the pipeline"
    return None


def _stack():
    """The calling frames, outermost first (file names only: cheap enough for every commit)."""
    frames, frame = [], sys._getframe(2)
    while frame is not None:
        frames.append(traceback.FrameSummary(frame.f_code.co_filename, 0, "", lookup_line=False))
        frame = frame.f_back
    return frames[::-1]


def _watch(kind):
    def listener(session, *args):
        problem = transaction_end_problem(_stack())
        if problem:
            violations.append(f"{kind}: {problem}")

    return listener


event.listen(Session, "after_commit", _watch("commit"))
event.listen(Session, "after_soft_rollback", _watch("rollback"))


@pytest.fixture(autouse=True)
def no_transaction_ended_outside_the_pipeline():
    violations.clear()
    yield
    found, violations[:] = list(violations), []
    assert not found, "\n".join(found)
