"""The threat model names the tests that shut each door: every one it names must exist."""

import re

from tests.support.db import ROOT

DOC = (ROOT / "docs" / "security.md").read_text()


def test_every_test_the_threat_model_names_exists() -> None:
    missing = []
    current_file = None
    for match in re.finditer(r"`(tests/[\w/]+\.py)?(?:::(\w+))?`", DOC):
        path, name = match.group(1), match.group(2)
        current_file = path or current_file
        if current_file is None:
            continue
        source = (ROOT / current_file).read_text() if (ROOT / current_file).exists() else None
        if source is None:
            missing.append(current_file)
        elif name and not re.search(rf"def {name}\b", source):
            missing.append(f"{current_file}::{name}")
    assert missing == [], f"docs/security.md names tests that do not exist: {missing}"
