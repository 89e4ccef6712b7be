"""The pure core: no I/O frameworks, no file system, no network.

Everything here takes plain values in and gives plain values out, so it can be
unit- and property-tested exhaustively and reused by the server, the CLI and the tests.
"""
