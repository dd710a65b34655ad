"""The processes ``bench_waste`` starts: ecoeco with a zero-latency stub model, and a hello-world app.

``python -m benchmarks.waste_stub ecoeco ARGS…`` replaces the classifier factory with the stub, then runs the
real ``ecoeco`` command (``serve``, ``worker``, ``up``) with ARGS; product code is not changed.
``python -m benchmarks.waste_stub hello PORT`` serves a bare FastAPI POST with the call ``ecoeco up`` makes.
"""

from __future__ import annotations

import sys

from fastapi import FastAPI, Request

from ecoeco.settings import Settings
from ecoeco.vision.base import Classification, Taxonomy, VisionClassifier
from ecoeco.vision.images import ImageLimits, PreparedImage

STUB_MODEL = "bench-stub"


class StubClassifier(VisionClassifier):
    """A clear PET bottle with its label on, confidently, in no time."""

    backend = "stub"

    def __init__(self, limits: ImageLimits) -> None:
        super().__init__(limits)
        from ecoeco.recycling.knowledge import get_knowledge_base

        kb = get_knowledge_base()
        item = kb.search("생수병", limit=1)[0].item
        self.answer = Classification(
            major=kb.middles[item.middle].major,
            middle=item.middle,
            item_hint=item.id,
            tags=["label_attached"],
            confidence=0.93,
            unsure=False,
            model=STUB_MODEL,
            latency_ms=0.0,
        )

    async def classify(
        self, image: PreparedImage | bytes, *, question: str | None, taxonomy: Taxonomy
    ) -> Classification:
        return self.answer

    async def warm_up(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


def install_stub() -> None:
    """Make every classifier this process creates the stub (both modules that hold the factory)."""
    import ecoeco.runtime
    import ecoeco.vision

    def create(settings: Settings) -> VisionClassifier:
        return StubClassifier(ImageLimits.from_settings(settings))

    ecoeco.vision.create_classifier = create
    ecoeco.runtime.create_classifier = create  # type: ignore[attr-defined]  # its imported name


def hello_app() -> FastAPI:
    app = FastAPI()

    @app.post("/hello")
    async def hello(request: Request) -> dict[str, bool]:
        await request.body()
        return {"ok": True}

    return app


def _child(argv: list[str]) -> None:
    """``python -m benchmarks.waste_stub ecoeco ARGS…`` or ``… hello PORT``."""
    if argv[0] == "hello":
        import uvicorn

        # The same call `ecoeco up` / `ecoeco serve` make.
        uvicorn.run(hello_app(), host="127.0.0.1", port=int(argv[1]), log_config=None, access_log=False)
        return
    install_stub()
    from ecoeco.cli import main as ecoeco_main

    sys.argv = ["ecoeco", *argv[1:]]
    ecoeco_main()


if __name__ == "__main__":
    _child(sys.argv[1:])
