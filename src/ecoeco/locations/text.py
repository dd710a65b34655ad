"""Korean-aware text keys for name/address search.

"서울특별시 마포구" and "서울 마포구" are the same place, spaces are optional in Korean place names
("자원 순환 가게" = "자원순환가게"), and people type initial consonants ("ㅈㅇㅅㅎ") on phones.
"""

from __future__ import annotations

import re
import unicodedata

# Official province names and the short forms people (and half of the public data) write.
_PROVINCES = {
    "서울특별시": "서울",
    "부산광역시": "부산",
    "대구광역시": "대구",
    "인천광역시": "인천",
    "광주광역시": "광주",
    "대전광역시": "대전",
    "울산광역시": "울산",
    "세종특별자치시": "세종",
    "경기도": "경기",
    "강원특별자치도": "강원",
    "강원도": "강원",
    "충청북도": "충북",
    "충청남도": "충남",
    "전북특별자치도": "전북",
    "전라북도": "전북",
    "전라남도": "전남",
    "경상북도": "경북",
    "경상남도": "경남",
    "제주특별자치도": "제주",
}
_PROVINCE_RE = re.compile("|".join(sorted(_PROVINCES, key=len, reverse=True)))
_NOT_KEY = re.compile(r"[^0-9a-z가-힣ㄱ-ㅎ]")
_CHOSEONG = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ"
_INITIALS_ONLY = re.compile(r"^[ㄱ-ㅎ]+$")


def search_key(text: str) -> str:
    # NFC, not NFKC: NFKC would turn typed initials (ㄱ, U+3131) into conjoining jamo.
    folded = unicodedata.normalize("NFC", text).casefold()
    folded = _PROVINCE_RE.sub(lambda m: _PROVINCES[m.group(0)], folded)
    return _NOT_KEY.sub("", folded)


def initials(text: str) -> str:
    """``자원순환가게`` → ``ㅈㅇㅅㅎㄱㄱ``; other characters are kept as in :func:`search_key`."""
    out = []
    for ch in search_key(text):
        code = ord(ch) - 0xAC00
        out.append(_CHOSEONG[code // 588] if 0 <= code < 11172 else ch)
    return "".join(out)


def is_initials(query_key: str) -> bool:
    return bool(_INITIALS_ONLY.match(query_key))
