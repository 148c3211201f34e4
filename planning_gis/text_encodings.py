"""Legacy Vietnamese 8-bit encodings met in old GIS files, turned into Unicode NFC.

CP1258 (Windows-1258) has a Python codec; it writes many letters as a base letter plus a
combining tone mark, hence the NFC step. TCVN3 (the "ABC" font encoding of .VnTime fonts, in
most pre-2000s Shapefiles made in Vietnam) has none: its bytes are read as Latin-1 and mapped
through the table below (lower-case letters; the capitals with their own code points are Ă Â Đ
Ê Ô Ơ Ư; other capitals lived in separate fonts and carry the lower-case codes).
"""

from __future__ import annotations

import codecs
import unicodedata

from planning_gis.errors import InvalidInput

#: TCVN3 byte -> Unicode letter.
_TCVN3_BYTES = (
    "\xb5\xb8\xb6\xb7\xb9"  # à á ả ã ạ
    "\xa8\xbb\xbe\xbc\xbd\xc6"  # ă ằ ắ ẳ ẵ ặ
    "\xa9\xc7\xca\xc8\xc9\xcb"  # â ầ ấ ẩ ẫ ậ
    "\xae"  # đ
    "\xcc\xd0\xce\xcf\xd1"  # è é ẻ ẽ ẹ
    "\xaa\xd2\xd5\xd3\xd4\xd6"  # ê ề ế ể ễ ệ
    "\xd7\xdd\xd8\xdc\xde"  # ì í ỉ ĩ ị
    "\xdf\xe3\xe1\xe2\xe4"  # ò ó ỏ õ ọ
    "\xab\xe5\xe8\xe6\xe7\xe9"  # ô ồ ố ổ ỗ ộ
    "\xac\xea\xed\xeb\xec\xee"  # ơ ờ ớ ở ỡ ợ
    "\xef\xf3\xf1\xf2\xf4"  # ù ú ủ ũ ụ
    "\xad\xf5\xf8\xf6\xf7\xf9"  # ư ừ ứ ử ữ ự
    "\xfa\xfd\xfb\xfc\xfe"  # ỳ ý ỷ ỹ ỵ
    "\xa1\xa2\xa7\xa3\xa4\xa5\xa6"  # Ă Â Đ Ê Ô Ơ Ư
)
_TCVN3_LETTERS = (
    "àáảãạ" "ăằắẳẵặ" "âầấẩẫậ" "đ" "èéẻẽẹ" "êềếểễệ" "ìíỉĩị" "òóỏõọ" "ôồốổỗộ" "ơờớởỡợ"
    "ùúủũụ" "ưừứửữự" "ỳýỷỹỵ" "ĂÂĐÊÔƠƯ"
)
assert len(_TCVN3_BYTES) == len(_TCVN3_LETTERS)
TCVN3_TABLE = str.maketrans(dict(zip(_TCVN3_BYTES, _TCVN3_LETTERS, strict=True)))

#: Encodings a user may name for a file, and how pyogrio should read the bytes.
LEGACY = {"tcvn3": "latin1", "abc": "latin1"}
CP1258_NAMES = ("cp1258", "windows1258", "1258", "ansi1258", "vietnamese")


def _key(name: str | None) -> str:
    return (name or "").strip().lower().replace("-", "").replace("_", "")


def check_encoding(name: str | None) -> str | None:
    """``name`` when it is an encoding we can read (the legacy Vietnamese ones or any codec
    Python knows), None when none is given; an unknown name is the user's mistake (a 400),
    not a LookupError deep inside the reader."""
    if name is None or not name.strip():
        return None
    key = _key(name)
    if key in LEGACY or key in CP1258_NAMES:
        return name.strip()
    try:
        codecs.lookup(name.strip())
    except LookupError as exc:
        raise InvalidInput(
            f"unknown text encoding {name!r}: use cp1258, tcvn3, utf-8 or another standard name",
            message_vi=f"Bảng mã chữ {name!r} không được hỗ trợ: hãy chọn CP1258, TCVN3 hoặc "
                       "UTF-8.",
        ) from exc
    return name.strip()


def gdal_encoding(name: str | None) -> str | None:
    """The encoding to hand to pyogrio for the user's ``name`` (TCVN3 is read as Latin-1)."""
    if not name:
        return None
    key = name.strip().lower().replace("-", "").replace("_", "")
    if key in LEGACY:
        return LEGACY[key]
    if key in CP1258_NAMES:
        # GDAL recodes CP1258 through iconv, which holds back a last letter waiting for a
        # combining tone mark and drops it: read the bytes as Latin-1 and decode here instead.
        return "latin1"
    return name


def is_tcvn3(name: str | None) -> bool:
    return bool(name) and name.strip().lower().replace("-", "").replace("_", "") in LEGACY


def to_unicode(value: str, encoding: str | None = None) -> str:
    """NFC text; TCVN3 strings (read as Latin-1) are translated letter by letter first."""
    if is_tcvn3(encoding):
        value = value.translate(TCVN3_TABLE)
    elif _key(encoding) in CP1258_NAMES:
        try:
            value = value.encode("latin1").decode("cp1258")
        except (UnicodeEncodeError, UnicodeDecodeError):
            pass  # not Latin-1-read bytes: leave the text as it is
    return unicodedata.normalize("NFC", value)


def shapefile_encoding(path) -> str | None:  # noqa: ANN001
    """The encoding a Shapefile's ``.cpg`` names, when it is one GDAL cannot be trusted with."""
    from pathlib import Path

    cpg = Path(path).with_suffix(".cpg")
    if Path(path).suffix.lower() != ".shp" or not cpg.exists():
        return None
    text = cpg.read_text(encoding="ascii", errors="replace").strip()
    return "cp1258" if _key(text) in CP1258_NAMES else None


def tcvn3_encode(text: str) -> bytes:
    """Unicode -> TCVN3 bytes (for writing test files); letters without a code raise."""
    back = {v: k for k, v in zip(_TCVN3_BYTES, _TCVN3_LETTERS, strict=True)}
    return "".join(back.get(ch, ch) for ch in unicodedata.normalize("NFC", text)).encode("latin1")


def cp1258_encode(text: str) -> bytes:
    """Unicode -> Windows-1258 bytes, the way Vietnamese Windows wrote them: the vowel with its
    circumflex, breve or horn precomposed, the tone as a combining mark (for test files)."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        try:
            out.append(ch.encode("cp1258"))
            continue
        except UnicodeEncodeError:
            pass
        base, *marks = unicodedata.normalize("NFD", ch)
        if marks:
            composed = unicodedata.normalize("NFC", base + marks[0])
            try:
                composed.encode("cp1258")
                base, marks = composed, marks[1:]
            except UnicodeEncodeError:
                pass
        out.append((base + "".join(marks)).encode("cp1258"))
    return b"".join(out)
