"""The Eco² web app at ``/`` and the API docs at ``/docs``, served by ecoeco itself.

No build step and no framework: hand-written ES modules, CSS and a service worker in ``static/``, shipped
inside the Python package. Nothing is loaded from a CDN (Swagger UI's files come from the
``swagger-ui-py`` wheel). Every HTML page carries a strict Content-Security-Policy without inline scripts.
"""

from __future__ import annotations

from ecoeco.web.site import SERVICE, mount

__all__ = ["SERVICE", "mount"]
