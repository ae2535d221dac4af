"""What each recording level captures per step and keeps per session (spec 4.1)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from agent.levels import RecordingLevel


class Role(StrEnum):
    """Why an artifact was captured; retention keeps an artifact if any of its roles is kept."""

    STEP = "step"  # the page after an ordinary step
    KEY = "key"  # the page after a key step (extract, screenshot, navigation, submit, act)
    RING = "ring"  # one of the last few steps before a failure
    EXPLICIT = "explicit"  # a `screenshot` step's own picture
    EXTRACT = "extract"  # an `extract` step's output
    FINAL = "final"  # the page at the end of the session
    FAILURE = "failure"  # the page when the failing step failed, and the error details
    SESSION = "session"  # whole-session media: video, trace, HAR, console log


KEY_ACTIONS = frozenset({"goto", "extract", "screenshot", "act", "act_with_schema"})

_KEPT_ALWAYS: dict[RecordingLevel, frozenset[Role]] = {
    RecordingLevel.NONE: frozenset(),
    RecordingLevel.ERROR: frozenset(),
    RecordingLevel.INFO: frozenset({Role.FINAL, Role.EXTRACT, Role.EXPLICIT}),
    RecordingLevel.DEBUG: frozenset({Role.FINAL, Role.EXTRACT, Role.EXPLICIT, Role.KEY}),
    RecordingLevel.TRACE: frozenset(Role),
}
_KEPT_ON_FAILURE = frozenset({Role.RING, Role.FAILURE})


@dataclass(frozen=True)
class RecordingPolicy:
    level: RecordingLevel
    ring_size: int = 3

    @property
    def records(self) -> bool:
        return self.level > RecordingLevel.NONE

    @property
    def records_session_media(self) -> bool:
        """Video, trace, HAR and console log: TRACE only."""
        return self.level >= RecordingLevel.TRACE

    def step_roles(self, action: str, navigated: bool) -> set[Role]:
        """Roles of the capture taken after a step that succeeded (empty: take none)."""
        if not self.records:
            return set()
        roles = {Role.RING}
        if action in KEY_ACTIONS or navigated:
            roles.add(Role.KEY)
        if self.level >= RecordingLevel.TRACE:
            roles.add(Role.STEP)
        return roles

    def kept_roles(self, success: bool) -> frozenset[Role]:
        kept = _KEPT_ALWAYS[self.level]
        if not success and self.records:
            kept = kept | _KEPT_ON_FAILURE
        return kept
