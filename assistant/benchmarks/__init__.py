"""Benchmarks behind ``assistant bench NAME``.

Each module here defines ``register(subparsers)``; its handler measures, builds a
:class:`assistant.benchmarks.report.Report` and returns ``report.emit(args.json)``.
"""
