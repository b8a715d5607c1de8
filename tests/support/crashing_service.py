"""``omnifoa serve`` that kills itself (SIGKILL, as a power cut would) at one chosen moment of
its first job, named by ``OMNIFOA_TEST_CRASH``:

- ``execute``: just after the worker starts the job (journal: running);
- ``move:N``: at the N-th file move when the job's output transaction commits (journal: committing),
  so ``move:1`` is before anything moved and ``move:2`` is between the stem and its sidecar;
- ``done``: after every file moved, before the journal says done.
"""

from __future__ import annotations

import os
import signal
import sys
import time
import types

from plugin_core import atomic_files
from plugin_core.cli.main import main
from plugin_core.service import jobs


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _arm(moment: str) -> None:
    if moment == "execute":

        def die_on_start(self: jobs.JobQueue, job: jobs.Job) -> None:
            time.sleep(0.5)  # let the submit's answer reach the client first
            _die()

        jobs.JobQueue._execute = die_on_start
    elif moment.startswith("move:"):
        at, moves, committing = int(moment.split(":")[1]), [0], [False]

        def replace(src: str, dst: str) -> None:
            if committing[0]:
                moves[0] += 1
                if moves[0] == at:
                    _die()
            os.replace(src, dst)

        commit = atomic_files.OutputTransaction.commit

        def counted_commit(self: atomic_files.OutputTransaction) -> None:
            committing[0] = True
            try:
                commit(self)
            finally:
                committing[0] = False

        atomic_files.os = types.SimpleNamespace(**{**vars(os), "replace": replace})
        atomic_files.OutputTransaction.commit = counted_commit
    elif moment == "done":
        finish = jobs.JobQueue._finish

        def finish_then_die(self, job, state, error):
            if state == "done":
                _die()
            finish(self, job, state, error)

        jobs.JobQueue._finish = finish_then_die
    else:
        raise SystemExit(f"unknown OMNIFOA_TEST_CRASH {moment!r}")


if __name__ == "__main__":
    _arm(os.environ["OMNIFOA_TEST_CRASH"])
    sys.exit(main(sys.argv[1:]))
