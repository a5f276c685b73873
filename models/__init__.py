"""Scripts that build tiny random Gemma 4 models in the published ONNX layout (test-only, uses torch)."""
