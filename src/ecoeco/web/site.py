"""Routes that serve the web app's files, its service worker and manifest, and the API docs.

The static files are read once at start-up and kept in memory (about 200 kB, gzip-compressed once).
Assets live under ``/assets/<version>/`` where the version is a digest of every static file: the page
asks for exactly the files it was written with, so they may be cached for a year, and a deploy that
changes any file changes every URL (and the service worker, which lists them). The shell itself
(``/`` and the app's other paths), ``/sw.js`` and the manifest are revalidated on every load.
"""

from __future__ import annotations

import gzip
import hashlib
import html
import importlib.util
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Response

from ecoeco.core.errors import NotFound
from ecoeco.settings import Settings

SERVICE = "web"  # `ecoeco serve --service web`: the app's files without any API domain
STATIC_DIR = Path(__file__).parent / "static"
ASSET_PREFIX = "/assets"
# Paths the single-page app draws itself: each answers with the same shell.
APP_PATHS = (
    "/",
    "/signin",
    "/history",
    "/places",
    "/account",
    "/rules",
    "/rules/{rest:path}",
    "/scans/{scan_id}",
)
# Files rendered with values known only at start-up (asset base, version); served at fixed URLs.
_TEMPLATES = ("index.html", "sw.js", "manifest.webmanifest", "docs/docs.html")
# What the service worker keeps for offline use: every asset of the app, not the docs page's.
_NOT_IN_SHELL = ("docs/",)
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
}
_COMPRESSIBLE = frozenset({".html", ".js", ".css", ".svg", ".webmanifest", ".json"})
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
SWAGGER_FILES = frozenset({"swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png"})


@dataclass(frozen=True)
class Asset:
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes | None = None

    @classmethod
    def of(cls, name: str, body: bytes) -> Asset:
        suffix = PurePosixPath(name).suffix
        packed = gzip.compress(body, 9, mtime=0) if suffix in _COMPRESSIBLE else None
        return cls(
            body=body,
            media_type=_MEDIA_TYPES.get(suffix, "application/octet-stream"),
            # Weak: the gzip and identity bodies are the same representation for caching purposes.
            etag=f'W/"{hashlib.sha256(body).hexdigest()[:20]}"',
            gzipped=packed if packed is not None and len(packed) < len(body) else None,
        )


@dataclass(frozen=True)
class Bundle:
    version: str
    assets: dict[str, Asset]  # path under /assets/<version>/
    templates: dict[str, str]

    @property
    def base(self) -> str:
        return f"{ASSET_PREFIX}/{self.version}"

    def render(self, name: str, **values: str) -> Asset:
        text = self.templates[name]
        for key, value in values.items():
            text = text.replace(f"%{key}%", value)
        return Asset.of(name, text.encode())

    def shell(self) -> list[str]:
        """URLs the service worker caches on install: the page and every asset it may load."""
        files = [f"{self.base}/{n}" for n in self.assets if not n.startswith(_NOT_IN_SHELL)]
        return ["/", "/manifest.webmanifest", *files]


def load_bundle(root: Path = STATIC_DIR) -> Bundle:
    files = {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    digest = hashlib.sha256()
    for name, body in files.items():
        digest.update(name.encode() + b"\0" + hashlib.sha256(body).digest())
    return Bundle(
        version=digest.hexdigest()[:12],
        assets={n: Asset.of(n, b) for n, b in files.items() if n not in _TEMPLATES},
        templates={n: files[n].decode() for n in _TEMPLATES},
    )


# --- headers -----------------------------------------------------------------------------------


def upload_origins(settings: Settings) -> list[str]:
    """Where the browser PUTs photos: the app itself, or the S3 endpoint of the pre-signed URLs."""
    if not settings.s3_bucket:
        return []
    if settings.s3_endpoint_url:
        parts = urlsplit(settings.s3_endpoint_url)
        # Path-style URLs go to the endpoint; virtual-hosted ones to the bucket's sub-domain of it.
        return [f"{parts.scheme}://{parts.netloc}", f"{parts.scheme}://{settings.s3_bucket}.{parts.netloc}"]
    bucket, region = settings.s3_bucket, settings.s3_region
    return [f"https://{bucket}.s3.{region}.amazonaws.com", f"https://{bucket}.s3.amazonaws.com"]


def content_security_policy(*, connect: list[str], style: str = "'self'", img: str = "'self'") -> str:
    directives = {
        "default-src": "'self'",
        "script-src": "'self'",
        "style-src": style,
        "img-src": img,
        "connect-src": " ".join(["'self'", *connect]),
        "font-src": "'self'",
        "manifest-src": "'self'",
        "worker-src": "'self'",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }
    return "; ".join(f"{k} {v}" for k, v in directives.items())


def page_headers(csp: str) -> dict[str, str]:
    """What a page adds to the headers every response gets (ecoeco.core.headers: nosniff, no framing,
    referrer policy, HSTS behind TLS): its own Content-Security-Policy and the browser features it uses."""
    return {
        "Content-Security-Policy": csp,
        "Cross-Origin-Opener-Policy": "same-origin",
        # The camera is reached through the file input; location only when the person taps the button.
        "Permissions-Policy": "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()",
    }


# --- responses ---------------------------------------------------------------------------------


def _accepts_gzip(request: Request) -> bool:
    for part in request.headers.get("accept-encoding", "").split(","):
        name, _, params = part.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _respond(request: Request, asset: Asset, headers: dict[str, str]) -> Response:
    headers = {**headers, "ETag": asset.etag, "Vary": "Accept-Encoding"}
    wanted = {tag.strip() for tag in request.headers.get("if-none-match", "").split(",")}
    if asset.etag in wanted:
        return Response(status_code=304, headers=headers)
    body = asset.body
    if asset.gzipped is not None and _accepts_gzip(request):
        body = asset.gzipped
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=asset.media_type, headers=headers)


def _swagger_dir() -> Path:
    # Located without importing it: the package's __init__ probes web frameworks we do not need.
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("swagger-ui-py is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


@lru_cache(maxsize=len(SWAGGER_FILES))
def swagger_asset(name: str) -> Asset:
    return Asset.of(name, (_swagger_dir() / name).read_bytes())


# --- mounting ----------------------------------------------------------------------------------


def mount(app: FastAPI, settings: Settings, *, ui: bool) -> None:
    """Serve the docs (when the app publishes OpenAPI) and, with ``ui``, the web app."""
    bundle = load_bundle()
    router = APIRouter(include_in_schema=False)

    @router.api_route(ASSET_PREFIX + "/{version}/{path:path}", methods=["GET", "HEAD"])
    async def asset(version: str, path: str, request: Request) -> Response:
        found = bundle.assets.get(path)
        if found is None:
            raise NotFound("No such file.", code="asset-not-found")
        # An older page (mid-deploy) still gets a file, but only the current version may be kept.
        cache = IMMUTABLE if version == bundle.version else REVALIDATE
        return _respond(request, found, {"Cache-Control": cache})

    # Pages without an icon link (the dev consent page, JSON in a tab) make browsers ask for this.
    @router.api_route("/favicon.ico", methods=["GET", "HEAD"])
    async def favicon(request: Request) -> Response:
        return _respond(
            request,
            bundle.assets["icons/icon-192.png"],
            {"Cache-Control": "public, max-age=86400"},
        )

    if app.openapi_url:
        _mount_docs(router, bundle, app.openapi_url)
    if ui:
        _mount_app(router, bundle, settings)
    app.include_router(router)


def _mount_docs(router: APIRouter, bundle: Bundle, openapi_url: str) -> None:
    page = bundle.render("docs/docs.html", BASE=bundle.base, OPENAPI_URL=html.escape(openapi_url))
    # Swagger UI's React components set style attributes and its icons are data: URIs.
    headers = {
        **page_headers(
            content_security_policy(connect=[], style="'self' 'unsafe-inline'", img="'self' data:")
        ),
        "Cache-Control": REVALIDATE,
    }

    @router.api_route("/docs", methods=["GET", "HEAD"])
    async def docs(request: Request) -> Response:
        return _respond(request, page, headers)

    @router.api_route("/docs/assets/{name}", methods=["GET", "HEAD"])
    async def docs_asset(name: str, request: Request) -> Response:
        if name not in SWAGGER_FILES:
            raise NotFound("No such file.", code="asset-not-found")
        return _respond(request, swagger_asset(name), {"Cache-Control": "public, max-age=86400"})


def _mount_app(router: APIRouter, bundle: Bundle, settings: Settings) -> None:
    csp = content_security_policy(connect=upload_origins(settings), img="'self' blob:")
    headers = {**page_headers(csp), "Cache-Control": REVALIDATE}
    # Every module up front: without a bundler, this avoids discovering imports one round trip at a time.
    preload = "\n".join(
        f'<link rel="modulepreload" href="{bundle.base}/{name}">'
        for name in bundle.assets
        if name.startswith("js/") and name != "js/main.js"
    )
    shell = bundle.render("index.html", BASE=bundle.base, PRELOAD=preload)
    worker = bundle.render("sw.js", VERSION=bundle.version, SHELL=json.dumps(bundle.shell()))
    manifest = bundle.render("manifest.webmanifest", BASE=bundle.base)

    async def index(request: Request) -> Response:
        return _respond(request, shell, headers)

    for path in APP_PATHS:
        router.add_api_route(path, index, methods=["GET", "HEAD"])

    @router.api_route("/sw.js", methods=["GET", "HEAD"])
    async def service_worker(request: Request) -> Response:
        return _respond(request, worker, headers)

    @router.api_route("/manifest.webmanifest", methods=["GET", "HEAD"])
    async def web_manifest(request: Request) -> Response:
        return _respond(request, manifest, {"Cache-Control": REVALIDATE})
