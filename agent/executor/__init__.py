"""Running scripts: the executor and its actions."""

from agent.executor.runner import ExecutorSettings, ScriptExecutor

__all__ = ["ExecutorSettings", "ScriptExecutor"]
