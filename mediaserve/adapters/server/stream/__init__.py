"""The stream endpoint: one job per answer, its body writers, its two ways in."""
