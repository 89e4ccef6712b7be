"""Which files are videos, and what to call them on the wire.

One table so that the scanner (which files to probe), the server (Content-Type) and
the audit (which codecs play where) agree on the names.
"""

from __future__ import annotations

#: extension (lower case, no dot) -> (container name we record, MIME type we serve)
VIDEO_EXTENSIONS: dict[str, tuple[str, str]] = {
    "mp4": ("mp4", "video/mp4"),
    "m4v": ("mp4", "video/mp4"),
    "mov": ("mov", "video/quicktime"),
    "webm": ("webm", "video/webm"),
    "mkv": ("matroska", "video/x-matroska"),
    "avi": ("avi", "video/x-msvideo"),
    "ogv": ("ogg", "video/ogg"),
    "ts": ("mpegts", "video/mp2t"),
    "m2ts": ("mpegts", "video/mp2t"),
    "mpg": ("mpeg", "video/mpeg"),
    "mpeg": ("mpeg", "video/mpeg"),
    "wmv": ("asf", "video/x-ms-wmv"),
    "flv": ("flv", "video/x-flv"),
    "3gp": ("mp4", "video/3gpp"),
}

#: containers whose layout is ISO BMFF (boxes), where "faststart" is meaningful
MP4_FAMILY = frozenset({"mp4", "mov"})

#: content type of a container we recorded, for files whose extension we do not know
CONTAINER_MIME = {container: mime for container, mime in VIDEO_EXTENSIONS.values()}
CONTAINER_MIME.update({"mp4": "video/mp4", "matroska": "video/x-matroska"})


def extension_of(name: str) -> str:
    """The lower-case extension without the dot ('' when there is none)."""
    dot = name.rfind(".")
    return name[dot + 1 :].lower() if dot > 0 else ""


def is_video_name(name: str) -> bool:
    """True for a file name we index (decided by extension: probing every file is too slow)."""
    return extension_of(name) in VIDEO_EXTENSIONS


def content_type_for(path: str, container: str | None = None) -> str:
    """The MIME type to serve: the recorded container first, then the extension."""
    if container and container in CONTAINER_MIME:
        return CONTAINER_MIME[container]
    entry = VIDEO_EXTENSIONS.get(extension_of(path))
    return entry[1] if entry else "application/octet-stream"
