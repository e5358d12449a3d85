"""Who may watch the RTSP stream: local addresses, and the password hash for Basic auth.

The hash is Django's pbkdf2_sha256 string, `pbkdf2_sha256$ITERATIONS$SALT$BASE64(SHA256 KEY)`,
made with hashlib, so a config never needs the password itself. Print one with
`python -m app.outputs.rtsp_auth` (at a terminal it asks for the password twice; otherwise it
reads the password from stdin, twice, one per line, as `printf 'pw\npw\n' | ...` gives it).
"""

from __future__ import annotations

import base64
import getpass
import hashlib
import hmac
import ipaddress
import secrets
import sys

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP's figure for PBKDF2-SHA256; one check costs ~0.3 s of one core
MAX_ITERATIONS = 10_000_000  # a config may not make every login take minutes


def is_local_address(listen: str) -> bool:
    """True for loopback (127.0.0.0/8, ::1, localhost); ValueError when not an IP address."""
    from app.config import is_loopback  # the one loopback rule (web.listen uses it too)

    if listen != "localhost":
        try:
            ipaddress.ip_address(listen)
        except ValueError:
            raise ValueError(f"{listen!r} is not an IP address (e.g. 127.0.0.1, 0.0.0.0, ::)") from None
    return is_loopback(listen)


def hash_password(password: str, iterations: int = ITERATIONS, salt: str | None = None) -> str:
    salt = salt or secrets.token_urlsafe(16)
    key = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(key).decode()}"


def check_hash_format(encoded: str) -> str:
    """The hash unchanged, or ValueError saying what its form should be."""
    parts = encoded.split("$")
    expected = f"expected {ALGORITHM}$ITERATIONS$SALT$HASH (python -m app.outputs.rtsp_auth)"
    if len(parts) != 4 or parts[0] != ALGORITHM or not parts[2]:
        raise ValueError(expected)
    if not parts[1].isdigit() or not 1 <= int(parts[1]) <= MAX_ITERATIONS:
        raise ValueError(f"iterations must be 1..{MAX_ITERATIONS}; {expected}")
    try:
        if len(base64.b64decode(parts[3], validate=True)) != hashlib.sha256().digest_size:
            raise ValueError
    except ValueError:
        raise ValueError(f"the HASH part is not a base64 SHA-256 key; {expected}") from None
    return encoded


def verify_password(password: str, encoded: str) -> bool:
    _algorithm, iterations, salt, _key = encoded.split("$")
    # Compare whole strings in constant time: the same hash only when the password matches.
    return hmac.compare_digest(hash_password(password, int(iterations), salt), encoded)


def _ask(prompt: str) -> str:
    """getpass at a terminal; a line of stdin otherwise (getpass would read /dev/tty instead,
    so a script or a test that pipes the password in would wait at a prompt it never sees)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    line = sys.stdin.readline()
    if not line:
        raise EOFError
    return line.rstrip("\r\n")


def main() -> int:
    try:
        password = _ask("RTSP password: ")
        if password != _ask("again: "):
            print("error: the passwords differ", file=sys.stderr)
            return 2
    except (EOFError, KeyboardInterrupt):
        print("error: no password given", file=sys.stderr)
        return 2
    if not password:
        print("error: empty password", file=sys.stderr)
        return 2
    print(hash_password(password))
    return 0


if __name__ == "__main__":
    sys.exit(main())
