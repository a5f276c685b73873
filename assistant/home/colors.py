"""Named colours the model may choose, and their conversions for each light protocol."""

from __future__ import annotations

import colorsys

# Closed set offered to the model; "warm white"/"cool white" use colour temperature when the light has it.
COLORS: dict[str, tuple[int, int, int]] = {
    "red": (255, 0, 0),
    "orange": (255, 128, 0),
    "yellow": (255, 220, 0),
    "green": (0, 255, 0),
    "cyan": (0, 255, 255),
    "blue": (0, 0, 255),
    "purple": (128, 0, 255),
    "pink": (255, 64, 160),
    "white": (255, 255, 255),
    "warm white": (255, 180, 110),
    "cool white": (220, 235, 255),
}
WHITE_MIREDS = {"white": 300, "warm white": 370, "cool white": 220}


def rgb_to_hs(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """Hue in degrees 0-360 and saturation in percent 0-100."""
    h, s, _ = colorsys.rgb_to_hsv(*(c / 255 for c in rgb))
    return round(h * 360, 1), round(s * 100, 1)


def rgb_to_xy(rgb: tuple[int, int, int]) -> tuple[float, float]:
    """CIE 1931 xy of an sRGB colour (gamma removed, wide-gamut D65 matrix as used by Zigbee lights)."""

    def linear(c: float) -> float:
        return ((c + 0.055) / 1.055) ** 2.4 if c > 0.04045 else c / 12.92

    r, g, b = (linear(c / 255) for c in rgb)
    x = r * 0.664511 + g * 0.154324 + b * 0.162028
    y = r * 0.283881 + g * 0.668433 + b * 0.047685
    z = r * 0.000088 + g * 0.072310 + b * 0.986039
    total = x + y + z
    if total == 0:
        return 0.3227, 0.329
    return round(x / total, 4), round(y / total, 4)


def clamp_mireds(mireds: int, lo: float | None, hi: float | None) -> int:
    if lo is not None:
        mireds = max(mireds, int(lo))
    if hi is not None:
        mireds = min(mireds, int(hi))
    return mireds
