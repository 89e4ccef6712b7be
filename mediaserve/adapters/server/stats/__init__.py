"""Streaming statistics over HTTP: the JSON endpoints, /metrics, numbers shared by workers."""
