"""The weights loader and the ONNX graph, checked against the real packaged weights.

Parity with the reference PyTorch implementation was measured once outside the project (torch is not a
dependency); here an independent numpy computation of the first layer checks the two error-prone parts,
batch-norm folding and TensorFlow-style asymmetric padding, and the graph's structure is checked
against the architecture.
"""

from __future__ import annotations

import io
import os
import pickle
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from ecoeco.vision import efficientnet
from ecoeco.vision.efficientnet import WeightsFormatError, load_state_dict


@pytest.fixture(scope="module")
def state() -> dict[str, np.ndarray[Any, Any]]:
    return load_state_dict(efficientnet.weights_path())


@pytest.fixture(scope="module")
def model(state: dict[str, np.ndarray[Any, Any]]) -> onnx.ModelProto:
    return efficientnet.build_model(state)


def test_packaged_weights_load_as_a_full_state_dict(state: dict[str, np.ndarray[Any, Any]]) -> None:
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_conv_head.weight"].shape == (1280, 320, 1, 1)
    blocks = {key.split(".")[1] for key in state if key.startswith("_blocks.")}
    assert len(blocks) == sum(stage.repeats for stage in efficientnet.LITE0_STAGES)
    variances = [v for k, v in state.items() if k.endswith("running_var")]
    assert variances and all((v >= 0).all() for v in variances)  # some channels are dead: exactly 0
    assert all(np.isfinite(v).all() for v in state.values())


def test_graph_has_the_lite0_structure(model: onnx.ModelProto) -> None:
    ops = Counter(node.op_type for node in model.graph.node)
    stages = efficientnet.LITE0_STAGES
    blocks = sum(s.repeats for s in stages)
    expanding = blocks - sum(1 for s in stages if s.expand == 1)
    # stem + head + (depthwise + project) per block + one expansion per expanding block
    assert ops["Conv"] == 2 + 2 * blocks + expanding
    # Residuals: every repeat after a stage's first block, plus a first block that keeps width and stride.
    assert ops["Add"] == sum(s.repeats - 1 for s in stages)
    assert ops["BatchNormalization"] == 0  # all folded into the convolutions
    assert ops["Sigmoid"] == 0  # no squeeze-and-excitation and no swish in the Lite variants
    depthwise = [n for n in model.graph.node if n.op_type == "Conv" and _attr(n, "group") > 1]
    assert [_attr(n, "kernel_shape")[0] for n in depthwise] == [
        s.kernel for s in stages for _ in range(s.repeats)
    ]


def _attr(node: onnx.NodeProto, name: str) -> Any:
    return next(onnx.helper.get_attribute_value(a) for a in node.attribute if a.name == name)


def test_stem_matches_an_independent_numpy_computation(
    state: dict[str, np.ndarray[Any, Any]], model: onnx.ModelProto
) -> None:
    """conv 3x3/2 with TF 'SAME' padding (0 before, 1 after at 224), then batch norm, then ReLU6."""
    stem_out = "_conv_stem.relu6"
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    probe.graph.output.append(onnx.helper.make_tensor_value_info(stem_out, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.random.default_rng(3).uniform(-1, 1, (1, 3, 224, 224)).astype(np.float32)

    (got,) = session.run([stem_out], {"image": x})

    padded = np.pad(x[0].astype(np.float64), ((0, 0), (0, 1), (0, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(1, 2))[:, ::2, ::2]
    conv = np.einsum("chwij,ocij->ohw", windows, state["_conv_stem.weight"].astype(np.float64))
    mean, var = state["_bn0.running_mean"], state["_bn0.running_var"]
    gamma, beta = state["_bn0.weight"], state["_bn0.bias"]
    bn = (conv - mean[:, None, None]) / np.sqrt(var[:, None, None] + efficientnet.BN_EPS)
    expected = np.clip(bn * gamma[:, None, None] + beta[:, None, None], 0, 6)
    assert got.shape == (1, 32, 112, 112)
    np.testing.assert_allclose(got[0], expected, atol=1e-4)


def test_graph_runs_with_any_batch_size(model: onnx.ModelProto) -> None:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    batch = np.random.default_rng(0).uniform(-1, 1, (3, 3, 224, 224)).astype(np.float32)

    (logits,) = session.run(None, {"image": batch})
    (single,) = session.run(None, {"image": batch[1:2]})

    assert logits.shape == (3, 1000)
    assert np.isfinite(logits).all()
    np.testing.assert_allclose(logits[1], single[0], atol=1e-4)


def _legacy_prefix() -> bytes:
    buf = io.BytesIO()
    for header in (0x1950A86A20F9469CFC6C, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, buf)
    return buf.getvalue()


class _RunsACommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


def test_a_weights_file_with_foreign_code_is_refused_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    evil.write_bytes(_legacy_prefix() + pickle.dumps({"_fc.weight": _RunsACommand(marker)}))

    with pytest.raises(WeightsFormatError, match="unexpected global"):
        load_state_dict(evil)
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04 a zip-format torch file", pickle.dumps("not the magic number"), b""],
    ids=["zip-format", "wrong-magic", "empty"],
)
def test_other_files_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises((WeightsFormatError, EOFError)):
        load_state_dict(path)


def test_truncated_storage_is_refused(tmp_path: Path) -> None:
    whole = efficientnet.weights_path().read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(whole[: len(whole) - 1000])
    with pytest.raises(WeightsFormatError, match="truncated"):
        load_state_dict(path)


def test_weights_of_another_variant_are_refused(state: dict[str, np.ndarray[Any, Any]]) -> None:
    bigger = dict(state)
    bigger["_blocks.16._project_conv.weight"] = state["_blocks.15._project_conv.weight"]
    with pytest.raises(WeightsFormatError, match="more blocks"):
        efficientnet.build_model(bigger)
    smaller = {k: v for k, v in state.items() if not k.startswith("_blocks.15.")}
    with pytest.raises(WeightsFormatError, match=r"_blocks\.15\."):
        efficientnet.build_model(smaller)
