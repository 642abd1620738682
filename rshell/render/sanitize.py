"""Make untrusted text safe for a terminal: no escape sequences, no controls but newline and tab."""

from __future__ import annotations

#: typing and re are not imported on the client's start-up path; mypy treats this name as True
TYPE_CHECKING = False
if TYPE_CHECKING:
    import re

# ESC-introduced sequences: CSI (ESC [ ... final), OSC/DCS/SOS/PM/APC strings up to BEL or ST,
# two-character escapes; then the 8-bit C1 forms of the same; then every other control.
_PATTERN = r"""
    \x1b\[[0-?]*[ -/]*[@-~]?            # CSI
  | \x1b[\]PX^_][^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?   # OSC, DCS, SOS, PM, APC
  | \x1b[ -/]*[0-~]?                    # other escapes (charset, keypad, ...)
  | \x9b[0-?]*[ -/]*[@-~]?              # 8-bit CSI
  | [\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c]*(?:\x07|\x9c)?  # 8-bit string controls
  | [\x00-\x08\x0b-\x1f\x7f-\x9f]       # any other C0 (but tab, newline) or C1 control, DEL
  | [\u202a-\u202e\u2066-\u2069\u200e\u200f]   # bidirectional overrides
    """
#: compiled on first use: the thin client imports this module but rarely needs it
_compiled: list[re.Pattern[str]] = []


def sanitize(text: str) -> str:
    """Remove terminal control sequences and controls, keeping newline and tab."""
    if text.isprintable():
        return text
    if not _compiled:
        import re  # noqa: PLC0415 - most text is printable and never needs it

        _compiled.append(re.compile(_PATTERN, re.VERBOSE))
    return _compiled[0].sub("", text)
