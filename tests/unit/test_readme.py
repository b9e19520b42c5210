"""The README is the operator's manual: it must open with the two commands and list every setting."""

from postforge.settings import Settings
from tests.support.db import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_opens_with_run_and_test_commands() -> None:
    first_block = README.split("```", 2)[1]
    assert "make run" in first_block
    assert "make test" in first_block


def test_every_setting_is_documented() -> None:
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in README]
    assert missing == [], f"settings missing from the README configuration table: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()
