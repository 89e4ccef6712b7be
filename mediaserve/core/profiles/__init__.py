"""Profiles and per-profile state, the pure half: what a name, colour, PIN, preference or
progress report may be, the signed profile cookie, the rule that makes a video watched, the
home rows, the export document and the cross-site rule of the state-changing routes.

Nothing here touches SQLite, a clock or randomness: the adapters (``adapters/profiles``)
pass the time, the salts and the secret in.
"""
