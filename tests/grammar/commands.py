"""Ten typical spoken commands and the call each should become, against the home fixture registry."""

from __future__ import annotations

from typing import Any

TYPICAL: list[tuple[str, str, dict[str, Any]]] = [
    ("turn on the kitchen light", "set_power", {"device": "kitchen_ceiling", "state": "on"}),
    ("switch off the coffee machine", "set_power", {"device": "coffee_machine", "state": "off"}),
    ("dim the desk lamp to thirty percent", "set_brightness", {"device": "desk_lamp", "percent": 30}),
    ("make the kitchen light brighter", "set_brightness", {"device": "kitchen_ceiling", "change": "up"}),
    ("make the kitchen light blue", "set_color", {"device": "kitchen_ceiling", "color": "blue"}),
    ("open the garage door", "set_cover", {"device": "garage_door", "position": 100}),
    ("set the living room heating to twenty one and a half", "set_climate",
     {"device": "living_room_thermostat", "temperature": 21.5}),
    ("lock the front door", "set_lock", {"device": "front_door", "state": "locked"}),
    ("arm the alarm for the night", "set_alarm", {"device": "house_alarm", "state": "armed_night"}),
    ("is the back door locked", "get_state", {"device": "back_door"}),
]
