"""``bench engine --peer llama.cpp``: the native-build check, the project's GGUF writer, and the side-by-side plumbing.

The GGUF tests load the file in the real llama.cpp (``llama-cpp-python``), on a tiny config whose last
non-shared layers are (sliding, full), the layout llama.cpp's KV sharing expects (as in E2B).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from assistant.benchmarks import peer
from assistant.errors import AssistantError
from models.gguf_e2b import write
from tests.conftest import run_cli

GENERIC = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | LLAMAFILE = 1 | REPACK = 1 |"
NATIVE = GENERIC + " AVX512 = 1 | AVX512_VNNI = 1 |"


def test_a_generic_build_misses_what_the_cpu_has() -> None:
    flags = {"avx", "avx2", "fma", "f16c", "bmi2", "avx512f", "avx512_vnni", "sse4_2"}
    assert peer.missing_features(GENERIC, flags) == ["AVX512", "AVX512_VNNI"]
    assert peer.missing_features(NATIVE, flags) == []
    assert peer.missing_features(GENERIC, flags - {"avx512f", "avx512_vnni"}) == []  # an AVX2-only CPU
    assert peer.missing_features("CPU : NEON = 1 | ARM_FMA = 1 |", {"asimd", "asimddp"}) == ["DOTPROD"]


def test_amx_is_not_asked_for_and_a_build_with_it_is_refused() -> None:
    flags = {"avx2", "avx512f", "avx512_vnni", "amx_int8", "amx_tile"}  # a Sapphire Rapids
    assert peer.missing_features(NATIVE, flags) == []  # AMX left out by scripts/setup is not "generic"
    assert peer.crashing_features(NATIVE) == []
    crashing = peer.crashing_features(NATIVE + " AMX_INT8 = 1 |")
    assert len(crashing) == 1 and crashing[0].startswith("AMX_INT8: ") and "20824" in crashing[0]


def test_cpu_flags_read_from_cpuinfo(tmp_path) -> None:
    (tmp_path / "cpuinfo").write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f\n", encoding="utf-8")
    assert peer.cpu_flags(tmp_path / "cpuinfo") == {"fpu", "avx2", "avx512f"}
    (tmp_path / "arm").write_text("Features\t: fp asimd asimddp\n", encoding="utf-8")
    assert peer.cpu_flags(tmp_path / "arm") == {"fp", "asimd", "asimddp"}


@pytest.fixture(scope="module")
def tiny_gguf(perf_tiny_audio_q4, tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("gguf_src")
    config = json.loads((perf_tiny_audio_q4 / "config.json").read_text(encoding="utf-8"))
    text = config["text_config"]
    assert text["layer_types"][:3] == ["sliding_attention", "sliding_attention", "full_attention"]
    text["num_kv_shared_layers"] = text["num_hidden_layers"] - 3
    (src / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copy(perf_tiny_audio_q4 / "tokenizer.json", src / "tokenizer.json")
    out = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write(src, out, say=lambda _msg: None)
    return out


def test_gguf_has_llama_cpp_names_shapes_and_types(tiny_gguf) -> None:
    import gguf

    reader = gguf.GGUFReader(tiny_gguf)
    tensors = {t.name: t for t in reader.tensors}
    assert reader.fields["general.architecture"].contents() == "gemma4"
    assert reader.fields["gemma4.attention.shared_kv_layers"].contents() == 3
    assert tensors["blk.0.ffn_gate.weight"].tensor_type == gguf.GGMLQuantizationType.Q4_0
    assert list(tensors["blk.0.ffn_gate.weight"].shape) == [64, 96]  # ne0 = hidden, ne1 = intermediate
    assert list(tensors["blk.5.ffn_gate.weight"].shape) == [64, 192]  # KV-shared layers: double-wide MLP
    assert "blk.2.attn_k.weight" in tensors and "blk.3.attn_k.weight" not in tensors  # shared layers: no K/V
    assert list(tensors["blk.2.attn_q.weight"].shape) == [64, 2 * 32]  # full layer: global head dim
    rope = tensors["rope_freqs.weight"].data
    assert rope[0] == 1.0 and rope[-1] > 1e29  # proportional RoPE: the unrotated dims never turn


def test_llama_cpp_loads_and_decodes_the_gguf(tiny_gguf) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    llm = llama_cpp.Llama(str(tiny_gguf), n_ctx=64, n_threads=1, verbose=False)
    assert llm.n_vocab() == 1024
    llm.eval(llm.tokenize(b"turn on the kitchen light", add_bos=True))
    first = llm.scores[llm.n_tokens - 1]
    llm.eval([int(np.argmax(first))])
    assert np.isfinite(llm.scores[llm.n_tokens - 1]).all()


def test_peer_needs_a_gguf(perf_tiny_audio_q4, clean_home) -> None:
    result = run_cli("bench", "engine", "--model", str(perf_tiny_audio_q4), "--peer", "llama.cpp",
                     env={"HOME": str(clean_home)})
    assert result.returncode == 2
    assert "--peer-model" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.slow
def test_side_by_side_reports_both_and_the_ratios(perf_tiny_audio_q4, tiny_gguf, tmp_path, clean_home) -> None:
    pytest.importorskip("llama_cpp")
    try:
        peer.check_native()
    except AssistantError as exc:
        pytest.skip(str(exc))
    result = run_cli("bench", "engine", "--model", str(perf_tiny_audio_q4), "--steps", "3", "--peer", "llama.cpp",
                     "--peer-model", str(tiny_gguf), "--peer-rounds", "1", "--peer-only", "--threads", "1",
                     "--cache-dir", str(tmp_path / "cache"), "--json", env={"HOME": str(clean_home)}, timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for side in ("engine", "peer"):
        for key in ("prefill_tok_s", "decode_tok_s", "peak_rss_mb"):
            assert data[f"{side}_side_{key}"] > 0, (side, key)
    assert data["decode_vs_peer"] == pytest.approx(data["engine_side_decode_tok_s"] / data["peer_side_decode_tok_s"])
    assert data["peak_rss_vs_peer"] == pytest.approx(data["engine_side_peak_rss_mb"] / data["peer_side_peak_rss_mb"])
    assert set(data["targets_met"]) == {"decode_vs_peer", "prefill_vs_peer"}
    assert "AVX" in data["peer_build"] or "NEON" in data["peer_build"]
