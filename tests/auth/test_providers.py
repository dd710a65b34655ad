"""GET /auth/providers: which sign-in buttons a front-end should show."""

from __future__ import annotations

import httpx


async def test_lists_the_configured_providers_in_display_order(client: httpx.AsyncClient) -> None:
    # The auth tests configure all three social providers (against the fake IdP); dev is on in test mode.
    r = await client.get("/api/v1/auth/providers")
    assert r.status_code == 200
    assert r.json() == {"providers": ["kakao", "naver", "google", "dev"]}
    assert r.headers["cache-control"] == "public, max-age=300"
