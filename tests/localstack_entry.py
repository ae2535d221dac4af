"""LocalStack's entry point for the tests, with one race fixed (run by tests/localstack.py with
`.venv-localstack`'s Python and `-P`, so this folder's localstack.py does not shadow the package).

The race (localstack-core 2026.3.0): after ActivityStarted, an activity task state makes a new
heartbeat endpoint and waits on it for the next heartbeat or answer. An answer that arrives
before that endpoint exists is stored but wakes nothing, so the state waits out HeartbeatSeconds
and the execution fails with a timeout although SendTaskSuccess/SendTaskFailure returned 200.
A worker that answers at once (invalid input) on a busy machine hits it; AWS has no such gap.
Reproduced outside the tests: 1 of 150 executions answered at once, lost this way.
The fix: a new heartbeat endpoint is woken at once when the answer is already in.
"""

from __future__ import annotations

import runpy

from localstack.services.stepfunctions.asl.eval.callback.callback import (
    CallbackEndpoint,
    HeartbeatEndpoint,
)

_setup_heartbeat_endpoint = CallbackEndpoint.setup_heartbeat_endpoint


def _setup_heartbeat_endpoint_seeing_an_early_answer(
    self: CallbackEndpoint, heartbeat_seconds: int
) -> HeartbeatEndpoint:
    endpoint = _setup_heartbeat_endpoint(self, heartbeat_seconds=heartbeat_seconds)
    # notify() stores the outcome and then wakes the heartbeat endpoint if there is one: either
    # it sees this endpoint, or the outcome is already visible here.
    if self.get_outcome() is not None:
        endpoint.notify()
    return endpoint


CallbackEndpoint.setup_heartbeat_endpoint = _setup_heartbeat_endpoint_seeing_an_early_answer

if __name__ == "__main__":
    runpy.run_module("localstack.runtime.main", run_name="__main__", alter_sys=True)
