"""Shows, seasons and episodes grouped from a catalog's parsed names (see ``model``)."""

from mediaserve.core.shows.documents import show_document, shows_document
from mediaserve.core.shows.model import Item, Season, Show, Shows, build_shows, show_id

__all__ = ["Item", "Season", "Show", "Shows", "build_shows", "show_document", "show_id",
           "shows_document"]
