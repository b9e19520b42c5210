// PostForge's calendar: FullCalendar v6 with the props and callbacks the Python state needs.
//
// Times: the server sends every start as the wall-clock time in the user's zone, as a naive ISO
// string ("2026-03-29T09:00:00"), and FullCalendar runs with timeZone "UTC" so it converts
// nothing. Callbacks hand back naive local strings the same way; the server turns them into UTC
// instants (and refuses times the clocks skip). Callbacks pass plain JSON values only.
//
// Reverting: the server answers a refused drop by bumping `revision`. A new revision makes fresh
// event objects, which FullCalendar treats as a new event list, so the moved event snaps back to
// the stored time the server sent. `patches` (id -> event) overlay single changed events without
// re-sending the whole range.
import React, { useCallback, useEffect, useMemo, useRef, useState } from "react";
import FullCalendar from "@fullcalendar/react";
import dayGridPlugin from "@fullcalendar/daygrid";
import timeGridPlugin from "@fullcalendar/timegrid";
import listPlugin from "@fullcalendar/list";
import interactionPlugin from "@fullcalendar/interaction";

const PLUGINS = [dayGridPlugin, timeGridPlugin, listPlugin, interactionPlugin];
const NARROW_QUERY = "(max-width: 640px)";

// Status -> [background, border, text]. Radix colour variables follow light and dark mode.
const STATUS_COLOURS = {
  draft: ["var(--gray-4)", "var(--gray-8)", "var(--gray-12)"],
  scheduled: ["var(--violet-9)", "var(--violet-10)", "white"],
  publishing: ["var(--amber-9)", "var(--amber-10)", "black"],
  published: ["var(--green-9)", "var(--green-10)", "white"],
  partially_published: ["var(--orange-9)", "var(--orange-10)", "white"],
  // May be live, the platform never confirmed: soft orange with a dashed edge, like its badge.
  needs_review: ["var(--orange-4)", "var(--orange-9)", "var(--orange-12)"],
  failed: ["var(--red-9)", "var(--red-10)", "white"],
  cancelled: ["var(--gray-3)", "var(--gray-7)", "var(--gray-11)"],
};
// The legend under the calendar, in the order a post moves through them.
const STATUS_LABELS = [
  ["draft", "Draft"],
  ["scheduled", "Scheduled"],
  ["publishing", "Publishing"],
  ["published", "Published"],
  ["partially_published", "Partially published"],
  ["needs_review", "Needs review"],
  ["failed", "Failed"],
  ["cancelled", "Cancelled"],
];
const DAY_LIMIT = 3; // events per day drawn when more than a week is visible
const MOVABLE = new Set(["draft", "scheduled", "failed", "cancelled"]);

const PLATFORM_BADGES = {
  sandbox: ["S", "Sandbox"],
  mastodon: ["M", "Mastodon"],
  bluesky: ["B", "Bluesky"],
  linkedin: ["in", "LinkedIn"],
  x: ["X", "X"],
  threads: ["@", "Threads"],
  instagram: ["IG", "Instagram"],
  facebook: ["f", "Facebook"],
  youtube: ["YT", "YouTube"],
  tiktok: ["TT", "TikTok"],
};

const CSS = `
.pf-calendar { --fc-border-color: var(--gray-6); --fc-page-bg-color: var(--color-panel-solid);
  --fc-neutral-bg-color: var(--gray-3); --fc-today-bg-color: var(--accent-3);
  --fc-list-event-hover-bg-color: var(--gray-4); --fc-button-bg-color: var(--accent-9);
  --fc-button-border-color: var(--accent-9); --fc-button-hover-bg-color: var(--accent-10);
  --fc-button-hover-border-color: var(--accent-10); --fc-button-active-bg-color: var(--accent-11);
  --fc-button-active-border-color: var(--accent-11); --fc-button-text-color: var(--accent-contrast);
  --fc-now-indicator-color: var(--red-9); --fc-highlight-color: var(--accent-a4);
  color: var(--gray-12); font-size: 0.875rem; }
.pf-calendar .fc .fc-toolbar-title { font-size: 1.25rem; }
.pf-calendar .fc-day-past { background: var(--gray-a2); }
.pf-calendar .pf-event { display: flex; gap: 4px; align-items: center; overflow: hidden;
  white-space: nowrap; padding: 0 2px; min-width: 0; }
.pf-calendar .pf-event-time { font-weight: 600; flex: none; }
.pf-calendar .pf-event-title { overflow: hidden; text-overflow: ellipsis; min-width: 0; }
.pf-calendar .pf-badge { flex: none; font-size: 0.65rem; line-height: 1; padding: 2px 3px;
  border-radius: 3px; background: rgba(0,0,0,0.25); color: inherit; font-weight: 700; }
.pf-calendar .pf-status-cancelled .pf-event-title { text-decoration: line-through; }
.pf-calendar .fc-event.pf-status-needs_review, .pf-calendar .pf-status-needs_review .pf-swatch {
  border-style: dashed; }
.pf-calendar .pf-legend { display: flex; flex-wrap: wrap; gap: 0.25rem 0.75rem; list-style: none;
  margin: 0.5rem 0 0; padding: 0; font-size: 0.75rem; color: var(--gray-11); }
.pf-calendar .pf-legend li { display: flex; align-items: center; gap: 0.3rem; }
.pf-calendar .pf-swatch { width: 0.8rem; height: 0.8rem; border: 1px solid; border-radius: 3px; flex: none; }
.pf-calendar .pf-more .pf-more-link { font-weight: 600; padding: 0 2px; cursor: pointer; }
.pf-calendar .fc-list-event .pf-badge { background: var(--gray-5); }
.pf-calendar .fc-list-event .pf-event { white-space: normal; flex-wrap: wrap; }
.pf-calendar .fc-list-event-title { overflow-wrap: anywhere; }
.pf-calendar .fc-list-table { table-layout: auto; }
@media (max-width: 640px) {
  .pf-calendar .fc .fc-toolbar { flex-wrap: wrap; gap: 0.5rem; }
  .pf-calendar .fc .fc-toolbar-title { font-size: 1rem; }
  .pf-calendar .fc .fc-button { padding: 0.3em 0.5em; font-size: 0.8rem; }
}
`;

// A Date that FullCalendar produced in "UTC" mode holds the local wall-clock time: its UTC
// fields are the local fields. This gives them back as a naive ISO string.
function naive(date) {
  return date ? date.toISOString().slice(0, 19) : "";
}

function toCalendarEvent(item) {
  const colours = STATUS_COLOURS[item.status] || STATUS_COLOURS.draft;
  return {
    id: String(item.id),
    title: item.title,
    start: item.start,
    allDay: false,
    backgroundColor: colours[0],
    borderColor: colours[1],
    textColor: colours[2],
    startEditable: MOVABLE.has(item.status),
    classNames: ["pf-status-" + item.status],
    extendedProps: {
      status: item.status,
      platforms: item.platforms || [],
      version: item.version,
      tz: item.tz || "",
    },
  };
}

// Month view with thousands of posts: FullCalendar draws every event of a day (hiding the extra
// ones), so the wrapper hands it at most DAY_LIMIT per day plus one "+N more" entry that opens
// the day view. The DOM stays small whatever the month holds.
function condense(items) {
  const out = [];
  let day = null;
  let count = 0;
  const flush = () => {
    if (day && count > DAY_LIMIT) {
      out.push({
        id: "more-" + day,
        title: `+${count - DAY_LIMIT} more`,
        start: day + "T23:59:59",
        allDay: false,
        editable: false,
        startEditable: false,
        backgroundColor: "transparent",
        borderColor: "transparent",
        textColor: "var(--accent-11)",
        classNames: ["pf-more"],
        extendedProps: { more: count - DAY_LIMIT, day, total: count, status: "more", platforms: [] },
      });
    }
  };
  for (const item of items) {
    const itemDay = item.start.slice(0, 10);
    if (itemDay !== day) {
      flush();
      day = itemDay;
      count = 0;
    }
    count += 1;
    if (count <= DAY_LIMIT) out.push(toCalendarEvent(item));
  }
  flush();
  return out;
}

function badge(platform) {
  const [text, name] = PLATFORM_BADGES[platform] || [platform.slice(0, 2), platform];
  const el = document.createElement("span");
  el.className = "pf-badge";
  el.textContent = text;
  el.title = name;
  el.setAttribute("aria-label", name);
  return el;
}

// Plain DOM nodes, not React elements: thousands of events stay cheap to render.
function renderEventContent(arg) {
  const props = arg.event.extendedProps;
  if (props.more) {
    const more = document.createElement("span");
    more.className = "pf-more-link";
    more.textContent = arg.event.title;
    more.title = `${props.total} posts on ${props.day}: open the day`;
    return { domNodes: [more] };
  }
  const root = document.createElement("span");
  root.className = "pf-event";
  if (arg.timeText && arg.view.type !== "listWeek" && arg.view.type !== "listDay") {
    const time = document.createElement("span");
    time.className = "pf-event-time";
    time.textContent = arg.timeText;
    root.appendChild(time);
  }
  for (const platform of props.platforms) root.appendChild(badge(platform));
  const title = document.createElement("span");
  title.className = "pf-event-title";
  title.textContent = arg.event.title;
  root.appendChild(title);
  root.title = `${arg.timeText} ${props.tz} · ${props.status.replace("_", " ")} · ${arg.event.title}`;
  return { domNodes: [root] };
}

// The current wall-clock time in `zone` (IANA name) as a naive ISO string, so "today" and the
// now-indicator follow the user's zone rather than the browser's.
function localNow(zone) {
  try {
    const parts = new Intl.DateTimeFormat("en-CA", {
      timeZone: zone || "UTC",
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(new Date());
    const get = (type) => parts.find((p) => p.type === type).value;
    return `${get("year")}-${get("month")}-${get("day")}T${get("hour")}:${get("minute")}:${get("second")}`;
  } catch (error) {
    return new Date().toISOString().slice(0, 19);
  }
}

// Which colour means what: drawn from STATUS_COLOURS, so the two never disagree.
function Legend() {
  return (
    <ul className="pf-legend" aria-label="Status colours">
      {STATUS_LABELS.map(([status, label]) => {
        const [background, border] = STATUS_COLOURS[status];
        return (
          <li key={status} className={"pf-status-" + status}>
            <span className="pf-swatch" style={{ background, borderColor: border }} aria-hidden="true" />
            {label}
          </li>
        );
      })}
    </ul>
  );
}

function isNarrow() {
  return typeof window !== "undefined" && window.matchMedia(NARROW_QUERY).matches;
}

export function PostCalendar({
  events = [],
  patches = {},
  revision = 0,
  zone = "UTC",
  initialView = "dayGridMonth",
  initialDate = "",
  editable = true,
  height = "auto",
  onEventDrop,
  onEventClick,
  onDateClick,
  onDatesSet,
  id,
  ...rest
}) {
  const [narrow] = useState(isNarrow);
  const zoneRef = useRef(zone);
  zoneRef.current = zone;
  const now = useCallback(() => localNow(zoneRef.current), []);
  // Callbacks change identity on every render; FullCalendar gets stable functions.
  const handlers = useRef({});
  handlers.current = { onEventDrop, onEventClick, onDateClick, onDatesSet };

  // The server's events with single-event patches laid over them (plain objects, sorted by start).
  const items = useMemo(() => {
    const replaced = patches || {};
    const seen = new Set();
    const out = [];
    for (const item of events || []) {
      const key = String(item.id);
      seen.add(key);
      const patch = replaced[key];
      if (patch === null) continue; // the post left the calendar (deleted, unscheduled)
      out.push(patch || item);
    }
    for (const [key, patch] of Object.entries(replaced)) {
      if (patch && !seen.has(key)) out.push(patch);
    }
    out.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.id - b.id));
    return out;
  }, [events, patches]);
  const itemsRef = useRef(items);
  itemsRef.current = items;
  const calendarRef = useRef(null);

  // FullCalendar asks for the events of every range it shows (lazyFetching off) and gets only
  // those, condensed to a few per day when more than a week is visible.
  const fetchEvents = useCallback((info, success) => {
    const start = naive(info.start);
    const end = naive(info.end);
    const inRange = itemsRef.current.filter((item) => item.start >= start && item.start < end);
    const days = (info.end.valueOf() - info.start.valueOf()) / 86400000;
    success(days > 7 ? condense(inRange) : inRange.map(toCalendarEvent));
  }, []);

  // New data, or a new revision (a refused drop): FullCalendar replaces its events with fresh
  // objects, so a moved event snaps to where the server says it is.
  useEffect(() => {
    const api = calendarRef.current && calendarRef.current.getApi();
    if (api) api.refetchEvents();
  }, [items, revision]);

  const eventDrop = useCallback((info) => {
    const event = info.event;
    const call = handlers.current.onEventDrop;
    if (!call) {
      info.revert();
      return;
    }
    call(event.id, naive(event.start), naive(info.oldEvent.start), Number(event.extendedProps.version || 0));
  }, []);

  const eventClick = useCallback((info) => {
    info.jsEvent.preventDefault();
    const more = info.event.extendedProps.more;
    if (more) {
      info.view.calendar.changeView("timeGridDay", info.event.extendedProps.day);
      return;
    }
    handlers.current.onEventClick && handlers.current.onEventClick(info.event.id);
  }, []);

  const dateClick = useCallback((info) => {
    handlers.current.onDateClick && handlers.current.onDateClick(naive(info.date), Boolean(info.allDay));
  }, []);

  const datesSet = useCallback((info) => {
    handlers.current.onDatesSet &&
      handlers.current.onDatesSet(naive(info.start), naive(info.end), info.view.type);
  }, []);

  const headerToolbar = useMemo(
    () =>
      narrow
        ? { start: "title", end: "prev,next" }
        : { start: "prev,next today", center: "title", end: "dayGridMonth,timeGridWeek,timeGridDay,listWeek" },
    [narrow],
  );
  const footerToolbar = useMemo(
    () => (narrow ? { start: "today", end: "dayGridMonth,timeGridDay,listWeek" } : false),
    [narrow],
  );

  return (
    <div className="pf-calendar" id={id} data-revision={revision} role="region" aria-label="Posts calendar" {...rest}>
      <style>{CSS}</style>
      <FullCalendar
        ref={calendarRef}
        plugins={PLUGINS}
        timeZone="UTC"
        now={now}
        initialView={narrow ? "listWeek" : initialView}
        initialDate={initialDate || undefined}
        headerToolbar={headerToolbar}
        footerToolbar={footerToolbar}
        buttonText={{ today: "Today", month: "Month", week: "Week", day: "Day", list: "List" }}
        events={fetchEvents}
        lazyFetching={false}
        eventInteractive={true}
        editable={editable}
        eventDurationEditable={false}
        eventStartEditable={editable}
        selectable={false}
        dayMaxEvents={DAY_LIMIT + 1}
        eventMaxStack={3}
        moreLinkClick="popover"
        eventDisplay="block"
        displayEventEnd={false}
        eventTimeFormat={{ hour: "2-digit", minute: "2-digit", hour12: false }}
        slotLabelFormat={{ hour: "2-digit", minute: "2-digit", hour12: false }}
        firstDay={1}
        nowIndicator={true}
        allDaySlot={false}
        scrollTime="08:00:00"
        navLinks={true}
        height={height}
        eventContent={renderEventContent}
        eventDrop={eventDrop}
        eventClick={eventClick}
        dateClick={dateClick}
        datesSet={datesSet}
        noEventsContent="No posts in this period"
      />
      <Legend />
    </div>
  );
}

export default PostCalendar;
