"""Connections: the one protocol that owns each socket, the listener, the connection guard."""
