"""Load-time optimisation of a published graph, cached on disk.

``optimize_graph(src, cache_dir) -> Path`` returns a graph that computes the same thing faster:

1. **int8 compute for MatMulNBits**: every ``MatMulNBits`` gets ``accuracy_level=4`` (activations
   quantized to int8 per block, SDOT kernels on the Pi's A76), instead of float32 compute.
2. **quantized LM head**: when the head (the matmul that feeds ``logits``) is a float ``MatMul`` over
   an initializer, it becomes a ``MatMulNBits`` (``head_bits`` 4 or 8, block ``q4_block``, symmetric),
   quantized in row chunks straight from the memory-mapped weight. int8 is the default: on the tiny
   models an int4 head keeps top-1 on only 73-95 % of positions, int8 on 95-100 %.
2b. **larger 4-bit blocks** (``q4_block`` 64, 128 or 256; 32 = as published): every 4-bit block-32
   ``MatMulNBits`` is moved to the larger block (``requantize.reblock``: from a float graph beside the
   source when there is one, else requantized from the 4-bit codes).
3. **logits for the last position only**: a graph without ``num_logits_to_keep`` gets that input
   (int64 scalar, 0 = every position), applied before the head as in the tiny export, so a prefill
   no longer computes ``S x 262144`` logits.

The cache entry is a folder ``<cache_dir>/<stem>.<key>/`` holding the rewritten ``.onnx`` under the
source's own name, its new weights in ``<name>.opt_data``, and hard links to the source's
external-data shards (ONNX Runtime refuses external data outside the model's folder; a copy is made
only when a hard link is impossible). The key covers the source and shard sizes and mtimes, the
options (``q4_block`` only when it is not 32, so entries built before it existed stay valid; then the
float graph it quantizes from too) and ``PASS_VERSION``; an entry is built in a temporary folder and renamed into place, so a
crash never leaves a half entry, and stale entries of the same source are removed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from assistant.engine.graphs.cacheentry import building
from assistant.engine.graphs.requantize import BLOCKS, PUBLISHED_BLOCK, Writer, float_sibling, reblock, tensor_array
from assistant.errors import AssistantError

log = logging.getLogger("assistant.engine")

PASS_VERSION = 1
KEEP = "num_logits_to_keep"
_PASSTHROUGH = {"Mul", "Div", "Tanh", "Cast", "Add", "Sub", "Identity"}
Progress = Callable[[str], None]


@dataclass(frozen=True)
class OptimizeOptions:
    """Which rewrites to apply; every field is part of the cache key."""

    accuracy_level: int = 4  # 0 leaves MatMulNBits as published
    head_bits: int = 8  # 8 or 4; 0 leaves a float head alone (int4 loses top-1 parity on the tiny models)
    last_logits: bool = True
    q4_block: int = PUBLISHED_BLOCK  # 64, 128, 256: 4-bit MatMulNBits (and the quantized head) moved to this block


@dataclass
class PassReport:
    """What one run of the pass changed (stored next to the cached graph as ``optimize.json``)."""

    matmulnbits_accuracy_set: int = 0
    head: str = "not found"
    keep_input_added: bool = False
    source: str = ""
    q4_block: str = "as published"


def optimize_graph(src: Path | str, cache_dir: Path | str, options: OptimizeOptions | None = None,
                   progress: Progress | None = None) -> Path:
    """The optimised copy of ``src`` in ``cache_dir`` (built on first use, then reused)."""
    src = Path(src)
    opts = options or OptimizeOptions()
    if opts.head_bits not in (0, 4, 8) or not 0 <= opts.accuracy_level <= 4:
        raise AssistantError(f"optimize: head_bits must be 0, 4 or 8 and accuracy_level 0..4 (got {opts})")
    if opts.q4_block not in BLOCKS:
        raise AssistantError(f"optimize: q4_block must be one of {', '.join(map(str, BLOCKS))} (got {opts.q4_block})")
    if not src.is_file():
        raise AssistantError(f"{src}: no such graph to optimise")
    say = progress or log.info
    cache = Path(cache_dir)
    key = cache_key(src, opts)
    entry = cache / f"{src.stem}.{key}"
    target = entry / src.name
    if target.is_file():
        return target
    with building(entry) as tmp:
        say(f"optimising {src.name} (once; cached in {cache})")
        report = _rewrite(src, tmp, opts, say)
        (tmp / "optimize.json").write_text(json.dumps({**asdict(report), "options": asdict(opts)}, indent=1) + "\n")
    _remove_stale(cache, src, entry)
    say(f"optimised {src.name}: {report.matmulnbits_accuracy_set} MatMulNBits at accuracy level {opts.accuracy_level}, "
        f"4-bit blocks: {report.q4_block}, head {report.head}, "
        f"last-position logits {'added' if report.keep_input_added else 'already there'}")
    return target


def cache_key(src: Path, opts: OptimizeOptions) -> str:
    """Hash of the pass version, options and the size + mtime of the graph and its shards."""
    options = asdict(opts)
    paths = [src, *sorted(src.parent.glob(src.name + "_data*"))]
    if opts.q4_block == PUBLISHED_BLOCK:
        del options["q4_block"]  # the key of every entry built before the option existed
    else:
        sibling = float_sibling(src)
        paths += [sibling, *sorted(sibling.parent.glob(sibling.name + "_data*"))] if sibling else []
    parts: list[Any] = [PASS_VERSION, options, str(src.resolve())]
    for path in paths:
        st = path.stat()
        parts.append([path.name, st.st_size, st.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def read_report(graph: Path) -> dict[str, Any]:
    """The ``optimize.json`` written next to an optimised graph."""
    data: dict[str, Any] = json.loads((graph.parent / "optimize.json").read_text())
    return data


def _remove_stale(cache: Path, src: Path, keep: Path) -> None:
    for other in cache.glob(f"{src.stem}.*"):
        if other == keep or not other.is_dir() or other.name.count(".") != src.stem.count(".") + 1:
            continue
        try:
            if read_report(other / src.name).get("source") == str(src.resolve()):
                shutil.rmtree(other, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:200]


def _rewrite(src: Path, out_dir: Path, opts: OptimizeOptions, say: Progress) -> PassReport:
    import onnx

    try:
        model = onnx.load(str(src), load_external_data=False)
    except Exception as err:  # protobuf raises several types for a bad file
        raise AssistantError(f"{src}: cannot read it to optimise ({_first_line(err)})") from err
    report = PassReport(source=str(src.resolve()))
    data_name = src.name + ".opt_data"
    with Writer(out_dir / data_name) as writer:
        if opts.q4_block != PUBLISHED_BLOCK:
            report.q4_block = reblock(model, src, writer, opts.q4_block, say).describe(opts.q4_block)
        report.matmulnbits_accuracy_set = _set_accuracy(model, opts.accuracy_level)
        head = _find_head(model)
        if head is None:
            say(f"  {src.name}: no LM head feeding 'logits' found; head and last-position passes skipped")
        else:
            if opts.head_bits:
                report.head = _quantize_head(model, head, src.parent, writer, opts, say)
            else:
                report.head = "left as published"
            if opts.last_logits and not _name_taken(model, KEEP):
                _add_keep(model, head)
                report.keep_input_added = True
    _link_shards(model, src.parent, out_dir, data_name, say)
    onnx.save_model(model, str(out_dir / src.name))
    return report


def _name_taken(model: Any, name: str) -> bool:
    graph = model.graph
    return any(name == v.name for v in [*graph.input, *graph.initializer]) or any(name in n.output for n in graph.node)


def _set_accuracy(model: Any, level: int) -> int:
    import onnx

    count = 0
    for node in model.graph.node:
        if node.op_type == "MatMulNBits" and level:
            kept = [a for a in node.attribute if a.name != "accuracy_level"]
            del node.attribute[:]
            node.attribute.extend([*kept, onnx.helper.make_attribute("accuracy_level", level)])
            count += 1
    return count


def _find_head(model: Any) -> Any | None:
    """The MatMul/MatMulNBits/Gemm that produces ``logits`` through element-wise ops (softcap, casts)."""
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    consts = {t.name for t in graph.initializer} | {n.output[0] for n in graph.node if n.op_type == "Constant"}
    name = "logits" if any(o.name == "logits" for o in graph.output) else None
    for _ in range(16):
        node = producer.get(name) if name else None
        if node is None:
            return None
        if node.op_type in ("MatMul", "MatMulNBits", "Gemm"):
            return node
        if node.op_type not in _PASSTHROUGH:
            return None
        name = next((i for i in node.input if i and i not in consts), None)
    return None


def _quantize_head(model: Any, head: Any, base: Path, writer: Writer, opts: OptimizeOptions, say: Progress) -> str:
    import onnx

    if head.op_type == "MatMulNBits":
        return "already MatMulNBits"
    inits = {t.name: t for t in model.graph.initializer}
    weight = inits.get(head.input[1]) if head.op_type == "MatMul" else None
    if weight is None or len(weight.dims) != 2 or weight.data_type not in (1, 10):  # float, float16
        return f"left as published ({head.op_type} without a float weight initializer)"
    k, n = int(weight.dims[0]), int(weight.dims[1])
    block = opts.q4_block
    if k % PUBLISHED_BLOCK:
        return f"left as published (K={k} is not a multiple of {PUBLISHED_BLOCK})"
    say(f"  quantizing the LM head [{k} x {n}] to int{opts.head_bits}, block {block}")
    matrix = tensor_array(weight, base)
    b, s = writer.quantized(head.name or "lm_head", matrix, opts.head_bits, block)
    model.graph.initializer.extend([b, s])
    node = onnx.helper.make_node("MatMulNBits", [head.input[0], b.name, s.name], list(head.output),
                                 name=(head.name or "lm_head") + "_q", domain="com.microsoft", K=k, N=n,
                                 bits=opts.head_bits, block_size=block, accuracy_level=opts.accuracy_level)
    nodes = list(model.graph.node)
    idx = nodes.index(head)
    model.graph.node.remove(head)
    model.graph.node.insert(idx, node)
    if not any(n.input and weight.name in n.input for n in model.graph.node):
        model.graph.initializer.remove(weight)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(onnx.helper.make_opsetid("com.microsoft", 1))
    return f"quantized to int{opts.head_bits}" + ("" if block == PUBLISHED_BLOCK else f", block {block}")


def _add_keep(model: Any, head: Any) -> None:
    """Insert ``num_logits_to_keep`` (0 = all) and slice the head's input to the last positions."""
    from onnx import TensorProto, helper

    graph = model.graph
    hidden = head.input[0]
    graph.input.append(helper.make_tensor_value_info(KEEP, TensorProto.INT64, []))
    p = "opt_keep/"
    graph.initializer.extend([
        helper.make_tensor(p + "one_dim", TensorProto.INT64, [1], [1]),
        helper.make_tensor(p + "shape1", TensorProto.INT64, [1], [1]),
        helper.make_tensor(p + "zero", TensorProto.INT64, [1], [0]),
    ])
    nodes = [
        helper.make_node("Shape", [hidden], [p + "shape"]),
        helper.make_node("Gather", [p + "shape", p + "one_dim"], [p + "seq"]),
        helper.make_node("Reshape", [KEEP, p + "shape1"], [p + "keep"]),
        helper.make_node("Greater", [p + "keep", p + "zero"], [p + "some"]),
        helper.make_node("Sub", [p + "seq", p + "keep"], [p + "from_end"]),
        helper.make_node("Where", [p + "some", p + "from_end", p + "zero"], [p + "start"]),
        helper.make_node("Slice", [hidden, p + "start", p + "seq", p + "one_dim"], [p + "hidden"]),
    ]
    idx = list(graph.node).index(head)
    for offset, node in enumerate(nodes):
        graph.node.insert(idx + offset, node)
    head.input[0] = p + "hidden"
    logits = next(o for o in graph.output if o.name == "logits")
    dims = logits.type.tensor_type.shape.dim
    if len(dims) == 3:
        dims[1].Clear()
        dims[1].dim_param = "num_logits"
    del graph.value_info[:]


def _link_shards(model: Any, src_dir: Path, out_dir: Path, own: str, say: Progress) -> None:
    """Hard-link (or copy) every source shard the rewritten graph still reads into ``out_dir``."""
    locations = {e.value for t in model.graph.initializer if t.data_location == 1 for e in t.external_data
                 if e.key == "location"} - {own}
    for loc in sorted(locations):
        if Path(loc).is_absolute() or ".." in Path(loc).parts:
            raise AssistantError(f"{src_dir}: external data {loc!r} lies outside the model folder")
        dst = out_dir / loc
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(src_dir / loc, dst)
        except OSError:
            say(f"  copying {loc} (cannot hard-link it into the cache folder)")
            shutil.copyfile(src_dir / loc, dst)
