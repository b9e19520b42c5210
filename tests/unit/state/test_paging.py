"""The paging line and the next-page check the posts table and the sandbox feed share."""

from postforge.state import paging


def test_the_line_names_the_rows_of_the_page_and_the_total() -> None:
    assert paging.range_text(0, 25, 31) == "1\u201325 of 31"
    assert paging.range_text(1, 25, 31) == "26\u201331 of 31"  # the last page is cut at the total
    assert paging.range_text(0, 20, 0) == "No posts"


def test_a_next_page_exists_only_while_rows_follow() -> None:
    assert paging.has_next(0, 25, 26)
    assert not paging.has_next(0, 25, 25)
    assert not paging.has_next(1, 25, 31)
