"""The microphone as an ``AudioSource``: sounddevice capture that survives bad and lost devices.

The PortAudio callback only copies each block into a bounded queue (a full queue drops the
block and counts it). Everything else happens on the reading thread: down-mixing, resampling
to 16 kHz, framing, rate-limited overflow warnings, and reopening a device that stopped
delivering audio (USB unplug, sound server restart) with exponential backoff.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from assistant.audio.devices import find_device, import_sounddevice
from assistant.audio.resample import Reframer, Resampler, to_mono_int16
from assistant.config.schema import AudioConfig
from assistant.errors import AssistantError
from assistant.logs import RateLimitedLog
from assistant.protocols import SAMPLE_RATE, Samples

log = logging.getLogger("assistant.audio.microphone")

FIRST_BACKOFF_S = 0.25


class MicrophoneSource:
    """16 kHz mono int16 frames from a sounddevice input chosen by a name substring.

    ``status`` is "starting", "ok", "reopening: <why>" or "closed"; counters ``overflows``
    (PortAudio input overflows), ``dropped_blocks`` (queue full), ``reopen_attempts`` and
    ``reopens`` tell how healthy the capture is.
    """

    def __init__(self, config: AudioConfig, sounddevice: Any = None) -> None:
        self.config = config
        self._sd = sounddevice or import_sounddevice()
        self.frame_samples = SAMPLE_RATE * config.block_ms // 1000
        self.status = "starting"
        self.overflows = 0
        self.dropped_blocks = 0
        self.reopen_attempts = 0
        self.reopens = 0
        self.capture_rate = 0
        self.channels = 0
        self.device_name = ""
        self._stream: Any = None
        self._queue: queue.Queue[np.ndarray] = queue.Queue(1)
        self._lost = threading.Event()
        self._closed = threading.Event()
        self._warn = RateLimitedLog(log, 10.0)
        self._seen_overflows = 0
        self._seen_dropped = 0
        self._open()  # a wrong name or an unusable device fails here, with a one-line error

    # -- opening --------------------------------------------------------------------------

    def _candidates(self, device: int | None) -> list[tuple[int, int]]:
        try:
            info = self._sd.query_devices(device, "input")
        except (ValueError, self._sd.PortAudioError):
            raise AssistantError(
                "no default audio input device: plug in a microphone or set audio.input_device (see 'assistant devices')"
            ) from None
        self.device_name = str(info["name"])
        native = int(info["default_samplerate"])
        rates = [self.config.capture_rate] if self.config.capture_rate else [SAMPLE_RATE, native]
        channels = [1, int(info["max_input_channels"])]
        return [(r, c) for r in dict.fromkeys(rates) for c in dict.fromkeys(channels) if c > 0]

    def _open(self) -> None:
        sd = self._sd
        device = find_device(self.config.input_device, "input")
        errors = []
        for rate, channels in self._candidates(device):
            block = rate * self.config.block_ms // 1000
            self._queue = queue.Queue(max(2, int(self.config.queue_seconds * rate / block)))
            self._lost.clear()
            stream = None
            try:
                stream = sd.InputStream(
                    device=device, samplerate=rate, channels=channels, dtype="int16", blocksize=block,
                    latency=self.config.latency_s, callback=self._callback, finished_callback=self._lost.set,
                )
                stream.start()
            except sd.PortAudioError as err:
                errors.append(f"{rate} Hz x{channels}: {err}")
                if stream is not None:
                    stream.close()
                continue
            self._resampler = Resampler(rate, SAMPLE_RATE)
            self._reframer = Reframer(self.frame_samples)
            self.capture_rate, self.channels = rate, channels
            self._stream = stream
            self._last_data = time.monotonic()
            self.status = "ok"
            log.info("capturing from %r at %d Hz, %d channel(s)", self.device_name, rate, channels)
            return
        raise AssistantError(f"cannot open microphone {self.device_name!r}: {'; '.join(errors)}")

    def _callback(self, indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.input_overflow:
            self.overflows += 1
        try:
            self._queue.put_nowait(indata.copy())
        except queue.Full:
            self.dropped_blocks += 1

    # -- reading --------------------------------------------------------------------------

    def frames(self) -> Iterator[Samples]:
        while not self._closed.is_set():
            if self._stream is None:
                self._reopen()
                continue
            try:
                block = self._queue.get(timeout=0.1)
            except queue.Empty:
                self._check_alive()
                continue
            self._last_data = time.monotonic()
            self._report_losses()
            samples = self._resampler.process(to_mono_int16(block))
            yield from self._reframer.push(samples)
        self.status = "closed"

    def _check_alive(self) -> None:
        stream = self._stream  # close() may clear it from another thread
        if stream is None:
            return
        silent_for = time.monotonic() - self._last_data
        if self._lost.is_set() or not stream.active:
            self._lose("device lost")
        elif silent_for > self.config.stall_timeout_s:
            self._lose(f"no audio for {silent_for:.1f} s")

    def _lose(self, why: str) -> None:
        if self._closed.is_set():
            return
        log.warning("microphone %r: %s; reopening", self.device_name, why)
        self.status = f"reopening: {why}"
        self._close_stream()

    def _reopen(self) -> None:
        backoff = FIRST_BACKOFF_S
        while not self._closed.is_set():
            self.reopen_attempts += 1
            try:
                self._open()
            except AssistantError as err:
                self.status = f"reopening: {err}"
                log.debug("reopen failed: %s", err)
            except Exception as err:  # PortAudio can fail in odd ways while devices come and go
                self.status = f"reopening: {err}"
            else:
                self.reopens += 1
                log.warning("microphone %r is back", self.device_name)
                return
            if self._closed.wait(backoff):
                return
            backoff = min(backoff * 2, self.config.reopen_max_backoff_s)
            if self.reopen_attempts % 4 == 0:
                _refresh_portaudio(self._sd)

    def _report_losses(self) -> None:
        if self.overflows != self._seen_overflows or self.dropped_blocks != self._seen_dropped:
            self._warn.warning(
                "audio lost: %d input overflows, %d blocks dropped (reader too slow) so far",
                self.overflows, self.dropped_blocks,
            )
            self._seen_overflows, self._seen_dropped = self.overflows, self.dropped_blocks

    def _close_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as err:
                log.debug("closing input stream: %s", err)

    def close(self) -> None:
        self._closed.set()
        self._close_stream()
        self.status = "closed"


def _refresh_portaudio(sd: Any) -> None:
    """Re-scan devices so a re-plugged USB microphone (maybe at a new index) can be found."""
    try:
        sd._terminate()
        sd._initialize()
    except Exception as err:
        log.debug("PortAudio re-scan failed: %s", err)
