"""Recording sessions at a level: capture per step, retention per session, the manifest."""

from agent.recording.manifest import ArtifactRecord, SessionManifest
from agent.recording.policy import RecordingPolicy, Role
from agent.recording.recorder import SessionInfo, SessionRecorder

__all__ = [
    "ArtifactRecord",
    "RecordingPolicy",
    "Role",
    "SessionInfo",
    "SessionManifest",
    "SessionRecorder",
]
