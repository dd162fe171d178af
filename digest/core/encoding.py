"""Guess the encoding of text that is not UTF-8, for page dumps and subscriber lists alike."""

from __future__ import annotations

__all__ = ["guess_encoding"]

# Multi-byte encodings charset-normalizer recognises reliably: their byte patterns are distinctive.
_MULTIBYTE = {"gb18030", "gb2312", "gbk", "big5", "big5hkscs", "euc_jp", "euc_kr", "shift_jis", "cp932",
              "cp949", "cp950", "iso2022_jp", "hz", "johab", "utf_16", "utf_32"}


def guess_encoding(data: bytes) -> str | None:
    """The most likely encoding of bytes that are not UTF-8, or None when nothing fits.

    charset-normalizer is trusted for multi-byte (CJK) encodings. For single-byte
    text its guess on short samples is a coin toss between code pages (a Latin-1
    CSV comes back as cp775), so we prefer cp1252, the encoding of Western
    spreadsheet exports and a superset of Latin-1's printable characters.
    """
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is not None and best.encoding and best.encoding.lower() in _MULTIBYTE:
        return str(best.encoding)
    for candidate in ("cp1252", "latin-1"):
        try:
            data.decode(candidate)
        except UnicodeDecodeError:
            continue
        return candidate
    return str(best.encoding) if best is not None and best.encoding else None
