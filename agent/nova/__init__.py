"""Nova Act steps (`act`, `act_with_schema`) through the Nova Act SDK (the `nova` extra).

Nothing here imports the SDK until a step runs, so the agent installs and runs without it.
"""

from agent.nova.runner import ActOutcome, ActRequest, NovaActRunner, NovaActSession

__all__ = ["ActOutcome", "ActRequest", "NovaActRunner", "NovaActSession"]
