"""Passwords out of everything the app writes (logs, errors, status): one function for all.

`redact(text)` hides
- the password of every URI in the text (rtsp://user:pw@host -> rtsp://user:***@host), also
  several URIs inside one gst:// pipeline string. The userinfo ends at the LAST `@` before the
  host (the host ends at the first `/`, `?` or `#`), so a password holding a raw `@` is hidden
  whole; a user name alone (rtsp://user@host) is not a secret and stays;
- the value of password-like `key=value` settings: rtspsrc's `user-pw=`/`proxy-pw=`, the
  `password=`/`passwd=`/`pwd=` query parameters some cameras take, and any `...token=` (the
  web's `?token=` and its `segcam_token=` cookie);
- the credential of an `Authorization:` header or after `Bearer `, and a whole `Cookie:`/`Set-Cookie:` header value;
- every secret remembered with `remember_secrets(uri)` (the configured source's password, raw
  and percent-decoded) wherever it appears, for text no pattern above recognises.

`RedactingFilter` applies it to every record on the app's log handler, tracebacks included.
"""

from __future__ import annotations

import logging
import re
from urllib.parse import unquote

MASK = "***"
MIN_SECRET = 3  # shorter remembered secrets would mask ordinary words and numbers

# scheme://userinfo@ : the userinfo may hold ":" and "@" but never "/", "?", "#", a space or a
# quote; the greedy run backtracks to the last "@" of the authority.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s\"'<>]*)@")
_KEY_VALUE = re.compile(
    r"(?P<key>(?<![\w-])(?:user-pw|proxy-pw|password|passwd|pwd|[\w-]*token)\s*=\s*)"
    r"(?P<value>\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s&;!\"']+)",
    re.IGNORECASE,
)
# "Authorization: Basic X", "Authorization: X", "Bearer X"; not "Basic auth" or 'Bearer realm='
_CREDENTIAL = re.compile(r"(?P<key>\bAuthorization\s*:\s*(?:(?:Basic|Bearer)\s+)?"
                         r"|\bBearer\s+(?!realm\b))(?P<value>[\w+/=.~-]+)", re.IGNORECASE)
_COOKIE = re.compile(r"(?P<key>\b(?:Set-)?Cookie\s*:\s*)(?P<value>[^\r\n]+)", re.IGNORECASE)


def _hide_password(match: re.Match[str]) -> str:
    user, colon, _password = match["userinfo"].partition(":")
    if not colon:
        return match[0]  # user only: nothing secret
    return f"{match['scheme']}{user}:{MASK}@"


def _hide_value(match: re.Match[str]) -> str:
    value = match["value"]
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match['key']}{quote}{MASK}{quote}"


def _hide_all(match: re.Match[str]) -> str:
    return f"{match['key']}{MASK}"


def passwords(text: str) -> set[str]:
    """The secrets in `text` as they may appear elsewhere: raw and percent-decoded."""
    found = set()
    for match in _USERINFO.finditer(text):
        _user, colon, password = match["userinfo"].partition(":")
        if colon and password:
            found.add(password)
    for match in _KEY_VALUE.finditer(text):
        value = match["value"]
        found.add(value[1:-1] if value[0] in "\"'" else value)
    return {form for secret in found for form in (secret, unquote(secret)) if len(form) >= MIN_SECRET}


class Redactor:
    """The patterns plus the secrets remembered so far (a set only ever added to)."""

    def __init__(self) -> None:
        self.secrets: frozenset[str] = frozenset()

    def remember_secrets(self, text: str) -> None:
        # Replaced whole, never mutated: a reader in another thread sees the old or the new set.
        self.secrets = self.secrets | passwords(text)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub(_hide_password, text)
        text = _KEY_VALUE.sub(_hide_value, text)
        text = _CREDENTIAL.sub(_hide_all, text)
        text = _COOKIE.sub(_hide_all, text)
        for secret in sorted(self.secrets, key=len, reverse=True):  # longest first: no leftovers
            text = text.replace(secret, MASK)
        return text


redact = Redactor()  # the process's one instance: sources, the CLI and the log filter share it
remember_secrets = redact.remember_secrets


class RedactingFilter(logging.Filter):
    """On a handler: every record leaves with its message, traceback and stack redacted."""

    def __init__(self, redactor: Redactor = redact) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a bad format string: keep its parts, still redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = self.redactor(message), None
        if record.exc_info and not record.exc_text:
            # The formatter reuses exc_text, so the traceback is rendered (and cleaned) here.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redactor(record.stack_info)
        return True
