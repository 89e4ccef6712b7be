"""Adapters: the edges where mediaserve meets files, FFmpeg and the network.

They are kept thin: they gather facts and hand them to the pure core in ``mediaserve.core``.
"""
