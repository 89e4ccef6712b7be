"""The server's TLS context from its settings (Python's defaults for servers: TLS 1.2+)."""

from __future__ import annotations

import ssl

from mediaserve.core.config.settings import Settings


def make_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The server's TLS context, or None without ``tls_cert``. Raises ValueError for half a
    configuration and OSError (ssl.SSLError) for files that do not load."""
    if not settings.tls_cert and not settings.tls_key:
        return None
    if not (settings.tls_cert and settings.tls_key):
        raise ValueError("--tls-cert and --tls-key go together")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # TLS 1.2+, no client cert
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    return context
