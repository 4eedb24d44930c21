"""The characters a bank takes in a payment's text, and transliteration into them that never drops a
letter silently: every changed value is reported, a value that would lose a letter is refused.

Two sets: `swedish`, what Swedish banks take in domestic payments (the SEPA set with å ä ö, é, ü and
a few more signs), and `sepa`, the EPC's Latin set that SEPA and cross-border payments (and CBPR+)
are held to. A bank profile names the set of its domestic payments.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

SEPA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/-?:().,'+ ")
SWEDISH = SEPA | frozenset('ÅÄÖåäöÉéÜü&%*!"#=;_@')
CHARSETS = {"sepa": SEPA, "swedish": SWEDISH}

# Letters Unicode does not decompose into a base letter and a mark: written out by hand.
_BY_HAND = {
    "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h", "ß": "ss", "ẞ": "SS",
    "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "TH", "þ": "th", "Ð": "D", "ð": "d", "ı": "i",
    "Ŋ": "N", "ŋ": "n", "Ŧ": "T", "ŧ": "t", "ĸ": "k",
}  # fmt: skip
# Signs with a meaning a bank's set can say another way.
_SIGNS = {"&": "+", "–": "-", "—": "-", "’": "'", "‘": "'", "´": "'", "`": "'", "“": "'", "”": "'", '"': "'"}


class Untransliterable(ValueError):
    """The text holds a letter with no form in the bank's set; the message names it."""


@dataclass(frozen=True)
class Fitted:
    text: str
    changed: bool  # a person should be told: the file says something else than the row


@lru_cache(maxsize=2**16)  # names and addresses repeat down a batch, and are fitted again when written
def fit(value: str, charset: str) -> Fitted:
    """`value` in the characters of `charset`: letters transliterated (Ł→L, ö→o in SEPA, ß→ss),
    signs replaced (& → +) or made spaces; Untransliterable for a letter that has no form there."""
    allowed = CHARSETS[charset]
    out: list[str] = []
    for char in value:
        if char in allowed:
            out.append(char)
            continue
        written = _BY_HAND.get(char) or _SIGNS.get(char)
        if written is None:
            base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
            if base and all(c in allowed for c in base):
                written = base
            elif unicodedata.category(char).startswith("L"):
                raise Untransliterable(f"the letter {char!r} has no form in the {charset} character set")
            else:
                written = " "  # a sign the bank does not take
        if not all(c in allowed for c in written):
            written = " "
        out.append(written)
    text = " ".join("".join(out).split())
    return Fitted(text, text != " ".join(value.split()))
