"""Profiles and per-profile state: the SQLite store, its thread, the /api/me routes."""
