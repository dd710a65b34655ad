"""The HTTP server of `ecoeco up` / `ecoeco serve` (ecoeco.serving), as real processes on real sockets:
request-head limits, forwarded headers, the public URL, the metrics listener, slow clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import jwt
import pytest

from tests.support import services
from tests.support.auth import sign_in
from tests.support.processes import Server, start_server, stop_server

pytestmark = pytest.mark.slow
RATE_LIMIT = 5
CHALLENGE = "aU898U0hQDXYGVjF1pB3_UC7GT-o_ssPhYLLwWEGQsU"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    """``plain``: `ecoeco up --port N` with nothing configured but a short body deadline; ``direct`` and
    ``proxied``: `ecoeco serve` with a small sign-in rate limit, the second believing forwarded headers from
    loopback (its "load balancer") and serving /metrics on a port of its own."""
    tmp = tmp_path_factory.mktemp("serving")
    started: dict[str, Server] = {}
    try:
        started["plain"] = start_server(tmp, "plain", ["up"], {"ECOECO_BODY_TIMEOUT_S": "3"})
        limited = {"ECOECO_AUTH_RATE_LIMIT": str(RATE_LIMIT)}
        started["direct"] = start_server(tmp, "direct", ["serve", "--host", "127.0.0.1"], limited)
        started["proxied"] = start_server(
            tmp,
            "proxied",
            ["serve", "--host", "127.0.0.1", "--metrics-port", str(services.free_port())],
            limited | {"ECOECO_FORWARDED_ALLOW_IPS": "127.0.0.1/32,10.0.0.0/16"},
        )
        yield started
    finally:
        for server in started.values():
            stop_server(server)


async def _raw(port: int, request: bytes) -> bytes:
    """Send ``request`` as it is and read the whole answer (the server closes)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        async with asyncio.timeout(30):
            return await reader.read()
    finally:
        writer.close()


@pytest.mark.parametrize(
    ("head", "status"),
    [
        (b"X-Big: " + b"a" * 40_000 + b"\r\n", b"431"),
        (b"".join(b"X-H%d: v\r\n" % i for i in range(500)), b"431"),
        (b"".join(b"X-H%d: v\r\n" % i for i in range(50)), b"200"),
    ],
    ids=["40-kB-header", "500-headers", "50-headers"],
)
async def test_request_heads_are_bounded(servers: dict[str, Server], head: bytes, status: bytes) -> None:
    answer = await _raw(
        servers["plain"].port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + head + b"Connection: close\r\n\r\n"
    )
    assert answer.split(b" ", 2)[1] == status, answer[:300]
    if status == b"431":
        assert b"application/problem+json" in answer and b"headers-too-large" in answer


async def test_a_huge_header_is_refused_before_it_is_read(servers: dict[str, Server]) -> None:
    # More than the socket buffers hold: the server refuses while bytes it never read are still coming, and
    # the 431 must reach the client all the same (no connection reset).
    reader, writer = await asyncio.open_connection("127.0.0.1", servers["plain"].port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4_000_000)
    async with asyncio.timeout(30):
        answer = await reader.read()  # answered and closed while the header is still arriving
    writer.close()
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]


async def _authorize(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    r = await client.get(
        "/api/v1/auth/dev/authorize",
        params={
            "client": "mobile",
            "redirect_uri": "ecoeco://auth/callback",
            "code_challenge": CHALLENGE,
            "code_challenge_method": "S256",
        },
        headers=headers,
    )
    return r.status_code


async def test_forwarded_for_is_believed_only_from_the_proxy_network(servers: dict[str, Server]) -> None:
    # From a client that is not the load balancer, X-Forwarded-For changes nothing: rotating it does not
    # buy a fresh rate-limit bucket per request.
    async with httpx.AsyncClient(base_url=servers["direct"].url) as client:
        spoofed = [
            await _authorize(client, {"X-Forwarded-For": f"203.0.113.{i}"}) for i in range(RATE_LIMIT + 3)
        ]
    assert spoofed[:RATE_LIMIT] == [200] * RATE_LIMIT and set(spoofed[RATE_LIMIT:]) == {429}

    # Behind the load balancer every request comes from its address: each client gets its own bucket, and
    # only the address the balancer appended counts (a client's own first entry does not).
    async with httpx.AsyncClient(base_url=servers["proxied"].url) as client:
        distinct = [
            await _authorize(client, {"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(RATE_LIMIT + 3)
        ]
        one = [
            await _authorize(client, {"X-Forwarded-For": f"203.0.113.{i}, 192.0.2.7"})
            for i in range(RATE_LIMIT + 1)
        ]
    assert distinct == [200] * (RATE_LIMIT + 3)
    assert one[:RATE_LIMIT] == [200] * RATE_LIMIT and one[RATE_LIMIT] == 429


async def test_hsts_only_behind_tls(servers: dict[str, Server]) -> None:
    tls = {"X-Forwarded-Proto": "https"}
    async with httpx.AsyncClient(base_url=servers["proxied"].url) as client:
        behind_tls = await client.get("/healthz", headers=tls)
        plain = await client.get("/healthz")
    async with httpx.AsyncClient(base_url=servers["plain"].url) as client:
        spoofed = await client.get("/healthz", headers=tls)
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in plain.headers
    assert "strict-transport-security" not in spoofed.headers  # not from an untrusted peer
    for r in (behind_tls, plain, spoofed):
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


async def test_the_public_url_follows_the_port_when_none_is_configured(servers: dict[str, Server]) -> None:
    plain = servers["plain"]
    async with httpx.AsyncClient(base_url=plain.url) as client:
        authorize = (
            await client.get(
                "/api/v1/auth/dev/authorize",
                params={"return_to": f"{plain.url}/"},
            )
        ).json()
        assert authorize["authorization_url"].startswith(f"{plain.url}/api/v1/auth/dev/consent?")
        me = await sign_in(client)
        assert jwt.decode(me.access_token, options={"verify_signature": False})["iss"] == plain.url
        target = await client.post(
            "/api/v1/waste/uploads", json={"content_type": "image/jpeg", "size": 10}, headers=me.headers
        )
    assert target.status_code == 201, target.text
    assert target.json()["url"].startswith(f"{plain.url}/api/v1/storage/")


async def test_metrics_are_served_on_their_own_listener(servers: dict[str, Server]) -> None:
    proxied = servers["proxied"]
    async with httpx.AsyncClient(base_url=proxied.url) as client:
        assert (await client.get("/metrics")).status_code == 404
    port = _metrics_port(proxied)
    async with httpx.AsyncClient() as client:
        scraped = await client.get(f"http://127.0.0.1:{port}/metrics")
    assert scraped.status_code == 200 and "ecoeco_http_requests_total" in scraped.text
    async with httpx.AsyncClient(base_url=servers["plain"].url) as client:
        assert (await client.get("/metrics")).status_code == 200  # `ecoeco up`: one local listener


def _metrics_port(server: Server) -> int:
    args = server.process.args
    assert isinstance(args, list)
    return int(args[args.index("--metrics-port") + 1])


async def test_slow_uploads_neither_block_others_nor_stay_open(servers: dict[str, Server]) -> None:
    """40 signed upload URLs whose PUTs send one byte at a time: the rest of the API keeps answering, and
    each slow body is cut off at the body deadline (3 s here) with a 408."""
    plain = servers["plain"]
    async with httpx.AsyncClient(base_url=plain.url) as client:
        users = [await sign_in(client) for _ in range(4)]
        targets = []
        for user in users:
            for _ in range(10):
                r = await client.post(
                    "/api/v1/waste/uploads",
                    json={"content_type": "image/jpeg", "size": 5000},
                    headers=user.headers,
                )
                assert r.status_code == 201, r.text
                targets.append(r.json())
        refused = await client.post(
            "/api/v1/waste/uploads",
            json={"content_type": "image/jpeg", "size": 5000},
            headers=users[0].headers,
        )
        assert refused.status_code == 429  # ten open uploads per user at most

        trickles = [asyncio.create_task(_trickle(plain.port, t["url"])) for t in targets]
        try:
            other = await sign_in(client)
            nearby = await client.get("/api/v1/locations", params={"lat": 37.5665, "lon": 126.978})
            scan = await client.post(
                "/api/v1/waste/scans", json={"question": "페트병"}, headers=other.headers
            )
            upload = await client.post(
                "/api/v1/waste/uploads",
                json={"content_type": "image/jpeg", "size": 10},
                headers=other.headers,
            )
            assert (nearby.status_code, scan.status_code, upload.status_code) == (200, 202, 201)
        finally:
            answers = await asyncio.gather(*trickles)
    assert {a.split(b" ", 2)[1] for a in answers} == {b"408"}, answers[0][:300]


async def _trickle(port: int, url: str) -> bytes:
    """PUT a body one byte at a time, half a second apart, until the server answers."""
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"PUT {parts.path}?{parts.query} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/jpeg\r\n"
        "Content-Length: 5000\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode())
    answer = asyncio.ensure_future(reader.read())
    try:
        async with asyncio.timeout(60):
            while not answer.done():
                writer.write(b"\xff")
                await writer.drain()
                await asyncio.wait([answer], timeout=0.5)
            return answer.result()
    except (ConnectionError, OSError):
        return await answer
    finally:
        writer.close()
