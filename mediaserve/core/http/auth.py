"""Access-control decisions, without a web framework: credentials, hosts, redaction.

Everything a client sends is compared in constant time (``hmac.compare_digest``), so the
time an answer takes says nothing about how much of a guess was right. Passwords are kept as
scrypt hashes with a salt per user; the cookie the login form sets is derived from the token
(or the user's stored hash) with HMAC, so it is never the token itself and stops working
when the token or password changes. Nothing here reads a file or draws random bytes: the
callers pass salts in.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import unquote_plus

#: token68 (RFC 9110 §11.2): fits a header, a cookie and a query string without escaping
_TOKEN_RE = re.compile(r"^[A-Za-z0-9\-._~+/]+=*$")
MIN_TOKEN_LENGTH = 16
COOKIE_NAME = "mediaserve_auth"
_COOKIE_CONTEXT = b"mediaserve login cookie v1"
#: scrypt cost of new hashes: N = 2^17 (128 MiB, a few hundred ms), today's usual minimum,
#: so a stolen users file is slow to crack. Hashes made at 2^14 (before) still verify, and are
#: replaced at the user's next good login (``needs_rehash``).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 17, 8, 1


def scrypt_memory(n: int, r: int, p: int) -> int:
    """Bytes OpenSSL's scrypt allocates for these parameters (its own ``maxmem`` check)."""
    return 128 * r * (n + 2) + 128 * r * p


#: no users-file line may make one check take more memory than a new hash does (a line
#: with N = 2^20 would want 1 GiB per login); what bounds the server's memory per check
SCRYPT_MAXMEM = scrypt_memory(SCRYPT_N, SCRYPT_R, SCRYPT_P)
_MAX_WORK = SCRYPT_N * SCRYPT_R * SCRYPT_P  # and no more time than one either
_USER_RE = re.compile(r"^[^:\s]{1,64}$")


def check_token(token: str) -> str:
    """The token, or ValueError saying what is wrong, *without* repeating the token."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(f"must be at least {MIN_TOKEN_LENGTH} characters (e.g. the output "
                         "of: python3 -c 'import secrets; print(secrets.token_urlsafe())')")
    if not _TOKEN_RE.fullmatch(token):
        raise ValueError("may hold only letters, digits and - . _ ~ + / (then = padding)")
    return token


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of two strings (as UTF-8 bytes)."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- passwords


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str, salt: bytes, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$SALT$HASH`` (base64): what a users file stores for one user."""
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                            maxmem=SCRYPT_MAXMEM, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (slow on purpose: run it off the loop)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest, validate=True)
        computed = hashlib.scrypt(password.encode("utf-8"),
                                  salt=base64.b64decode(salt, validate=True), n=int(n),
                                  r=int(r), p=int(p), maxmem=SCRYPT_MAXMEM,
                                  dklen=len(expected))
    except (ValueError, binascii.Error, MemoryError):
        return False
    return hmac.compare_digest(computed, expected)


def hash_cost(stored: str) -> tuple[int, int, int] | None:
    """(N, r, p) of a stored ``scrypt$N$r$p$...`` hash; None if it is not one."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(
            x.isascii() and x.isdigit() and len(x) <= 12 for x in parts[1:4]):
        return None
    return int(parts[1]), int(parts[2]), int(parts[3])


def cost_problem(n: int, r: int, p: int) -> str | None:
    """Why scrypt parameters cannot be used here (None if they can)."""
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        return "N must be a power of 2 and r, p at least 1"
    if scrypt_memory(n, r, p) > SCRYPT_MAXMEM or n * r * p > _MAX_WORK:
        return (f"costs more than the server allows for one check (at most N={SCRYPT_N}, "
                f"r={SCRYPT_R}, p={SCRYPT_P})")
    return None


def needs_rehash(stored: str) -> bool:
    """Whether a hash that just verified should be replaced by one at today's cost."""
    return hash_cost(stored) != (SCRYPT_N, SCRYPT_R, SCRYPT_P)


def decoy_hash(salt: bytes, digest: bytes, like: str | None = None) -> str:
    """A hash no password matches, at the cost of ``like`` (else today's): an unknown user
    is checked against it, so that costs what a known user's check costs. Nothing is
    hashed to make it (the digest is random), so it costs nothing to build."""
    cost = hash_cost(like) if like else None
    n, r, p = cost if cost is not None and cost_problem(*cost) is None else (
        SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def parse_users(text: str, source: str = "users file") -> dict[str, str]:
    """``user:scrypt$...`` lines (``#`` comments, blank lines) -> {user: stored hash}.

    A line that is not a hashed entry is an error naming its line: a plaintext password
    must never be accepted by accident (the message does not repeat the line)."""
    users: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        user, sep, stored = line.partition(":")
        cost = hash_cost(stored)
        if not sep or not _USER_RE.fullmatch(user) or cost is None:
            raise ValueError(f"{source}:{number}: not a 'user:scrypt$N$r$p$salt$hash' entry "
                             "(create entries with: mediaserve passwd FILE USER)")
        problem = cost_problem(*cost)
        if problem is not None:
            raise ValueError(f"{source}:{number}: the hash of {user} {problem}; set the "
                             "password again with: mediaserve passwd FILE USER")
        users[user] = stored
    return users


def set_user(text: str, user: str, stored: str) -> str:
    """The users file ``text`` with ``user``'s entry added or replaced, other lines kept."""
    if not _USER_RE.fullmatch(user):
        raise ValueError("a user name is 1-64 characters without ':' or spaces")
    lines = []
    replaced = False
    for line in text.splitlines():
        if line.strip().partition(":")[0] == user and not line.strip().startswith("#"):
            if not replaced:
                lines.append(f"{user}:{stored}")
            replaced = True
            continue
        lines.append(line)
    if not replaced:
        lines.append(f"{user}:{stored}")
    return "\n".join(lines) + "\n"


def parse_basic(value: str) -> tuple[str, str] | None:
    """(user, password) from ``Authorization: Basic ...`` credentials, None if malformed."""
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else None


def split_authorization(header: str | None) -> tuple[str, str] | None:
    """(lower-case scheme, credentials) of an Authorization header."""
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    return scheme.lower(), credentials.strip()


# --------------------------------------------------------------------------- cookies


def token_cookie(token: str) -> str:
    """The login cookie for the token: an HMAC of it, never the token."""
    return "t." + hmac.new(token.encode(), _COOKIE_CONTEXT, hashlib.sha256).hexdigest()


def user_cookie(user: str, stored: str) -> str:
    """The login cookie for a Basic user; changes when the password (hash) changes."""
    name = base64.urlsafe_b64encode(user.encode()).decode("ascii").rstrip("=")
    mac = hmac.new(stored.encode(), _COOKIE_CONTEXT + b"\0" + user.encode(), hashlib.sha256)
    return f"u.{name}.{mac.hexdigest()}"


def cookie_user(value: str) -> str | None:
    """The user a ``u.`` cookie claims (to look up the hash to check it against)."""
    kind, _, rest = value.partition(".")
    name, _, _mac = rest.partition(".")
    if kind != "u" or not name:
        return None
    try:
        user = base64.b64decode(name + "=" * (-len(name) % 4), altchars=b"-_",
                                validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return user or None


# --------------------------------------------------------------------------- hosts


@functools.lru_cache(maxsize=512)  # per request, twice, on the stream hot path; bounded
def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_port(text: str) -> bool:
    """RFC 3986 ``port = *DIGIT`` (ASCII digits; empty is allowed)."""
    return text.isascii() and (text.isdigit() or not text)


def _host_only(host_header: str) -> str:
    """``example.org:8080`` -> ``example.org``; ``[::1]:80`` -> ``::1``; lower case.

    After a bracketed address only ``:port`` may follow: anything else (``[::1]evil.org``)
    is returned whole, which is neither an IP address nor a name we answer for."""
    host = host_header.strip().lower()
    if _is_ip(host):  # a bare IPv6 address (as --host gives it) has colons but no port
        return host
    if host.startswith("["):
        end = host.find("]")
        rest = host[end + 1:] if end > 0 else "?"
        if rest == "" or (rest[0] == ":" and _is_port(rest[1:])):
            return host[1:end]
        return host
    name, _, port = host.rpartition(":")
    return name if name and _is_port(port) and port else host.rstrip(":")


@dataclass(frozen=True, slots=True)
class HostPolicy:
    """Which ``Host`` names are ours. DNS rebinding needs a *name* (the attacker's domain,
    re-pointed at us); a browser that reached us by an IP literal is on that IP's origin, so
    IP literals are always accepted, and names only when listed (``*`` accepts any)."""

    names: frozenset[str]

    @classmethod
    def build(cls, bound_host: str, extra: tuple[str, ...]) -> HostPolicy:
        names = {"localhost", _host_only(bound_host)}
        names.update(_host_only(name) for name in extra)
        return cls(frozenset(name for name in names if name))

    def allows(self, host_header: str | None) -> bool:
        if host_header is None:  # HTTP/1.0 without Host: not a browser, nothing to rebind
            return True
        if "*" in self.names:
            return True
        host = _host_only(host_header).rstrip(".")
        return _is_ip(host) or host in self.names


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this machine."""
    host = _host_only(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def exposure_warning(host: str, protected: bool) -> str | None:
    """The start-up warning for a server reachable from other machines without auth."""
    if protected or is_loopback(host):
        return None
    return (f"listening on {host} without --auth-token or --auth-users: anyone who can reach "
            "this address can list and stream every video (see README, Security)")


# --------------------------------------------------------------------------- redaction

#: where a parameter's name may start: after these (or at the start of the text)
_KEY_START = re.compile(r"""([?&;\s"'])""")  # one character class: linear by construction
#: the longest spelling of ``token``: every letter percent-escaped
_MAX_KEY = len("%74%6F%6B%65%6E")
REDACTED = "REDACTED"


def _is_credential(key: str) -> bool:
    """Whether a query parameter named ``key`` (as sent) is the token: after percent-decoding
    and ``+`` as a space, as aiohttp (yarl) and the fast path (``parse_qsl``) decode it, in any
    case (``%74oken``, ``TOKEN``)."""
    return len(key) <= _MAX_KEY and unquote_plus(key).lower() == "token"


def redact(text: str) -> str:
    """The token's value in every ``token=`` parameter of a URL, a log line or a Referer
    replaced with ``REDACTED``, however the name is spelled (see :func:`_is_credential`).

    A name starts after ``?``, ``&``, ``;``, a blank or a quote; its value runs to the next
    ``&``, blank or quote, as aiohttp reads it (``?`` and ``;`` inside a value are part of
    it; a log line ends a URL with a blank or a quote). One pass, linear in the text."""
    if "=" not in text or ("%" not in text and "token" not in text.lower()):
        return text  # the usual line: two C scans
    parts = _KEY_START.split(text)  # text, delimiter, text, delimiter, ...
    out: list[str] = []
    index, count = 0, len(parts)
    while index < count:
        key, equals, _value = parts[index].partition("=")
        index += 1
        if equals and _is_credential(key):
            out.append(f"{key}={REDACTED}")
            while index + 1 < count and parts[index] in "?;":  # still the value
                index += 2
        else:
            out.append(parts[index - 1])
        if index < count:
            out.append(parts[index])  # the delimiter
            index += 1
    return "".join(out)
