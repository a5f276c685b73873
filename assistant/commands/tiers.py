"""``assistant tiers``: plan a GPU server for a large Gemma 4, check and try the configured remote tiers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from assistant.config import load_config
from assistant.errors import AssistantError
from assistant.protocols import Message, TextDelta, ToolCall
from assistant.tiers.errors import TierError
from assistant.tiers.factory import build_tiers
from assistant.tiers.models import MODELS, QUANTS
from assistant.tiers.plan import make_plan
from assistant.tiers.rules import compile_rules


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tiers", help="remote tiers: plan a GPU server, check, ask",
                                   description="Larger Gemma 4 models served elsewhere over an OpenAI-compatible API.")
    sub = parser.add_subparsers(dest="tiers_command", metavar="ACTION", required=True)
    plan = sub.add_parser("plan", help="print a llama-server command (and Ollama, vLLM) that fits a GPU",
                          description="Place a large Gemma 4 on one GPU, keeping MoE experts on the CPU where needed.")
    plan.add_argument("--vram", type=float, required=True, metavar="GB", help="GPU memory in GiB (a '24 GB' card: 24)")
    plan.add_argument("--model", choices=sorted(MODELS), required=True)
    plan.add_argument("--ctx", type=int, default=8192, metavar="TOKENS", help="context length (default 8192)")
    plan.add_argument("--quant", default="auto", choices=("auto", *QUANTS),
                      help="weights (default: Q8_0 if it fits, else Q4_K_M)")
    plan.set_defaults(func=_plan)
    check = sub.add_parser("check", help="health of each configured remote tier (GET /v1/models)")
    check.set_defaults(func=_check)
    ask = sub.add_parser("ask", help="send a text question to the first healthy tier and print the answer")
    ask.add_argument("question")
    ask.set_defaults(func=_ask)


def _plan(args: argparse.Namespace) -> int:
    plan = make_plan(args.model, args.vram, args.ctx, args.quant)
    print(plan.text)
    return 0 if plan.fits else 1


def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    rules = compile_rules(config.tiers.rules, [t.name for t in config.tiers.remote], config.source)
    for rule in rules:
        print(f"rule       {rule.describe()}")
    if config.tiers.privacy == "off":
        print("tiers.privacy is \"off\": nothing leaves this device, no tier is contacted.")
        return 0
    if not config.tiers.remote:
        print("No remote tiers configured ([[tiers.remote]] in the config file).")
        return 0
    tiers = build_tiers(config.tiers)
    failed = 0
    for tier_config in config.tiers.remote:
        if not tier_config.enabled:
            print(f"{tier_config.name:<12} disabled")
            continue
        tier = next(t for t in tiers if t.name == tier_config.name)
        health = tier.health()
        failed += not health.ok
        state = "ok" if health.ok else "FAILED"
        print(f"{tier.name:<12} {state:<7} {tier_config.server} at {tier_config.url}: {health.detail} ({health.seconds:.2f} s)")
    return 1 if failed else 0


def _ask(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    tiers = build_tiers(config.tiers)
    if not tiers:
        raise AssistantError("no remote tier to ask (tiers.privacy is off, or no enabled [[tiers.remote]])")
    errors = []
    for tier in tiers:
        try:
            for event in tier.generate([Message(role="user", text=args.question)]):
                if isinstance(event, TextDelta):
                    sys.stdout.write(event.text)
                    sys.stdout.flush()
                elif isinstance(event, ToolCall):
                    print(f"\n[tool call {event.name} {dict(event.arguments)}]")
            print(f"\n({tier.name} answered)")
            return 0
        except TierError as err:
            errors.append(str(err))
    raise AssistantError("; ".join(errors))
