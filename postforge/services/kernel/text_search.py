"""Substring search with LIKE/ILIKE: what a person typed, matched literally."""

ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """'%…%' around `text` with its own % and _ escaped (use with `escape=ESCAPE`)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
