"""Storage estimates per recording level, from real manifests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from loguru import logger
from pydantic import ValidationError

from agent.levels import RecordingLevel
from agent.recording.manifest import MANIFEST_NAME, SessionManifest
from agent.storage.keys import ROOT_PREFIX, is_session_manifest

S3_STANDARD_USD_PER_GB_MONTH = 0.023
DAYS_PER_MONTH = 30
# The seed design's own figures (MB per session, USD per month at 100 sessions a day).
SEED_ESTIMATES: dict[RecordingLevel, tuple[float, float]] = {
    RecordingLevel.NONE: (0.0, 0.0),
    RecordingLevel.ERROR: (1.0, 0.02),
    RecordingLevel.INFO: (0.6, 0.50),
    RecordingLevel.DEBUG: (20.0, 10.0),
    RecordingLevel.TRACE: (59.0, 50.0),
}


@dataclass(frozen=True)
class LevelEstimate:
    level: RecordingLevel
    manifests: int
    bytes_per_kept_session: float
    bytes_per_session: float  # expected, over all sessions (ERROR keeps only failures)
    bytes_per_day: float
    bytes_per_month: float
    usd_per_month: float  # S3 Standard, at steady state with the retention period
    seed_mb_per_session: float
    seed_usd_per_month: float


def read_manifests(root: Path) -> list[SessionManifest]:
    manifests = []
    for path in sorted(root.rglob(MANIFEST_NAME)):
        if not _is_session_manifest(path):
            continue  # e.g. an extract named `manifest` inside a session
        try:
            manifests.append(SessionManifest.model_validate_json(path.read_text(encoding="utf-8")))
        except (ValidationError, OSError, UnicodeDecodeError) as exc:
            logger.warning("skipping {}: not a readable manifest ({})", path, exc)
    return manifests


def _is_session_manifest(path: Path) -> bool:
    """`…/browser-sessions/{env}/Y/M/D/{id}/manifest.json`, wherever the layout starts."""
    parts = path.parts
    if ROOT_PREFIX not in parts:
        return False
    start = len(parts) - 1 - parts[::-1].index(ROOT_PREFIX)
    return is_session_manifest("/".join(parts[start:]))


def estimate(
    manifests: Iterable[SessionManifest],
    *,
    sessions_per_day: int,
    failure_rate: float,
    retention_days: int,
) -> list[LevelEstimate]:
    by_level: dict[RecordingLevel, list[int]] = {level: [] for level in RecordingLevel}
    for manifest in manifests:
        by_level[RecordingLevel.parse(manifest.level)].append(manifest.total_bytes)
    rows = []
    for level, sizes in by_level.items():
        kept = sum(sizes) / len(sizes) if sizes else 0.0
        per_session = kept * failure_rate if level == RecordingLevel.ERROR else kept
        per_day = per_session * sessions_per_day
        stored_gb = per_day * retention_days / 1e9
        seed_mb, seed_usd = SEED_ESTIMATES[level]
        rows.append(
            LevelEstimate(
                level=level,
                manifests=len(sizes),
                bytes_per_kept_session=kept,
                bytes_per_session=per_session,
                bytes_per_day=per_day,
                bytes_per_month=per_day * DAYS_PER_MONTH,
                usd_per_month=stored_gb * S3_STANDARD_USD_PER_GB_MONTH,
                seed_mb_per_session=seed_mb,
                seed_usd_per_month=seed_usd * sessions_per_day / 100,
            )
        )
    return rows
