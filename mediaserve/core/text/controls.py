"""Control and bidirectional-formatting characters in text from outside, made visible.

File names and what remote servers send may hold anything. A terminal obeys ESC sequences
(colours, cursor moves, a rewritten screen, the window title) and 8-bit C1 controls (U+009B
is CSI); CR and LF forge or split lines (``mediaserve stats`` rows); bidi overrides reorder
what is shown (U+202E makes ``rtl\\u202egpj.mp4`` read as ``rtlmp4.jpg``). :func:`visible`
writes each such character as an escape (``\\x1b``, ``\\r``, ``\\u202e``) so the reader sees
that it is there, and :func:`strip_controls` removes them where an escape would be wrong (a
file name a browser saves). Everything else, any script or emoji, is kept as it is.

Both are pure and linear: ``str.isprintable`` answers for a whole ordinary string in one C
pass, and only a string holding a special character is translated, also in one pass.
"""

from __future__ import annotations

#: Unicode's Bidi_Control characters: embeddings, overrides, isolates and marks
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
                          "\u2066\u2067\u2068\u2069")
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(code: int) -> str:
    char = chr(code)
    if char in _SHORT:
        return _SHORT[char]
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): the byte
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _special() -> list[int]:
    codes = [*range(0x20), 0x7F, *range(0x80, 0xA0)]  # C0, DEL, C1
    codes += [ord(c) for c in BIDI_CONTROLS]
    codes += [0x2028, 0x2029]  # line and paragraph separators
    codes += range(0xD800, 0xE000)  # surrogates: cannot even be encoded for output
    return codes


_VISIBLE = {code: _escape(code) for code in _special()}
_STRIPPED = dict.fromkeys(_VISIBLE)
_JSON = {code: f"\\u{code:04x}" for code in _VISIBLE if code >= 0x7F}  # JSON escapes C0


def visible(text: str) -> str:
    """``text`` with every control, bidi-formatting, line-separator and surrogate character
    written as an escape: safe to print on a terminal or in a log line."""
    if text.isprintable():  # none of them is printable: the usual case costs one scan
        return text
    return text.translate(_VISIBLE)


def json_visible(document: str) -> str:
    """A JSON text (as ``json.dumps(..., ensure_ascii=False)`` writes it) with those
    characters as ``\\uXXXX`` escapes: the same data, exactly, once parsed (a JSON string may
    escape any character), but nothing a terminal obeys. ``json.dumps`` escapes C0 itself,
    not DEL, C1, bidi controls or separators, and writes a lone surrogate raw."""
    if document.isprintable():
        return document
    return document.translate(_JSON)


def strip_controls(text: str) -> str:
    """``text`` without those characters (where no escape may appear: a file name)."""
    if text.isprintable():
        return text
    return text.translate(_STRIPPED)
