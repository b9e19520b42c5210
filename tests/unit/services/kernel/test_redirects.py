"""Where a sign-in may send the browser afterwards: paths on this site only, one rule for every door."""

import pytest

from postforge.services.kernel.redirects import safe_next_path
from postforge.state.auth import safe_next

UNSAFE = [
    "",
    "//evil.example/x",
    "https://evil.example/",
    "/\\evil.example",  # browsers read a backslash as a slash: //evil.example
    "/\\/evil.example",
    "\\\\evil.example",
    "/\t/evil.example",  # browsers drop tabs and newlines: //evil.example
    "/\n/evil.example",
    "/ok\r\n/evil",
    "javascript:alert(1)",
    "posts",
]


@pytest.mark.parametrize("target", UNSAFE)
def test_anything_but_a_path_on_this_site_goes_to_the_dashboard(target: str) -> None:
    assert safe_next_path(target) == "/dashboard"


@pytest.mark.parametrize("target", UNSAFE)
def test_the_sign_in_form_follows_the_same_rule(target: str) -> None:
    assert safe_next(target) == "/dashboard"


@pytest.mark.parametrize("target", ["/posts?page=2", "/calendar", "/posts/12#comments", "/a%5Cb"])
def test_paths_on_this_site_are_kept(target: str) -> None:
    assert safe_next_path(target) == target == safe_next(target)


def test_a_very_long_path_is_cut_rather_than_followed_whole() -> None:
    assert safe_next_path("/" + "a" * 2000) == "/" + "a" * 511


def test_none_goes_to_the_dashboard() -> None:
    assert safe_next_path(None) == "/dashboard"
