"""The script (template) model of spec section 2; unknown fields are rejected."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agent.levels import RecordingLevel

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Extract and screenshot names become file names: no leading dot, no path separators.
ARTIFACT_NAME = r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Viewport(_Strict):
    width: int = Field(1280, ge=100, le=7680)
    height: int = Field(720, ge=100, le=4320)


class SessionOptions(_Strict):
    recording_level: str | None = None
    profile: str | None = None
    required_tags: list[str] = Field(default_factory=list)
    viewport: Viewport = Field(default_factory=Viewport)

    @field_validator("recording_level")
    @classmethod
    def _known_level(cls, value: str | None) -> str | None:
        if value is not None:
            RecordingLevel.parse(value)
        return value


class VariableSpec(_Strict):
    required: bool = False
    secret: bool = False
    default: str | None = None
    description: str | None = None


class _Step(_Strict):
    description: str | None = None
    timeout_ms: int | None = Field(None, ge=1, le=600_000)


class Goto(_Step):
    action: Literal["goto"]
    url: str = Field(min_length=1)


class Click(_Step):
    action: Literal["click"]
    selector: str = Field(min_length=1)


class Fill(_Step):
    action: Literal["fill"]
    selector: str = Field(min_length=1)
    value: str


class Press(_Step):
    action: Literal["press"]
    selector: str = Field(min_length=1)
    key: str = Field(min_length=1)


class Select(_Step):
    action: Literal["select"]
    selector: str = Field(min_length=1)
    value: str


class Check(_Step):
    action: Literal["check"]
    selector: str = Field(min_length=1)
    checked: bool = True


class _OneTarget(_Step):
    """A step aimed at exactly one of: a selector, a text, a URL."""

    @model_validator(mode="after")
    def _exactly_one_target(self) -> Any:
        targets = self._targets()
        given = [name for name in targets if getattr(self, name) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of {', '.join(targets)} (got {len(given)})")
        return self

    def _targets(self) -> tuple[str, ...]:
        return ("selector", "text")


class WaitFor(_OneTarget):
    action: Literal["wait_for"]
    selector: str | None = Field(None, min_length=1)
    text: str | None = Field(None, min_length=1)
    url: str | None = Field(None, min_length=1)

    def _targets(self) -> tuple[str, ...]:
        return ("selector", "text", "url")


class Extract(_Step):
    action: Literal["extract"]
    name: str = Field(min_length=1, pattern=ARTIFACT_NAME)
    selector: str = Field(min_length=1)
    fields: dict[str, str] | None = None
    multiple: bool = False
    schema_: dict[str, Any] | None = Field(None, alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class Screenshot(_Step):
    action: Literal["screenshot"]
    name: str = Field(min_length=1, pattern=ARTIFACT_NAME)
    full_page: bool = False


class Assert(_OneTarget):
    action: Literal["assert"]
    selector: str | None = Field(None, min_length=1)
    text: str | None = Field(None, min_length=1)
    present: bool = True


class Act(_Step):
    action: Literal["act"]
    prompt: str = Field(min_length=1)
    max_steps: int | None = Field(None, ge=1, le=100)


class ActWithSchema(_Step):
    action: Literal["act_with_schema"]
    prompt: str = Field(min_length=1)
    schema_: dict[str, Any] = Field(alias="schema")
    max_steps: int | None = Field(None, ge=1, le=100)
    # With a name, the answer also goes into the result's outputs (like an extract's).
    name: str | None = Field(None, min_length=1, pattern=ARTIFACT_NAME)

    model_config = ConfigDict(populate_by_name=True)


Step = Annotated[
    Goto
    | Click
    | Fill
    | Press
    | Select
    | Check
    | WaitFor
    | Extract
    | Screenshot
    | Assert
    | Act
    | ActWithSchema,
    Field(discriminator="action"),
]

ACTIONS: tuple[str, ...] = (
    "goto",
    "click",
    "fill",
    "press",
    "select",
    "check",
    "wait_for",
    "extract",
    "screenshot",
    "assert",
    "act",
    "act_with_schema",
)
NOVA_ACT_ACTIONS = frozenset({"act", "act_with_schema"})


class Script(_Strict):
    name: str = Field(min_length=1, max_length=200)
    version: str = Field("0.0.0", min_length=1, max_length=64)
    description: str | None = None
    starting_page: str | None = None
    session: SessionOptions = Field(default_factory=SessionOptions)
    variables: dict[str, VariableSpec] = Field(default_factory=dict)
    abort_on_error: bool = True
    steps: list[Step] = Field(min_length=1)

    @field_validator("variables")
    @classmethod
    def _variable_names(cls, value: dict[str, VariableSpec]) -> dict[str, VariableSpec]:
        for name in value:
            if not VARIABLE_NAME.fullmatch(name):
                raise ValueError(f"variable name {name!r} must match {VARIABLE_NAME.pattern}")
        return value

    @property
    def secret_names(self) -> set[str]:
        return {name for name, spec in self.variables.items() if spec.secret}
