"""Volume: kept in the state directory, applied as playback gain, a tool under the grammar, and routed
beside the device tools."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.engine.grammar.grammar import call_text, compile_schema
from assistant.protocols import AudioChunk, ToolCall
from assistant.service.toolsets import ToolsBus
from assistant.service.turn import turn_tools
from assistant.service.volume import FILE_NAME, TOOL, Volume, VolumePlayer, VolumeTools, scaled
from assistant.service.wiring import NoDevicesBus, with_stop_tool

from .doubles import FakeBus, FakePlayer


def test_volume_is_kept_across_restarts_and_a_broken_file_falls_back_to_the_default(tmp_path):
    path = tmp_path / "state" / FILE_NAME
    volume = Volume(path, default=80)
    assert volume.percent == 80 and not path.exists()
    heard = []
    volume.on_change(heard.append)
    assert volume.set(140) == 100 and volume.set(35) == 35 and volume.set(35) == 35
    assert heard == [100, 35]  # only changes are told
    assert json.loads(path.read_text()) == {"percent": 35}
    assert not list(path.parent.glob("*.tmp")), "written atomically (temporary file renamed)"
    assert Volume(path, default=80).percent == 35
    path.write_text("{broken")
    assert Volume(path, default=60).percent == 60


def test_gain_follows_the_percentage_and_is_read_per_chunk():
    volume = Volume(None, default=100)
    chunk = AudioChunk(np.full(100, 10000, dtype=np.int16), 16000)
    chunks = scaled(iter([chunk, chunk]), volume)
    assert next(chunks) is chunk  # 100 %: untouched
    volume.set(50)
    quieter = next(chunks)
    assert quieter.samples.dtype == np.int16 and int(quieter.samples[0]) == 2500  # (50 %)² = 0.25
    volume.set(0)
    assert not next(scaled([chunk], volume)).samples.any()


def test_the_volume_player_plays_everything_at_the_volume():
    inner, volume = FakePlayer(), Volume(None, default=50)
    player = VolumePlayer(inner, volume)
    player.play([AudioChunk(np.full(10, 4000, dtype=np.int16), 16000)])
    assert player.wait(5) and inner.played[0].samples[0] == 1000
    assert not player.speaking


@pytest.mark.parametrize(("args", "said", "after"), [
    ({"change": "up"}, "The volume is now 90 percent.", 90),
    ({"change": "down"}, "The volume is now 70 percent.", 70),
    ({"percent": 40}, "The volume is now 40 percent.", 40),
    ({"percent": 40.4}, "The volume is now 40 percent.", 40),
    ({"percent": 140}, "Sorry, I can't set the volume to that.", 80),
    ({"percent": 40, "change": "up"}, "Sorry, I can't set the volume to that.", 80),
    ({}, "Sorry, I can't set the volume to that.", 80),
    ({"change": "sideways"}, "Sorry, I can't set the volume to that.", 80),
    ({"device": "kitchen"}, "Sorry, I can't set the volume to that.", 80),
])
def test_set_volume_is_validated_and_answered_in_words(args, said, after):
    volume = Volume(None, default=80, step=10)
    assert VolumeTools(volume).execute(ToolCall(TOOL, args)) == said
    assert volume.percent == after


def test_louder_at_the_maximum_says_so():
    volume = Volume(None, default=100)
    tools = VolumeTools(volume)
    assert tools.execute(ToolCall(TOOL, {"change": "up"})) == "The volume is already at its maximum."
    volume.set(0)
    assert tools.execute(ToolCall(TOOL, {"change": "down"})) == "The volume is already at its minimum."


def test_the_grammar_takes_exactly_the_valid_volume_calls():
    grammar = compile_schema(with_stop_tool(VolumeTools(Volume(None)).tool_schema()))
    assert grammar.accepts(call_text(TOOL, {"percent": 40}))
    assert grammar.accepts(call_text(TOOL, {"change": "down"}))
    assert not grammar.accepts(call_text(TOOL, {}))  # one of the two is needed
    assert not grammar.accepts(call_text(TOOL, {"percent": 40, "change": "up"}))  # never both
    assert not grammar.accepts(call_text(TOOL, {"percent": 140}))
    assert not grammar.accepts(call_text(TOOL, {"change": "sideways"}))


def test_the_volume_tool_sits_beside_the_device_tools_and_calls_are_routed_by_name():
    fake, volume = FakeBus(), Volume(None, default=80)
    bus = ToolsBus(fake, [VolumeTools(volume)])
    names = [t["function"]["name"] for t in turn_tools(bus)]
    assert names == ["light_turn_on", TOOL, "end_conversation"]
    assert bus.execute(ToolCall(TOOL, {"change": "up"})) == "The volume is now 90 percent." and fake.executed == []
    assert bus.execute(ToolCall("light_turn_on", {})) == "The kitchen light is on." and len(fake.executed) == 1
    sinks = []
    bus.set_timing_sink(sinks.append)  # the device bus still reports its moments
    assert fake.sink is not None


def test_with_mqtt_off_the_volume_tool_is_the_only_tool_and_short():
    bus = ToolsBus(NoDevicesBus(), [VolumeTools(Volume(None))])
    assert list(bus.tool_schema()) == [TOOL]
    (declaration,) = bus.tools()
    assert len(json.dumps(declaration)) < 320, "every declaration token costs prefill at start-up"
