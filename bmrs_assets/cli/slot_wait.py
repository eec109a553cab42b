"""A CLI run waiting for a pool slot sleeps between checks and stops when it is asked to.

Dagster 1.13's in-process executor (the one ``execute_in_process`` uses) waits for a slot by
looping over ``ActiveExecution.sleep_til_ready``, which sleeps
``InstanceConcurrencyContext.interval_to_next_pending_claim_check()`` seconds. That method returns
``min([0, *remaining])``, never more than 0, so the loop never sleeps: measured, a CLI run blocked
on the ``elexon_api`` pool spins at 50-98 % of a core for as long as it waits. And the loop never
looks at the interrupt flag Dagster's signal handler sets (``capture_interrupts``), so a SIGTERM
or Ctrl-C is held until the step gets its slot and starts: a run blocked behind a leaked slot
outlived a SIGTERM for over 8 minutes.

:func:`install` replaces that one method: it raises ``DagsterExecutionInterruptedError`` when an
interrupt is pending (the run then ends as an interrupted run does: pending claims released by the
concurrency context, the run reported failed), else returns the time to the next check, between 0
and :data:`MAX_SLEEP_S` (a signal does not cut a ``time.sleep`` short, so the cap is how long a
stop request can wait). The claim checks themselves keep Dagster's back-off (1 s up to 15 s): a
wake-up before a check is due costs no storage query. Only the in-process executor
calls it; the multiprocess executor of daemon-launched runs checks interrupts itself.
"""

from __future__ import annotations

import time

from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._utils.interrupts import check_captured_interrupt

MAX_SLEEP_S = 0.5


def interval_to_next_pending_claim_check(self: InstanceConcurrencyContext) -> float:
    """Seconds until a pending claim is due again (0..MAX_SLEEP_S); raises if the run was asked to stop."""
    if not self._pending_claims:
        return 0.0
    if check_captured_interrupt():
        raise DagsterExecutionInterruptedError("interrupted while waiting for a pool slot")
    now = time.time()
    due = min((ready_at - now for ready_at in self._pending_timeouts.values()), default=0.0)
    return min(MAX_SLEEP_S, max(0.0, due))


def install() -> None:
    """Use :func:`interval_to_next_pending_claim_check` for every in-process run of this process."""
    InstanceConcurrencyContext.interval_to_next_pending_claim_check = interval_to_next_pending_claim_check
