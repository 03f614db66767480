"""Version compatibility follows oslo's major.minor[.revision] rule."""

from __future__ import annotations

import pytest

from messaging import MessagingException
from messaging.versions import parse_version, version_is_compatible


@pytest.mark.parametrize("imp, req, ok", [
    ("1.0", "1.0", True),
    ("1.5", "1.3", True),
    ("1.5", "1.6", False),
    ("1.5", "2.0", False),
    ("2.0", "1.0", False),
    ("1.5.2", "1.5.1", True),
    ("1.5.2", "1.5.3", False),
    ("1.5", "1.4.9", True),
    ("1.5", "1.5.1", False),
    (None, "3.0", True),
    ("1.0", None, False),
])
def test_compatibility(imp, req, ok):
    assert version_is_compatible(imp, req) is ok


@pytest.mark.parametrize("bad", ["2", "1.x", "1.2.3.4", "", "a.b"])
def test_bad_versions_are_refused(bad):
    with pytest.raises(MessagingException, match="major and minor"):
        parse_version(bad)


def test_parse():
    assert parse_version("1.2") == (1, 2, 0)
    assert parse_version("3.4.5") == (3, 4, 5)
