"""Placing a validation error in a hostile index costs instructions linear in the file.

The locator that names the line of a bad key used to build regular expressions from the
index's own keys: a video key with a run of dots made the table header's pattern exponential
(12.7 s for a 272-byte file with 18 dots), a key starting with blanks made the key's pattern
quadratic in a line of blanks. valgrind counts the instructions of ``loads`` on each shape at
two sizes: doubling the file must at most double them.
"""

from __future__ import annotations

import pytest

from tests.complexity import VALGRIND, instructions

pytestmark = pytest.mark.skipif(VALGRIND is None, reason="valgrind is not installed")

_PROGRAM = r'''
import os
from mediaserve.core.library.index import IndexFormatError, loads

HEAD = ('schema_version = 1\nroot = "/media"\nscanned_at = 2024-01-01T00:00:00Z\n'
        'id_secret = "' + "0" * 64 + '"\n')

def dots(k):  # a key with k dots and no path (an error to place), a header line nearly its own
    return (HEAD + 'comment = """\n[videos.a' + ".  " * k + 'c\n"""\n'
            + '[videos."a' + "." * k + 'b"]\nsize = 1\n')

def blanks(n):  # an unknown key that starts with blanks, after a line of twice as many
    return (HEAD + '[videos.abc]\npath = "a.mkv"\nsize = 1\nmtime_ns = 1\n' + " " * (2 * n)
            + '\n"' + " " * n + 'z" = 1\n')

for make, size in ((dots, 6), (blanks, 2000)):
    for text in (make(size), make(2 * size)):
        os.getppid()
        try:
            loads(text)
            raise SystemExit("no error to place")
        except IndexFormatError:
            pass
    os.getppid()
'''


def test_doubling_a_hostile_index_at_most_doubles_the_work_of_placing_its_error() -> None:
    counts = instructions(_PROGRAM)
    # markers: [start-up, dots small, dots large, end of dots, blanks small, blanks large, end]
    dots_small, dots_large = counts[1], counts[2]
    blanks_small, blanks_large = counts[4], counts[5]
    assert dots_large / dots_small < 2.5, counts
    assert blanks_large / blanks_small < 2.5, counts
