"""Query points far from every collection point: islands, mountains, open sea (tests and benchmarks)."""

from __future__ import annotations

REMOTE = [
    (37.4844, 130.9057),  # 울릉도
    (37.2426, 131.8669),  # 독도
    (37.9667, 124.7000),  # 백령도
    (33.1178, 126.2669),  # 마라도
    (34.6800, 125.4300),  # 흑산도
    (34.0300, 127.3100),  # 거문도
    (38.0700, 128.1700),  # 인제
    (36.6700, 129.1100),  # 영양
    (35.4300, 124.9000),  # the Yellow Sea, off 신안
]
