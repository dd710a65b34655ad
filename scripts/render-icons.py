"""Render the app's PNG icons from src/ecoeco/web/static/icons/icon.svg with headless Chromium.

Run after changing the SVG: ``uv run python scripts/render-icons.py`` (needs /usr/bin/chromium).
The maskable icon puts the same mark inside the central safe zone on a full-bleed background.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import sync_playwright

ICONS = Path(__file__).resolve().parent.parent / "src" / "ecoeco" / "web" / "static" / "icons"
SIZES = {"icon-192.png": 192, "icon-512.png": 512, "apple-touch-icon.png": 180}


def maskable(svg: str) -> str:
    mark = re.search(r'<g id="mark">.*?</g>', svg, re.S)
    assert mark, "icon.svg must keep its mark in <g id=\"mark\">"
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512">'
        '<rect width="512" height="512" fill="#146c43"/>'
        f'<g transform="translate(89.6 89.6) scale(0.65)">{mark.group(0)}</g></svg>'
    )


def main() -> None:
    svg = (ICONS / "icon.svg").read_text()
    jobs = [(name, size, svg) for name, size in SIZES.items()] + [("maskable-512.png", 512, maskable(svg))]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for name, size, source in jobs:
            page = browser.new_page(viewport={"width": size, "height": size})
            sized = source.replace("<svg ", f'<svg width="{size}" height="{size}" ', 1)
            page.set_content(f'<body style="margin:0">{sized}</body>')
            page.screenshot(path=str(ICONS / name), omit_background=True)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
