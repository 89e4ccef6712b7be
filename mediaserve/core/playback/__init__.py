"""Playback: what each browser can play, how each video will reach it, and the HLS text."""
