"""Run an assistant in the foreground: signals, systemd notifications, exit code."""

from __future__ import annotations

import logging

from assistant.service.loop import Assistant
from assistant.service.sdnotify import Notifier
from assistant.service.signals import StopOnSignal

log = logging.getLogger("assistant.runner")


def serve(assistant: Assistant, notifier: Notifier) -> int:
    """Run until the audio ends or a stop signal; 0 on a clean stop, 1 when a stage failed."""
    with StopOnSignal(assistant.stop) as signals:
        try:
            assistant.run()
        except Exception as err:  # a stage failed in the main loop: exit non-zero so systemd restarts us
            log.error("the assistant stopped: %s", err or type(err).__name__, exc_info=True)
            return 1
        finally:
            notifier.stopping("Shutting down")
    if signals.received is not None:
        log.info("stopped cleanly")
    return 0
