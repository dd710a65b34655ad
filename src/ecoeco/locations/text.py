"""Korean-aware text keys for name/address search.

"서울특별시 마포구" and "서울 마포구" are the same place, spaces are optional in Korean place names
("자원 순환 가게" = "자원순환가게"), and people type initial consonants ("ㅈㅇㅅㅎ") on phones.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

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


# --- addresses in the wrong column --------------------------------------------------------------

_PROVINCE_WORDS = "|".join(sorted({*_PROVINCES, *_PROVINCES.values()}, key=len, reverse=True))
# "경남 거제시 옥포로23길 5", "서울특별시 노원구 상계동 452-1", "전북 장수군 장수읍 방촌길 10": a
# province, one or more city/county/district/town names, then a road (…로, …길) or a lot (…동, …리, …가)
# with its number.
_FULL_ADDRESS = re.compile(
    rf"(?:{_PROVINCE_WORDS})시?(?:\s+[가-힣0-9]+(?:시|군|구|읍|면|동|리))+"
    r"\s+[가-힣0-9.]+(?:로|길|동|리|가)\s*\d+(?:-\d+)?(?![\d-])"
)
# A road or lot address without its province: "옥포동 518-8", "읍내리 214-1 외 1건", "햇골길 51".
_PARTIAL_ADDRESS = re.compile(r"^(?:[가-힣0-9]+\s+)*[가-힣0-9.]+(?:로|길|동|리|가)\s*\d+(?:-\d+)?(?:\s|$)")
_LEFTOVER_PUNCTUATION = " \t()[]:,-/·"


def is_address(text: str) -> bool:
    return bool(_FULL_ADDRESS.search(text) or _PARTIAL_ADDRESS.match(text.strip()))


@dataclass(frozen=True)
class Untangled:
    name: str
    address: str
    lot_address: str | None  # what the address column held, when that was only the lot address


def untangle(name: str, address: str, note: str = "") -> Untangled | None:
    """Fix a row whose name column holds the address; ``None`` when the name is a name.

    Map-app exports of saved *addresses* put the road address where the name belongs and the lot address in
    the address column, and the person's own remark (the shop's name, mostly) in a note. Others hold both
    ("틈새숲을(경북 경주시 진현로2길 39)", "강원 삼척시 청석로 83-19 용기상점"). The name becomes the text
    around the address, else the address column when that is no address (the two were swapped outright),
    else the note.
    """
    found = _FULL_ADDRESS.search(name)
    if found is None:
        return None
    around = f"{name[: found.start()]} {name[found.end() :]}".strip(_LEFTOVER_PUNCTUATION)
    around = re.sub(r"\(\s*\)", "", around).strip(_LEFTOVER_PUNCTUATION)
    candidates = (around, *(t.strip() for t in (address, note) if not is_address(t)))
    new_name = next((c for c in candidates if c), None)
    if new_name is None:
        return None
    return Untangled(
        name=new_name,
        address=found.group(0),
        lot_address=address.strip() if address and is_address(address) else None,
    )
