"""``assistant bench grammar``: decoded tokens per action under the tool-call grammar (issue 8).

For ten typical commands against a sample home, the call each should become is walked through the
grammar with the model's own tokenizer: how many tokens the model must choose (``free``), how many
are forced and fed in one pass (jump-forward), and how many decoder passes that takes. Counts, not
timings, so this runs anywhere with just the tokenizer files; ``--measure`` also loads the model and
times a one-token pass against a batched pass to say where scoring a closed set beats decoding it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from assistant.benchmarks.report import Report
from assistant.config.schema import PRECISIONS
from assistant.engine.grammar.constraint import Counts

FREE_TOKEN_TARGET = 8
Q_ON_OFF = {"type": "string", "enum": ["on", "off"]}
LIGHTS = ["desk_lamp", "kitchen_ceiling", "kitchen_spots", "sofa_bulb"]
SAMPLE_HOME: dict[str, dict[str, Any]] = {  # the shape of assistant.home.tools.tool_schema(), a small home
    "set_power": {"arguments": {"device": {"type": "string", "enum": [*LIGHTS, "coffee_machine", "fan_plug",
                                                                       "garden_irrigation", "stairs_switch_left"]},
                                "state": Q_ON_OFF}, "required": ["device", "state"]},
    "set_brightness": {"arguments": {"device": {"type": "string", "enum": LIGHTS},
                                     "percent": {"type": "integer", "minimum": 0, "maximum": 100},
                                     "change": {"type": "string", "enum": ["up", "down"]}},
                       "required": ["device"], "exclusive": [["percent", "change"]]},
    "set_color": {"arguments": {"device": {"type": "string", "enum": LIGHTS},
                                "color": {"type": "string", "enum": ["red", "orange", "yellow", "green", "blue",
                                                                     "purple", "pink", "white", "warm white"]}},
                  "required": ["device", "color"],
                  "per_device": {"kitchen_spots": {"color": {"enum": ["white", "warm white"]}}}},
    "set_cover": {"arguments": {"device": {"type": "string", "enum": ["bedroom_blind", "garage_door"]},
                                "position": {"type": "integer", "minimum": 0, "maximum": 100}},
                  "required": ["device", "position"], "per_device": {"garage_door": {"position": {"enum": [0, 100]}}}},
    "set_climate": {"arguments": {"device": {"type": "string", "enum": ["hall_radiator", "living_room_thermostat"]},
                                  "temperature": {"type": "number", "minimum": 5.0, "maximum": 30.0},
                                  "mode": {"type": "string", "enum": ["auto", "heat", "off"]}},
                    "required": ["device"], "per_device": {"hall_radiator": {"mode": {"enum": ["heat", "off"]}}}},
    "set_lock": {"arguments": {"device": {"type": "string", "enum": ["back_door", "front_door"]},
                               "state": {"type": "string", "enum": ["locked", "unlocked"]}},
                 "required": ["device", "state"]},
    "set_alarm": {"arguments": {"device": {"type": "string", "enum": ["house_alarm"]},
                                "state": {"type": "string", "enum": ["armed_home", "armed_away", "armed_night",
                                                                     "disarmed"]}},
                  "required": ["device", "state"]},
    "get_state": {"arguments": {"device": {"type": "string", "enum": ["back_door", "bedroom_sensor", "front_door",
                                                                       "kitchen_ceiling", "living_room_thermostat"]}},
                  "required": ["device"]},
}
TYPICAL_COMMANDS: list[tuple[str, str, dict[str, Any]]] = [  # what was said, and the call it should become
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


def command_costs(tokenizer: Any, schema: dict[str, dict[str, Any]] | None = None,
                  commands: list[tuple[str, str, dict[str, Any]]] | None = None, policy: Any = None) -> list[Counts]:
    """Per command: free/forced/scored tokens and decoder passes of its call under the grammar of ``schema``."""
    from assistant.engine.constrained import grammar_for
    from assistant.engine.grammar.grammar import call_text
    from assistant.engine.grammar.scoring import plan

    grammar = grammar_for(schema or SAMPLE_HOME, tokenizer)
    return [plan(grammar, grammar.encode(call_text(name, args)), policy) for _, name, args in commands or TYPICAL_COMMANDS]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("grammar", help="decoded tokens per action under the tool-call grammar")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--measure", action="store_true", help="also load the model and time decode vs batched passes")
    parser.add_argument("--precision", choices=PRECISIONS, help="with --measure: all graphs in this precision")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: Any) -> int:
    from assistant.config import load_config, model_dir
    from assistant.engine.decoding.prompt import load_tokenizer

    config = load_config(getattr(args, "config", None))
    root = Path(args.model).expanduser() if args.model else model_dir(config)
    tokenizer = load_tokenizer(root)
    report = Report("tool-call grammar")
    costs = command_costs(tokenizer)
    worst = max(c.free for c in costs)
    report.add("max_free_tokens_per_command", worst, "tokens", target=f"<= {FREE_TOKEN_TARGET}",
               ok=worst <= FREE_TOKEN_TARGET)
    report.add("mean_free_tokens_per_command", round(sum(c.free for c in costs) / len(costs), 2), "tokens")
    report.add("mean_forced_tokens_per_command", round(sum(c.forced for c in costs) / len(costs), 2), "tokens")
    report.add("max_decoder_passes_per_command", max(c.passes for c in costs), "passes")
    for (utterance, _, _), c in zip(TYPICAL_COMMANDS, costs, strict=True):
        report.notes.append(f"{utterance!r}: {c.free} free, {c.forced} forced, {c.passes} passes")
    if args.measure:
        _measure(report, root, config, args.precision)
    return report.emit(args.json)


def _measure(report: Report, root: Path, config: Any, precision: str | None) -> None:
    from assistant.config import graph_cache_dir
    from assistant.engine.grammar.scoring import measure_policy
    from assistant.engine.model import GemmaModel

    cfg = config.model
    if precision:
        cfg = dataclasses.replace(cfg, decoder_precision=precision, embed_precision=precision, audio_precision=precision)
    model = GemmaModel.load(root, cfg, audio=False, graph_cache=graph_cache_dir(config))
    ids = model.tokenizer("<|turn>user\nturn on the kitchen light<turn|>\n<|turn>model\n", add_special_tokens=False)
    _, cache = model.decoder.forward(*model.decoder.embed(ids["input_ids"]), model.decoder.empty_cache())
    policy = measure_policy(model.decoder, cache)
    report.add("decode_pass_ms", round(policy.decode_pass_s * 1000, 2), "ms")
    report.add("batched_token_ms", round(policy.prefill_token_s * 1000, 3), "ms")
    scored = command_costs(model.tokenizer, policy=policy)
    report.add("max_passes_with_scoring", max(c.passes for c in scored), "passes")
    report.add("commands_with_a_scored_choice", sum(c.scored > 0 for c in scored), "of 10")
