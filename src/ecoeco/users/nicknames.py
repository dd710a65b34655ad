"""Generated nicknames for new accounts: friendly, Korean, and revealing nothing about the person."""

from __future__ import annotations

import secrets

_ADJECTIVES = (
    "초록",
    "푸른",
    "맑은",
    "반짝이는",
    "부지런한",
    "알뜰한",
    "깔끔한",
    "씩씩한",
    "다정한",
    "꼼꼼한",
)
_NOUNS = ("고래", "다람쥐", "펭귄", "참새", "거북이", "나무", "해달", "두루미", "고슴도치", "수달")


def generate_nickname() -> str:
    return f"{secrets.choice(_ADJECTIVES)} {secrets.choice(_NOUNS)} {secrets.randbelow(10000):04d}"
