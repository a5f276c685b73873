"""``assistant ask [--audio FILE] "text"``: one full turn, with stage timings.

The local model answers (through the tiers router); calls to the smart home's tools are
executed through MQTT like in the service; the reply is spoken unless ``--quiet`` or ``--json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from assistant.config import load_config, model_dir
from assistant.config.schema import PRECISIONS
from assistant.config.validate import require_state_dirs
from assistant.errors import AssistantError, UsageError

SEED_MAX = 2**31 - 1  # model.seed's range


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ask", help="one full turn: ask (text and/or WAV), run device commands, speak the reply")
    parser.add_argument("text", nargs="?", default="", help="what to say (optional with --audio)")
    parser.add_argument("--audio", metavar="FILE", help="a WAV file to send as speech (any rate; resampled to 16 kHz mono)")
    parser.add_argument("--model", metavar="DIR", help="model directory (default: model.dir from the config)")
    parser.add_argument("--precision", choices=PRECISIONS, help="use this precision for every graph")
    parser.add_argument("--tools", metavar="FILE", help="JSON file with a list of tool declarations (OpenAI function shape)")
    parser.add_argument("--max-new-tokens", type=int, metavar="N", help="token limit for the reply")
    parser.add_argument("--sample", action="store_true", help="sample (Gemma defaults) instead of greedy decoding")
    parser.add_argument("--seed", type=int, help="sampling seed")
    parser.add_argument("--thinking", action="store_true", help="let the model think first (thinking is not printed)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text (nothing is spoken)")
    parser.add_argument("--quiet", action="store_true", help="do not speak the reply (device commands still run)")
    parser.set_defaults(func=_ask)


def _model_config(args: argparse.Namespace) -> Any:
    config = load_config(args.config)
    changes: dict[str, Any] = {}
    if args.precision:
        changes.update(decoder_precision=args.precision, embed_precision=args.precision, audio_precision=args.precision)
    if args.max_new_tokens is not None:
        if args.max_new_tokens < 1:
            raise UsageError("--max-new-tokens must be at least 1")
        changes["max_new_tokens"] = args.max_new_tokens
    if args.sample:
        changes["sample"] = True
    if args.seed is not None:
        if not 0 <= args.seed <= SEED_MAX:
            raise UsageError(f"--seed {args.seed}: expected 0 to {SEED_MAX}")
        changes["seed"] = args.seed
    if args.thinking:
        changes["thinking"] = True
    target = Path(args.model).expanduser() if args.model else model_dir(config)
    return target, dataclasses.replace(config.model, **changes)


def _load_tools(path: str | None) -> list[dict[str, Any]]:
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise AssistantError(f"{path}: no such file") from err
    except (OSError, ValueError) as err:
        raise AssistantError(f"{path}: not valid JSON ({err})") from err
    if not isinstance(data, list) or not all(isinstance(t, dict) for t in data):
        raise AssistantError(f"{path}: expected a JSON list of tool objects")
    return data


def _ask(args: argparse.Namespace) -> int:
    from assistant.audio.wavfile import cap_audio, load_wav_16k
    from assistant.config import graph_cache_dir
    from assistant.engine.model import GemmaModel
    from assistant.service.oneshot import ask_once
    from assistant.service.wiring import progress_line, resolved_model_config

    if not args.text and not args.audio:
        raise AssistantError("nothing to ask: give some text, --audio FILE, or both")
    config = load_config(args.config)
    target, model_config = _model_config(args)
    require_state_dirs(config)
    tools = _load_tools(args.tools)
    audio = cap_audio(load_wav_16k(args.audio), args.audio) if args.audio else None
    if model_config.threads == 0:
        model_config = dataclasses.replace(model_config, threads=resolved_model_config(config).threads)
    model = GemmaModel.load(target, model_config, graph_cache=graph_cache_dir(config), progress=progress_line)
    if audio is not None and not model.has_audio:
        raise AssistantError(f"{model.model_dir} has no audio_encoder loaded: this model takes text only")
    show = (lambda text: None) if args.json else (lambda text: print(text, end="", flush=True))
    answer = ask_once(config, model, args.text, audio, tools, speak=not (args.quiet or args.json), on_text=show)
    timings = {"load_s": model.load_s, **(answer.timings.summary() if answer.timings is not None else {})}
    if args.json:
        result = {
            "text": answer.text,
            "tool_calls": [{"name": c.name, "arguments": dict(c.arguments), "error": c.error} for c in answer.calls],
            "actions": [{"tool": c.name, "arguments": dict(c.arguments), "result": r} for c, r in answer.actions],
            "tier": answer.tier,
            "token_ids": answer.token_ids,
            "timings": timings,
        }
        print(json.dumps(result, ensure_ascii=False))
        return 0
    if answer.text and not answer.text.endswith("\n"):
        print()
    done = {id(c): r for c, r in answer.actions}
    for call in answer.calls:
        if call.error:
            print(f"tool call error: {call.error}: {call.raw}")
        else:
            print(f"tool call: {call.name} {json.dumps(dict(call.arguments), ensure_ascii=False)}")
        if id(call) in done:
            print(f"  -> {done[id(call)]}")
    if answer.tier and answer.tier != "local":
        print(f"answered by the remote tier {answer.tier}")
    if answer.timings is not None:
        _print_timings(timings, sys.stdout)
    return 0


def _print_timings(t: dict[str, Any], out: Any) -> None:
    print("--", file=out)
    print(
        f"timings: load {t['load_s']:.3f} s | prompt {t['prompt_s'] * 1000:.1f} ms | "
        f"features {t['features_s'] * 1000:.1f} ms | encoder {t['encoder_s'] * 1000:.1f} ms | "
        f"prefill {t['prefill_s'] * 1000:.1f} ms ({t['prompt_tokens']} tokens, {t['audio_tokens']} audio, "
        f"{t['prefill_tok_per_s']:.0f} tok/s) | first token {t['first_token_s'] * 1000:.1f} ms | "
        f"decode {t['generated_tokens']} tokens in {t['decode_s']:.3f} s ({t['decode_tok_per_s']:.1f} tok/s) | "
        f"stop: {t['stop_reason']}",
        file=out,
    )
