"""The characters a bank takes in a payment's text, and transliteration into them that never drops a
letter silently: every changed value is reported, a value that would lose a letter is refused.

Two sets: `swedish`, what Swedish banks take in domestic payments (the SEPA set with å ä ö, é, ü and
a few more signs), and `sepa`, the EPC's Latin set that SEPA and cross-border payments (and CBPR+)
are held to. A bank profile names the set of its domestic payments.
"""

from __future__ import annotations

import re
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


# Text of the set's characters alone, and without a run of spaces or a space at either end, is
# already what the bank reads.
_OF_THE_SET = {
    name: re.compile("[" + re.escape("".join(sorted(chars))) + "]*").fullmatch
    for name, chars in CHARSETS.items()
}


def as_is(value: str, charset: str) -> bool:
    """True when `fit` gives `value` back unchanged: every character in the set, single spaces."""
    return (
        _OF_THE_SET[charset](value) is not None
        and "  " not in value
        and not value.startswith(" ")
        and not value.endswith(" ")
    )


def all_as_is(values: list[str], charset: str) -> bool:
    """True when `as_is` holds for every value; one look at them all, for a column of texts. False
    may also mean "ask `as_is` one by one" (a value with "/ " or " /" in it)."""
    joined = "/".join(values)  # "/" is in both sets: the join is of the set when every value is
    return (
        _OF_THE_SET[charset](joined) is not None
        and "  " not in joined
        and "/ " not in joined
        and " /" not in joined
        and not joined.startswith(" ")
        and not joined.endswith(" ")
    )


def fit(value: str, charset: str) -> Fitted:
    """`value` in the characters of `charset`: letters transliterated (Ł→L, ö→o in SEPA, ß→ss),
    signs replaced (& → +) or made spaces; Untransliterable for a letter that has no form there."""
    if as_is(value, charset):  # most text: no need to look at it letter by letter, nor to cache it
        return Fitted(value, False)
    return _transliterated(value, charset)


@lru_cache(maxsize=2**16)  # names and addresses repeat down a batch, and are fitted again when written
def _transliterated(value: str, charset: str) -> Fitted:
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
