"""ONNX model → a readable `.arch` spec and the weights of its compiled PyTorch model.

    spec_text, tensors = from_onnx("resnet18.onnx")
    import_onnx_file("resnet18.onnx", "resnet18.arch", "resnet18.safetensors")   # `archc import`

The graph is read node by node (archc works out the shapes; the output's is checked against ONNX
shape inference) and each node becomes an archc op, or is refused: every node the language cannot
express exactly is listed in one OnnxImportError, with its name, op type and reason. Nothing is approximated. docs/import.md ("From ONNX") has the table.

Structure: an Add or Concat whose inputs are chains of layers forking from one layer becomes a
merge with branches (a ResNet block, a SqueezeNet fire), any other merge reads its inputs by
name (`concat from a, b, c`, DenseNet). A merge block and the layers before it that share its
module scope (the torch exporter names nodes `/layer1/layer1.0/conv1/Conv`) form an instance;
instances that print the same but for their widths become one `module` with the widths as
parameters, and the instances `P.0`, `P.1`, ... of one module and arguments a `repeat` named P.

The tensors are keyed by the compiled torch model's state_dict keys (archc.backends.pytorch
`torch_paths`), in its layouts: ONNX's Conv weight is already OIHW, a Gemm's weight is transposed
where transB=0 and a MatMul's always. Each batch norm gets `num_batches_tracked` = 0 (ONNX keeps
no such counter), so that `model.load_state_dict(tensors, strict=True)` loads them.

onnx, numpy and safetensors are imported inside the functions only: `import archc` stays light.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .onnx_reader import OnnxImportError, Reader
from .onnx_writer import generate

# ---------------------------------------------------------------------------------------------
# The entry points


def from_onnx(model_or_path: Any, name: str | None = None) -> tuple[str, dict[str, Any]]:
    """(spec text, {state_dict key: numpy array}) for an ONNX model (a path or an onnx.ModelProto).

    Raises OnnxImportError listing every node archc cannot express.
    """
    import onnx

    from ..backends.arch import format_program
    from ..backends.arch_layout import reformat
    from ..backends.pytorch import torch_paths
    from ..compiler import compile_source
    from ..diagnostics import Diagnostics
    from ..parse import parse
    from ..weights import TENSORS

    if isinstance(model_or_path, (str, Path)):
        path = Path(model_or_path)
        model = onnx.load(str(path))
        source, stem = path.name, path.stem
    else:
        model = model_or_path
        source, stem = "an ONNX model", model.graph.name or "Imported"
    reader = Reader(model)
    if reader.refusals:
        raise OnnxImportError(reader.refusals)
    text, order = generate(reader, name or stem, source)
    text = reformat(text)
    comp = compile_source(text, f"{stem}.arch")
    comp.raise_for_errors()
    program = parse(text, "<import>", Diagnostics())
    if program is None or format_program(program, text) != text:
        raise AssertionError("archc bug: the imported spec is not as archc fmt prints it")
    net = comp.networks[0]
    want = _declared_output(model)
    if want is not None and want != net.nodes[net.output].shape:
        raise AssertionError(f"archc bug: the imported spec's output is {net.nodes[net.output].shape}, the ONNX model's {want}")
    paths = torch_paths(net)
    nodes = [n for n in net.layers if n.op in TENSORS and n.params and n.id in net.live]
    if [n.op for n in nodes] != [layer.op for layer in order]:
        raise AssertionError("archc bug: the imported spec's layers do not line up with the ONNX model's")
    tensors: dict[str, Any] = {}
    for node, layer in zip(nodes, order, strict=True):
        counted = sum(a.size for k, a in layer.tensors.items() if k in ("weight", "bias"))
        if counted != node.params:
            raise AssertionError(f"archc bug: {node.qualname} has {node.params} parameters, the ONNX node {layer.onnx_name} {counted}")
        for key, array in layer.tensors.items():
            tensors[f"{paths[node.path]}.{key}"] = array
    return text, tensors


def _declared_output(model: Any) -> tuple[int, ...] | None:
    """The ONNX model's output shape without the batch, as archc writes it (a Cx1x1 global pool's output is C)."""
    import onnx

    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # a model that shape inference cannot follow is checked by its outputs alone
        return None
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in model.graph.output[0].type.tensor_type.shape.dim][1:]
    if not dims or not all(dims):
        return None
    return (dims[0],) if dims[1:] == [1] * (len(dims) - 1) else tuple(dims)


def import_onnx_file(path: str | Path, out_spec: str | Path, weights_path: str | Path | None = None) -> tuple[str, dict[str, Any]]:
    """`archc import model.onnx -o model.arch --weights model.safetensors`: writes the spec and, if asked, the weights."""
    from safetensors.numpy import save_file

    from ..files import write_atomic

    text, tensors = from_onnx(path, name=Path(out_spec).stem)
    write_atomic(Path(out_spec), text)
    if weights_path is not None:
        import numpy as np

        save_file({k: np.ascontiguousarray(v) for k, v in tensors.items()}, str(weights_path))
    return text, tensors


__all__ = ["OnnxImportError", "from_onnx", "import_onnx_file"]
