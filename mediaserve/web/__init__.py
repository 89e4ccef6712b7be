"""The web UI: plain HTML/CSS/JS shipped as package data (no build step)."""
