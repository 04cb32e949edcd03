"""Bytes the server sends as JSON text, back to the str cold Python has.

The client's argv, cwd and environment, and the project root, are bytes;
JSON carries text. A byte that is not part of valid UTF-8 (or a NUL) travels
as U+0000 and two hex digits (cli/common/byte_text.hpp); the bytes are
rebuilt here and decoded as Python decodes its own argv, cwd and environment
(os.fsdecode, with surrogateescape), so that os.environb, os.getcwd() and
sys.argv in a test hold what they hold under cold pytest."""
import os
import sys

_UTF8_FS = sys.getfilesystemencoding().lower().replace("-", "") == "utf8"


def from_wire_text(text):
    """The str cold Python has for the bytes `text` escapes."""
    if "\0" not in text:
        return text if _UTF8_FS else os.fsdecode(text.encode("utf-8"))
    first, *rest = text.split("\0")
    data = bytearray(first.encode("utf-8"))
    for part in rest:
        data.append(int(part[:2], 16))  # the server checked the digits (protocol.cpp)
        data += part[2:].encode("utf-8")
    return os.fsdecode(bytes(data))
