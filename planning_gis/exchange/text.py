"""Citizens' text in, public text out: cleaned, bounded, and with personal data removed.

Text is stored as typed (NFC, control characters removed) and always reaches pages as text
(Jinja escapes, the scripts use ``textContent``), so markup typed into a question is shown as
characters, never run. What is published is :func:`redact`-ed: e-mail addresses and phone
numbers a citizen wrote in the body itself are replaced, since an answer is public for years.
"""

from __future__ import annotations

import re
import unicodedata

from planning_gis.errors import InvalidInput, TooLarge

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
#: Vietnamese phone numbers as people write them: 0912 345 678, +84 912.345.678, (024) 3826 ...
PHONE = re.compile(r"(?<!\d)(?:\+?84|0)[\s.\-()]*\d(?:[\s.\-()]*\d){7,9}(?!\d)")
REDACTED_EMAIL = "[địa chỉ e-mail đã ẩn]"
REDACTED_PHONE = "[số điện thoại đã ẩn]"


def clean(raw: object, field_vi: str, field: str, *, max_chars: int,
          required: bool = True) -> str | None:
    """``raw`` as stored text, or the error naming the field (Vietnamese and English)."""
    if raw is None:
        raw = ""
    if not isinstance(raw, str):
        raise InvalidInput(f"{field} must be text", message_vi=f"{field_vi} phải là văn bản.")
    text = unicodedata.normalize("NFC", _CONTROL.sub("", raw.replace("\r\n", "\n"))).strip()
    if not text:
        if required:
            raise InvalidInput(f"{field} is empty", message_vi=f"Hãy nhập {field_vi.lower()}.")
        return None
    if len(text) > max_chars:
        raise TooLarge(f"{field} has {len(text)} characters; at most {max_chars}",
                       message_vi=f"{field_vi} quá dài ({len(text)} ký tự; tối đa {max_chars}).")
    return text


def clean_email(raw: object) -> str | None:
    text = clean(raw, "Địa chỉ e-mail", "e-mail", max_chars=254, required=False)
    if text is None:
        return None
    text = text.lower()
    if not EMAIL.fullmatch(text):
        raise InvalidInput("the e-mail address is not valid",
                           message_vi="Địa chỉ e-mail không hợp lệ.")
    return text


def clean_phone(raw: object) -> str | None:
    text = clean(raw, "Số điện thoại", "phone", max_chars=40, required=False)
    if text is None:
        return None
    digits = re.sub(r"[\s.\-()]", "", text)
    if not re.fullmatch(r"\+?\d{9,12}", digits):
        raise InvalidInput("the phone number is not valid",
                           message_vi="Số điện thoại không hợp lệ (9–12 chữ số).")
    return digits


def contact(email: object, phone: object) -> tuple[str | None, str | None]:
    """An e-mail or a phone number for the reply: at least one is needed."""
    e, p = clean_email(email), clean_phone(phone)
    if e is None and p is None:
        raise InvalidInput("give an e-mail address or a phone number for the reply",
                           message_vi="Hãy nhập địa chỉ e-mail hoặc số điện thoại để nhận trả "
                                      "lời.")
    return e, p


def redact(text: str | None, *names: str | None) -> str | None:
    """``text`` without e-mail addresses, phone numbers and the given names (the asker's)."""
    if text is None:
        return None
    out = EMAIL.sub(REDACTED_EMAIL, text)
    out = PHONE.sub(REDACTED_PHONE, out)
    for name in names:
        if name and len(name) >= 3:
            out = re.sub(re.escape(name), "[tên đã ẩn]", out, flags=re.IGNORECASE)
    return out
