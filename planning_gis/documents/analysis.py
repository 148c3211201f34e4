"""Vietnamese text into index terms: syllables with and without accents, and syllable pairs.

Vietnamese writes a word as one to four syllables separated by spaces ("quy hoạch", "chỉ giới
đường đỏ"), so a bag of syllables loses most of the meaning: "đất" and "ở" are everywhere,
"đất ở" (residential land) is a term. Two ways were measured on a public legal-retrieval data
set (``bench/search_quality.py``): a word segmenter (pyvi) and adjacent syllable pairs. Pairs
won: they need no model, cost nothing to compute, and — unlike a segmenter, which only finds
the words when the accents are there — give the *same* terms for "quy hoạch" and "quy hoach",
which is what makes the ranking the same with and without diacritics.

Every analysed text gives three term lists, one per index field:

* ``words``: folded syllables (lower case, no accents, đ → d), as :func:`fold` makes them and
  as ``f_search_norm`` makes them in SQL: what matches;
* ``pairs``: folded adjacent syllables joined by ``_`` ("quy_hoach"), phrase evidence;
* ``accented``: lower-case syllables *with* their accents, which only add a small bonus when
  the query was typed with accents, so "hồ" prefers "hồ" over "hổ" or "hộ".

Question and function words ("là gì", "có được không", "bao nhiêu") are common to every
question and every article: BM25's rarity weight already makes them cheap, and
:data:`STOP_WORDS` keeps them out of the query entirely (not out of the index, so a query made
only of them still finds something); measured, it gains little (BM25 already discounts them).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(r"[^\W_]+")
_NON_WORD = re.compile(r"[^a-z0-9]")


def _fold_char(ch: str) -> str:
    if ch in "đĐ":
        return "d"
    decomposed = unicodedata.normalize("NFD", ch)
    base = decomposed[0].lower() if decomposed else " "
    return base if len(base) == 1 and not _NON_WORD.match(base) else " "


class _FoldTable(dict):
    """A ``str.translate`` table built on demand: one character in, one character out."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD = _FoldTable()
for _code in [*range(0x20, 0x250), *range(0x1E00, 0x1F00)]:
    _FOLD[_code]  # noqa: B018 - fill the table for ASCII, Latin and Vietnamese up front


def fold(value: str) -> str:
    """Lower case without accents, other characters as spaces; ``len(fold(s)) == len(s)``.

    For NFC Vietnamese this is what ``f_search_norm`` gives in PostgreSQL, before it squeezes
    the spaces: the one-to-one positions are what lets us highlight the accented original.
    """
    return unicodedata.normalize("NFC", value).translate(_FOLD)



#: Folded function and question words of Vietnamese that carry no topic on their own. Folding
#: merges syllables ("do" is "do", "đỏ" and "độ"), so only syllables that are function words in
#: (nearly) every accented form are listed; pairs that contain one are kept ("mat_do",
#: "duong_do", "khong_gian"), only the lone syllable is dropped from the query.
STOP_WORDS = frozenset("""
ai bi boi cac cua cung da dang day den deu duoc gi hay hoac khi khong la lai len ma moi mot nao
nay neu nhieu nhu nhung nua phai rang rat roi sao se thi trong va vao van ve vi voi vay
""".split())

#: How many distinct syllables of a query are used (a 1 000-character question has about 230).
MAX_QUERY_WORDS = 256


def syllables(value: str | None) -> list[tuple[str, str]]:
    """(folded, accented lower case) for every run of letters or digits, in order."""
    if not value:
        return []
    value = unicodedata.normalize("NFC", value).lower()
    out = []
    for m in _TOKEN.finditer(value):
        raw = m.group()
        folded = fold(raw).replace(" ", "")
        if folded:
            out.append((folded, raw))
    return out


@dataclass(frozen=True)
class Terms:
    """The terms of one text for the three kinds of field."""

    words: tuple[str, ...]
    pairs: tuple[str, ...]
    accented: tuple[str, ...]

    def joined(self) -> tuple[str, str, str]:
        """Space-joined, for fields whose tokenizer splits on whitespace."""
        return " ".join(self.words), " ".join(self.pairs), " ".join(self.accented)


def analyse(value: str | None) -> Terms:
    """Every term of a stored text (title, body...), repeats kept: BM25 counts them."""
    syl = syllables(value)
    words = tuple(f for f, _ in syl)
    pairs = tuple(f"{a}_{b}" for a, b in zip(words, words[1:], strict=False))
    return Terms(words, pairs, tuple(a for _, a in syl))


@dataclass(frozen=True)
class QueryTerms:
    """The distinct terms of a query, in order, stop words out (unless nothing else is left)."""

    words: tuple[str, ...]
    pairs: tuple[str, ...]
    #: Accented syllables that differ from their folded form (typed with accents).
    accented: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.words


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def analyse_query(value: str, *, stop_words: frozenset[str] = STOP_WORDS) -> QueryTerms:
    """A query's terms: distinct syllables (content words first), pairs and accented forms."""
    syl = syllables(value)[: MAX_QUERY_WORDS * 4]
    folded = [f for f, _ in syl]
    content = [f for f in folded if f not in stop_words]
    words = _unique(content or folded)[:MAX_QUERY_WORDS]
    pairs = _unique([f"{a}_{b}" for a, b in zip(folded, folded[1:], strict=False)])
    pairs = pairs[:MAX_QUERY_WORDS]
    kept = set(words)
    accented = _unique([a for f, a in syl if a != f and f in kept])
    return QueryTerms(words, pairs, accented)
