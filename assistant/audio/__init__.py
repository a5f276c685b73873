"""Audio front end: capture, wake word, endpointing and speech output.

Build it from a ``Config`` with :mod:`assistant.audio.factory` (``open_source``,
``make_wakeword``, ``make_vad``, ``make_tts``), then use :class:`~assistant.audio.endpoint.Endpointer`
and :class:`~assistant.audio.playback.Player`. Importing this package loads no audio library.
"""
