"""Playback volume: a percentage kept in the state directory, applied as a gain to everything played.

``Volume`` holds the level (``volume.json``, written atomically) and tells listeners (the Home
Assistant number entity) when it changes. ``VolumePlayer`` wraps the player and scales each chunk
by the gain at the moment it is played, so "quieter" takes effect within a sentence. The gain
follows a perceptual curve, ``(percent / 100) ** 2`` (80 % is about -4 dB, 50 % about -12 dB).
``VolumeTools`` is the ``set_volume`` tool: a percentage or up/down by ``audio.volume_step``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from assistant.language.phrases import text
from assistant.protocols import AudioChunk, ToolCall
from assistant.service.ports import Player

log = logging.getLogger("assistant.volume")

FILE_NAME = "volume.json"
TOOL = "set_volume"


class Volume:
    """The playback level in percent (0..100); thread-safe; persisted on every change."""

    def __init__(self, path: Path | None, default: int = 80, step: int = 10) -> None:
        self.path, self.step = path, step
        self._lock = threading.Lock()
        self._listeners: list[Callable[[int], None]] = []
        self._percent = self._load(default)

    def _load(self, default: int) -> int:
        if self.path is None or not self.path.exists():
            return default
        try:
            value = json.loads(self.path.read_text())["percent"]
            if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 100:
                return value
            raise ValueError(value)
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("ignoring %s (%s); volume %d percent", self.path, err, default)
            return default

    @property
    def percent(self) -> int:
        return self._percent

    @property
    def gain(self) -> float:
        return (self._percent / 100.0) ** 2

    def on_change(self, listener: Callable[[int], None]) -> None:
        self._listeners.append(listener)

    def set(self, percent: int) -> int:
        """Set (clamped to 0..100), persist, tell the listeners; returns the new level."""
        percent = max(0, min(100, int(percent)))
        with self._lock:
            changed = percent != self._percent
            self._percent = percent
            if changed:
                self._save(percent)
        if changed:
            log.info("volume %d percent", percent)
            for listener in self._listeners:
                try:
                    listener(percent)
                except Exception as err:
                    log.warning("volume listener failed: %s", err)
        return percent

    def _save(self, percent: int) -> None:
        if self.path is None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with tmp.open("w") as fh:
                json.dump({"percent": percent}, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as err:
            log.warning("cannot keep the volume in %s: %s", self.path, err)


def scaled(chunks: Iterable[AudioChunk], volume: Volume) -> Iterator[AudioChunk]:
    """``chunks`` at the volume's gain, read per chunk."""
    for chunk in chunks:
        gain = volume.gain
        if gain >= 0.999:
            yield chunk
            continue
        samples = np.clip(chunk.samples.astype(np.float32) * gain, -32768, 32767).astype(np.int16)
        yield AudioChunk(samples, chunk.sample_rate)


class VolumePlayer:
    """A ``Player`` that plays everything at ``volume``."""

    def __init__(self, inner: Player, volume: Volume) -> None:
        self.inner, self.volume = inner, volume

    def play(self, chunks: Iterable[AudioChunk]) -> None:
        self.inner.play(scaled(chunks, self.volume))

    def stop(self) -> None:
        self.inner.stop()

    @property
    def speaking(self) -> bool:
        return self.inner.speaking

    def wait(self, timeout: float) -> bool:
        return self.inner.wait(timeout)

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:  # played_s, errors, ... of the real player
        return getattr(self.inner, name)


class VolumeTools:
    """The ``set_volume`` tool: ``percent`` (0..100) or ``change`` (up/down), exactly one."""

    def __init__(self, volume: Volume) -> None:
        self.volume = volume

    def tool_schema(self) -> dict[str, dict[str, Any]]:
        return {TOOL: {
            "description": "Speaker volume: a percent, or up (louder) or down (quieter).",
            "arguments": {"percent": {"type": "integer", "minimum": 0, "maximum": 100},
                          "change": {"type": "string", "enum": ["up", "down"]}},
            "required": [], "per_device": {}, "exclusive": [["percent", "change"]], "min_optional": 1}}

    def execute(self, call: ToolCall) -> str:
        args: Mapping[str, Any] = call.arguments if isinstance(call.arguments, Mapping) else {}
        percent, change = args.get("percent"), args.get("change")
        if call.error or set(args) - {"percent", "change"} or (percent is None) == (change is None):
            return text("volume_bad")
        if change is not None:
            if change not in ("up", "down"):
                return text("volume_bad")
            now = self.volume.percent
            if (change == "up" and now >= 100) or (change == "down" and now <= 0):
                return text("volume_max" if change == "up" else "volume_min")
            target = now + (self.volume.step if change == "up" else -self.volume.step)
        else:
            if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 <= percent <= 100:
                return text("volume_bad")
            target = round(percent)
        return text("volume_set", percent=self.volume.set(target))
