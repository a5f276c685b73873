"""The smart home over MQTT: discovery, registry, tools, validation, publishing and announcement.

Start it with :func:`open_home`; the returned :class:`Home` implements ``assistant.protocols.Bus``.
Only this package talks to the broker; it imports config, protocols, errors and logs only.
"""

from assistant.home.announcer import Announcer
from assistant.home.bus import CommandResult, MqttBus
from assistant.home.home import Home, open_home
from assistant.home.registry import Registry, Topics

__all__ = ["Announcer", "CommandResult", "Home", "MqttBus", "Registry", "Topics", "open_home"]
