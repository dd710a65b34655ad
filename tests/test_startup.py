"""What `ecoeco up` imports before it answers: the heavy packages of features the first request does not need
stay out until they are used (the model and image decoding load in the background or on the first photo;
Redis, S3, Kubernetes, OpenAI and Celery only when configured or called). Timing lives in
benchmarks/bench_startup.py; this checks the behaviour that makes the start fast, in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Each costs a start a noticeable share of its time or memory when imported eagerly.
LAZY = ("numpy", "PIL", "pillow_heif", "onnx", "onnxruntime", "redis", "boto3", "botocore", "kubernetes",
        "openai", "celery", "holidays")  # fmt: skip

STARTUP = """
import asyncio, json, sys
from pathlib import Path
import ecoeco.cli  # everything `ecoeco up` imports before it runs: every domain's CLI and models
from ecoeco.app import create_app
from ecoeco.runtime import Backends
from ecoeco.settings import Settings

settings = Settings(data_dir=Path(sys.argv[1]), env="test", redis_url=None, s3_bucket=None, broker_url=None)
create_app(settings)  # every router
asyncio.run(Backends.from_settings(settings).aclose())  # the embedded backends, as the lifespan builds them
print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))
"""


def _imported(tmp_path: Path, code: str, modules: tuple[str, ...]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), *modules], capture_output=True, text=True, check=True
    ).stdout
    imported: list[str] = json.loads(out.splitlines()[-1])
    return imported


def test_an_embedded_start_imports_none_of_the_heavy_optional_packages(tmp_path: Path) -> None:
    assert _imported(tmp_path, STARTUP, LAZY) == []


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # The first photo brings the image libraries.
        (
            "from ecoeco.vision.images import ImageLimits\n"
            "ImageLimits(max_bytes=1000, max_pixels=1000).prepare(b'not an image')",
            ["PIL", "numpy", "pillow_heif"],
        ),
        # The classifier (built by the background warm-up) brings the model runtime.
        (
            "from ecoeco.vision import create_classifier\nfrom ecoeco.settings import Settings\n"
            "create_classifier(Settings(data_dir=Path(sys.argv[1]), env='test'))",
            ["numpy", "onnx", "onnxruntime"],
        ),
        # A configured Redis brings redis-py.
        ("from ecoeco.cache import create_cache\ncreate_cache('redis://127.0.0.1:1/0')", ["redis"]),
    ],
)
def test_what_is_left_out_at_start_comes_when_used(tmp_path: Path, code: str, expected: list[str]) -> None:
    wrapped = (
        "import contextlib, json, sys\nfrom pathlib import Path\n"
        "with contextlib.suppress(Exception):\n" + "".join(f"    {line}\n" for line in code.splitlines())
        + "print(json.dumps(sorted(m for m in sys.argv[2:] if m in sys.modules)))\n"
    )  # fmt: skip
    assert set(expected) <= set(_imported(tmp_path, wrapped, LAZY))
