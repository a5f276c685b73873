"""Offline voice assistant for the Raspberry Pi built around Gemma 4 E2B.

Importing this package must stay cheap: no torch, no onnxruntime, no audio libraries.
Heavy dependencies are imported inside the modules that need them.
"""

__version__ = "0.1.0"
