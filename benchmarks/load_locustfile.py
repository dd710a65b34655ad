"""The journey mix for `bench_load` (run by Locust in a process of its own: Locust patches the standard
library with gevent, which breaks a process that already imported redis, botocore or urllib3).

Each simulated person signs in once through the dev provider, then repeats a journey: look up a rule,
find collection points, scan (a question, or a small photo), follow the scan (polling, or its event
stream once done), read the history. Every request counts; a non-2xx answer is a failure.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import secrets
import time
from urllib.parse import parse_qs, urlsplit

from locust import HttpUser, constant_pacing, task
from PIL import Image

SEOUL = [(37.5665, 126.978), (37.7025, 126.9011), (37.5314, 127.1326), (35.1796, 129.0756)]
WORDS = ["페트병", "우유팩", "건전지", "캔", "유리병", "스티로폼", "형광등", "옷"]


def _photo(seed: int) -> bytes:
    rng = random.Random(seed)
    image = Image.new("RGB", (320, 240), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


PHOTOS = [_photo(i) for i in range(16)]


class Person(HttpUser):
    wait_time = constant_pacing(1.0)  # one journey step per second per person: users = steps per second

    def on_start(self) -> None:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        r = self.client.get(
            "/api/v1/auth/dev/authorize",
            params={
                "client": "mobile",
                "redirect_uri": "ecoeco://auth/callback",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
            name="sign-in",
        )
        query = {k: v[0] for k, v in parse_qs(urlsplit(r.json()["authorization_url"]).query).items()}
        consent = self.client.post(
            "/api/v1/auth/dev/consent",
            data={
                "client_id": query["client_id"],
                "redirect_uri": query["redirect_uri"],
                "state": query["state"],
                "code_challenge": query["code_challenge"],
                "name": f"load-{secrets.token_hex(6)}",
                "decision": "allow",
            },
            allow_redirects=False,
            name="sign-in",
        )
        back = {k: v[0] for k, v in parse_qs(urlsplit(consent.headers["location"]).query).items()}
        token = self.client.post(
            "/api/v1/auth/dev/token", json={**back, "code_verifier": verifier}, name="sign-in"
        ).json()
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}
        self.finished: list[str] = []

    @task(3)
    def rules(self) -> None:
        self.client.get("/api/v1/recycling/items", params={"q": random.choice(WORDS)}, name="rules search")

    @task(3)
    def locations(self) -> None:
        lat, lon = random.choice(SEOUL)
        self.client.get("/api/v1/locations", params={"lat": lat, "lon": lon, "limit": 10}, name="locations")

    @task(2)
    def history(self) -> None:
        self.client.get("/api/v1/users/me/scans", headers=self.headers, name="history")

    @task(2)
    def scan(self) -> None:
        if random.random() < 0.5:
            r = self.client.post(
                "/api/v1/waste/scans",
                json={"question": random.choice(WORDS)},
                headers=self.headers,
                name="scan",
            )
        else:
            files = {"image": ("p.jpg", random.choice(PHOTOS), "image/jpeg")}
            r = self.client.post(
                "/api/v1/waste/scans", files=files, headers=self.headers, name="scan (photo)"
            )
        if r.status_code != 202:
            return
        scan_id = r.json()["scan_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            poll = self.client.get(f"/api/v1/waste/scans/{scan_id}", headers=self.headers, name="poll")
            if poll.status_code != 202:
                break
            time.sleep(float(poll.headers.get("retry-after", "1")) / 4)
        self.finished.append(scan_id)

    @task(1)
    def events(self) -> None:
        if self.finished:  # a finished scan's stream: replayed and closed at once
            scan_id = random.choice(self.finished[-5:])
            self.client.get(
                f"/api/v1/waste/scans/{scan_id}/events", headers=self.headers, name="events (SSE)"
            )


class Hello(HttpUser):
    """The baseline: the same pacing against /healthz (no database, no sign-in)."""

    wait_time = constant_pacing(1.0)

    @task
    def healthz(self) -> None:
        self.client.get("/healthz", name="healthz")
