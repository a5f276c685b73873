"""Sample-format helpers: to mono int16, streaming polyphase resampling, fixed-size framing.

Pure numpy, so it runs on the Pi without scipy or soxr. The resampler is a windowed-sinc
(Kaiser) low-pass applied in polyphase form, keeping just enough history between calls to
give exactly the same output as one call on the whole signal.
"""

from __future__ import annotations

from collections.abc import Iterator
from math import gcd

import numpy as np
import numpy.typing as npt

from assistant.protocols import SAMPLE_RATE, Samples

TAPS_PER_PHASE_MIN = 32  # filter taps per output sample (per phase); more = steeper transition
KAISER_BETA = 8.6  # about 90 dB stop-band attenuation


def to_mono_int16(data: npt.NDArray[np.generic]) -> Samples:
    """Average the channels of (frames,) or (frames, channels) audio into mono int16."""
    array = np.asarray(data)
    if np.issubdtype(array.dtype, np.floating):
        array = array * 32767.0
    if array.ndim == 2:
        array = array.mean(axis=1) if array.shape[1] > 1 else array[:, 0]
    if array.dtype == np.int16:
        return array
    return np.clip(np.rint(array), -32768, 32767).astype(np.int16)


def _lowpass(up: int, down: int, taps_per_phase: int) -> npt.NDArray[np.float64]:
    """Polyphase matrix [up, taps_per_phase] of a low-pass at the lower of the two Nyquists."""
    length = up * taps_per_phase
    cutoff = 0.5 / max(up, down) * 0.92  # cycles per up-sampled sample, with a transition band
    n = np.arange(length) - (length - 1) / 2.0
    taps = 2 * cutoff * np.sinc(2 * cutoff * n) * np.kaiser(length, KAISER_BETA)
    taps *= up / taps.sum()  # unity gain after zero-stuffing by ``up``
    return taps.reshape(taps_per_phase, up).T.copy()  # [phase, k] = taps[phase + k * up]


class Resampler:
    """Streaming rational resampler from ``in_rate`` to ``out_rate`` for mono int16 audio."""

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE) -> None:
        if in_rate <= 0 or out_rate <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} -> {out_rate}")
        g = gcd(in_rate, out_rate)
        self.in_rate, self.out_rate = in_rate, out_rate
        self.up, self.down = out_rate // g, in_rate // g
        self.passthrough = self.up == self.down
        self._k = max(TAPS_PER_PHASE_MIN, int(np.ceil(TAPS_PER_PHASE_MIN * self.down / self.up)))
        self._poly = _lowpass(self.up, self.down, self._k) if not self.passthrough else np.zeros((1, 1))
        self.reset()

    def reset(self) -> None:
        self._history = np.zeros(self._k - 1, dtype=np.float64)  # the input samples before ``_base``
        self._base = 0  # absolute index of the first new input sample
        self._next_out = 0  # absolute index of the next output sample

    @property
    def delay_s(self) -> float:
        """Group delay the filter adds, in seconds."""
        return 0.0 if self.passthrough else (self._k * self.up - 1) / 2.0 / (self.in_rate * self.up)

    def process(self, samples: Samples) -> Samples:
        """Resample the next block; returns every output sample that the input so far determines."""
        if self.passthrough:
            return samples
        x = np.concatenate([self._history, samples.astype(np.float64)])
        end = self._base + len(samples)  # absolute index one past the last input
        last_out = (end * self.up - 1) // self.down  # outputs whose newest input index < end
        count = max(0, last_out - self._next_out + 1)
        if count:
            u = (self._next_out + np.arange(count)) * self.down
            newest = u // self.up  # absolute index of the newest input each output uses
            phase = u % self.up
            offset = newest - self._base + len(self._history)  # index into x
            gather = x[offset[:, None] - np.arange(self._k)[None, :]]
            y = np.einsum("mk,mk->m", gather, self._poly[phase])
            self._next_out += count
        else:
            y = np.zeros(0)
        self._history = x[len(x) - (self._k - 1) :]
        self._base = end
        return np.clip(np.rint(y), -32768, 32767).astype(np.int16)


def resample(samples: Samples, in_rate: int, out_rate: int = SAMPLE_RATE) -> Samples:
    """One-shot resampling of a whole mono int16 signal (output length in_len * out / in)."""
    resampler = Resampler(in_rate, out_rate)
    if resampler.passthrough:
        return samples
    # Pad with the filter's length so the tail comes out, then trim the group delay.
    delay = round(resampler.delay_s * out_rate)
    pad = np.zeros(int(np.ceil(resampler.delay_s * in_rate)) + resampler._k, dtype=np.int16)
    out = resampler.process(np.concatenate([samples, pad]))
    want = round(len(samples) * out_rate / in_rate)
    return out[delay : delay + want]


class Reframer:
    """Cuts a stream of arbitrary-length blocks into frames of exactly ``frame_samples``."""

    def __init__(self, frame_samples: int) -> None:
        self.frame_samples = frame_samples
        self._pending = np.zeros(0, dtype=np.int16)

    def push(self, samples: Samples) -> Iterator[Samples]:
        data = np.concatenate([self._pending, samples]) if len(self._pending) else samples
        n = self.frame_samples
        whole = len(data) // n * n
        for start in range(0, whole, n):
            yield data[start : start + n]
        self._pending = data[whole:].copy()

    def flush(self) -> Samples | None:
        """The last partial frame, padded with silence, or None."""
        if not len(self._pending):
            return None
        frame = np.zeros(self.frame_samples, dtype=np.int16)
        frame[: len(self._pending)] = self._pending
        self._pending = np.zeros(0, dtype=np.int16)
        return frame
