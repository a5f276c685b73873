"""The optimisation pass, the PLE store set-up and the engine benchmark never import torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CODE = """
import sys
import onnxruntime as ort
import assistant.benchmarks.engine, assistant.benchmarks.engine_probes
from assistant.engine.graphs.optimize import optimize_graph
from assistant.engine.graphs.ple_setup import ensure_ple_store
model_dir, cache = sys.argv[1], sys.argv[2]
optimize_graph(model_dir + '/onnx/decoder_model_merged.onnx', cache, progress=lambda m: None)
embed = model_dir + '/onnx/embed_tokens_q4.onnx'
from pathlib import Path
ensure_ple_store(Path(embed), ort.InferenceSession(embed), 1024, Path(cache), progress=lambda m: None)
assert 'torch' not in sys.modules, 'torch was imported'
print('ok')
"""


def test_optimize_and_ple_setup_do_not_import_torch(perf_tiny_dirs, tmp_path) -> None:
    result = subprocess.run([sys.executable, "-c", CODE, str(perf_tiny_dirs["text"]), str(tmp_path)],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
