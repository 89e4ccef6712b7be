"""mediaserve: put a folder of videos on the web with seeking that feels instant."""

__version__ = "0.1.0"
