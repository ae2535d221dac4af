"""Scripts: the model, loading with clear errors, and variable substitution."""

from agent.script.loader import decode_json, load_script_file, parse_script
from agent.script.model import NOVA_ACT_ACTIONS, Script, Step
from agent.script.variables import BoundScript, SecretRef, VariableValue, bind

__all__ = [
    "NOVA_ACT_ACTIONS",
    "BoundScript",
    "Script",
    "SecretRef",
    "Step",
    "VariableValue",
    "bind",
    "decode_json",
    "load_script_file",
    "parse_script",
]
