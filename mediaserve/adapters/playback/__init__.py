"""Playback over HLS: producers in worker processes, the segment cache, the routes."""
