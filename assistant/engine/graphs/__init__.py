"""Graphs on disk and in memory: the model directory, ONNX files, checksums, contracts, optimisation, sessions, the PLE store."""
