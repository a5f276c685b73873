"""Ten typical spoken commands and the call each should become (the bench's list; every device is in the fixture home)."""

from __future__ import annotations

from assistant.benchmarks.grammar import TYPICAL_COMMANDS

TYPICAL = TYPICAL_COMMANDS
