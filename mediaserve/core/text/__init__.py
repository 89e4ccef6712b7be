"""Untrusted text made safe to show: terminals and headers."""
