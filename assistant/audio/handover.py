"""Hand-over from the wake word to the command: where the wake phrase ends.

A wake-word model fires somewhere near the end of its phrase: up to about 0.2 s before the
phrase's last sound (its score is already over the threshold) or up to about 0.2 s after it;
its score falls back only 0.4-1 s later, often after the command has begun, so the score alone
cannot mark the end. The boundary is taken from the audio instead: in a window from
``LOOK_BACK_S`` before the detection to ``LOOK_AHEAD_S`` after it, the quietest stretch
(50 ms smoothed energy) in the longest run of frames the VAD calls silence, or among all
of them when the VAD's hangover bridged the pause. That is the pause people
leave after a wake word, however short (it is found even when the VAD's hangover bridges it),
and the command's audio (pre-roll included) may only start there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LOOK_BACK_S = 0.25  # the detection can come this long after the phrase ended
LOOK_AHEAD_S = 0.40  # ... or this long before (a slow speaker, an early-firing model)
SMOOTH_S = 0.05  # energy smoothing, so a stop consonant's closure is not taken for the pause
QUIET_DB = 3.0  # frames within this of the quietest count as the same quiet stretch
INTO_QUIET_S = 0.1  # the cut: this far into the quiet stretch (or its middle, if shorter); a soft onset
# of the command can sit inside the stretch's far end


def boundary(voiced: Sequence[bool], power: Sequence[float], frame_s: float) -> int:
    """Index of the first frame after the wake phrase, in a window of frames.

    ``voiced`` are the VAD's decisions and ``power`` the mean squares of the frames. The
    boundary is 0.1 s into the quiet stretch around the quietest point (its middle if shorter):
    after the phrase's last sound and, with a pause of 0.2 s or more, before the command's first.
    """
    n = len(power)
    if n == 0:
        return 0
    width = max(1, round(SMOOTH_S / frame_s))
    padded = np.pad(np.asarray(power, dtype=np.float64), (width // 2, width - 1 - width // 2), mode="edge")
    smooth = np.convolve(padded, np.ones(width) / width, mode="valid")
    level = 10 * np.log10(smooth + 1.0)
    silent = ~np.asarray(voiced, dtype=bool)
    if not silent.any():
        silent[:] = True  # the VAD bridged the pause: go by the energy alone
    silent = _longest_run(silent)  # the pause, not a stop consonant's closure in the command
    candidates = np.flatnonzero(silent)
    quietest = int(candidates[np.argmin(level[candidates])])
    quiet = silent & (level <= level[quietest] + QUIET_DB)
    first = last = quietest
    while first > 0 and quiet[first - 1]:
        first -= 1
    while last < n - 1 and quiet[last + 1]:
        last += 1
    return first + min((last - first + 1) // 2, round(INTO_QUIET_S / frame_s))


def _longest_run(mask: np.ndarray) -> np.ndarray:
    """Only the longest run of True in ``mask`` (the earliest of equals)."""
    best, best_len, start = 0, 0, None
    for i, on in enumerate([*mask.tolist(), False]):
        if on and start is None:
            start = i
        elif not on and start is not None:
            if i - start > best_len:
                best, best_len = start, i - start
            start = None
    out = np.zeros_like(mask)
    out[best : best + best_len] = True
    return out
