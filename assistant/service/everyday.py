"""The everyday parts the service adds around the pipeline: volume, announcements and languages.

``Everyday.build(config, home)`` makes them once; ``real_parts`` (``wiring.py``) then calls
``with_tools(bus)`` (the ``set_volume`` tool beside the device tools), ``player(player)`` (everything
played at the volume), takes ``tts`` (a voice per language) and ``announcements`` (the loop's
interjections), and the Home Assistant notify and volume entities are added to the assistant's
MQTT device. ``with_reply_language(config)`` adds the reply-language sentence to the system prompt.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from assistant.config import Config, state_dir
from assistant.language.voices import LanguageTts, with_language
from assistant.service.announcements import AnnouncementQueue
from assistant.service.ports import Player
from assistant.service.toolsets import ToolSet
from assistant.service.toolsets import with_tools as add_tools
from assistant.service.volume import FILE_NAME, Volume, VolumePlayer, VolumeTools

log = logging.getLogger("assistant.everyday")


def with_reply_language(config: Config) -> Config:
    """``config`` whose system prompt asks for replies in the user's (or the fixed) language."""
    prompt = with_language(config.model.system_prompt, config.language)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, system_prompt=prompt))


@dataclass
class Everyday:
    volume: Volume
    tts: LanguageTts
    announcements: AnnouncementQueue | None
    tool_sets: list[ToolSet]

    @classmethod
    def build(cls, config: Config, home: Any = None) -> Everyday:
        volume = Volume(state_dir(config) / FILE_NAME, config.audio.volume, config.audio.volume_step)
        tts = LanguageTts(config.tts, config.language)
        tts.voice(config.language.default)  # a missing espeak-ng or Piper voice fails here, at start-up
        queue = AnnouncementQueue(config.announce, tts, config.mqtt.area) if config.announce.enabled else None
        everyday = cls(volume, tts, queue, [VolumeTools(volume)] if config.service.own_tools else [])
        if home is not None and config.mqtt.announce:
            everyday.attach(home.announcer, config.mqtt.announce_topic)
        return everyday

    def attach(self, announcer: Any, base_topic: str) -> None:
        """The notify (announcements) and number (volume) entities on the assistant's MQTT device."""
        from assistant.home.voice_entities import AnnounceEntity, VolumeEntity

        volume = VolumeEntity(announcer, lambda: self.volume.percent, self.volume.set)
        self.volume.on_change(volume.publish)
        announcer.extend(volume)
        if self.announcements is not None:
            entity = AnnounceEntity(announcer, base_topic, self.announcements.receive)
            self.announcements.report = entity.report
            announcer.extend(entity)

    def with_tools(self, bus: Any) -> Any:
        return add_tools(bus, self.tool_sets)

    def player(self, player: Player) -> VolumePlayer:
        return VolumePlayer(player, self.volume)
