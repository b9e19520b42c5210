"""The post calendar: FullCalendar v6 behind a small JSX wrapper (assets/calendar/post_calendar.jsx).

The wrapper imports the FullCalendar plugins, renders events with status colours and platform
badges, and calls back with plain JSON only: ids and naive wall-clock strings in the user's zone.
"""

from typing import Any

import reflex as rx
from reflex_base.event import passthrough_event_spec

FULLCALENDAR_VERSION = "6.1.22"
# timegrid and list have no 6.1.22 release; 6.1.21 is the newest 6.1 and accepts core ~6.1.21.
FULLCALENDAR_TIMEGRID_VERSION = "6.1.21"
FULLCALENDAR_LIST_VERSION = "6.1.21"


class PostCalendar(rx.NoSSRComponent):
    """A month/week/day/list calendar of posts with drag-and-drop rescheduling."""

    library = "$/public/calendar/post_calendar.jsx"
    tag = "PostCalendar"
    lib_dependencies: list[str] = [
        f"@fullcalendar/react@{FULLCALENDAR_VERSION}",
        f"@fullcalendar/core@{FULLCALENDAR_VERSION}",
        f"@fullcalendar/daygrid@{FULLCALENDAR_VERSION}",
        f"@fullcalendar/interaction@{FULLCALENDAR_VERSION}",
        f"@fullcalendar/timegrid@{FULLCALENDAR_TIMEGRID_VERSION}",
        f"@fullcalendar/list@{FULLCALENDAR_LIST_VERSION}",
    ]

    # Events of the loaded range: {id, title, start (naive local ISO), status, platforms, version, label}.
    events: rx.Var[list[dict[str, Any]]]
    # Single changed events (id -> event, or None when it left the calendar) laid over `events`.
    patches: rx.Var[dict[str, Any]]
    # Bumped by the server to make the calendar redraw from the data it holds (a refused drop).
    revision: rx.Var[int]
    # The IANA zone the wall-clock times are in ("today" and the now-indicator follow it).
    zone: rx.Var[str]
    initial_view: rx.Var[str]
    initial_date: rx.Var[str]
    editable: rx.Var[bool]
    height: rx.Var[str]

    # (post id, new naive local start, old naive local start, version the browser saw)
    on_event_drop: rx.EventHandler[passthrough_event_spec(str, str, str, int)]
    # (post id)
    on_event_click: rx.EventHandler[passthrough_event_spec(str)]
    # (naive local date-time clicked, whether it was a whole day in month view)
    on_date_click: rx.EventHandler[passthrough_event_spec(str, bool)]
    # (naive local start of the visible range, its exclusive end, the view's name)
    on_dates_set: rx.EventHandler[passthrough_event_spec(str, str, str)]


post_calendar = PostCalendar.create
