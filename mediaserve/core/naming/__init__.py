"""Reading library paths: a title for every video, and shows, seasons and episodes.

``parse_path("TV/Show/Season 1/Show S01E02 - Name.mkv")`` says it is episode 2 of season 1
of *Show*, titled *Name*; ``parse_path("Blade Runner 2049 (2017).mkv")`` that it is a film
of 2017 called *Blade Runner 2049*. Pure: names in, plain data out.
"""

from mediaserve.core.naming.model import Kind, ParsedName, show_key
from mediaserve.core.naming.parse import parse_path

__all__ = ["Kind", "ParsedName", "parse_path", "show_key"]
