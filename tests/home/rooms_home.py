"""A small house for the room tests: one light per room, two in the bedroom, switched only (no state topics)."""

from __future__ import annotations

import json

LIGHTS = {  # unique id -> (name, area)
    "kitchen_l": ("Kitchen light", "Kitchen"),
    "living_l": ("Living room light", "Living room"),
    "bedroom_l": ("Bedroom light", "Bedroom"),
    "reading_l": ("Reading lamp", "Bedroom"),
}


def topic_of(uid: str) -> str:
    return f"house/{uid}/set"


def retained() -> dict[str, str]:
    return {f"homeassistant/light/{uid}/config": json.dumps({
        "name": None, "unique_id": uid, "command_topic": topic_of(uid),
        "device": {"identifiers": [uid], "name": name, "suggested_area": area}}) for uid, (name, area) in LIGHTS.items()}


def topics_in(area: str) -> set[str]:
    return {topic_of(uid) for uid, (_, a) in LIGHTS.items() if a == area}
