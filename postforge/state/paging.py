"""Server-side paging of a table: a page at a time, counted from 0, `page_size` rows each."""


def has_next(page: int, page_size: int, total: int) -> bool:
    """Whether rows follow the ones page `page` shows."""
    return (page + 1) * page_size < total


def range_text(page: int, page_size: int, total: int) -> str:
    """The rows page `page` shows, for the line above the table: "26-50 of 130" (an en dash)."""
    if not total:
        return "No posts"
    first = page * page_size + 1
    return f"{first}\u2013{min(total, first + page_size - 1)} of {total}"
