"""The public landing page for signed-out visitors."""

import reflex as rx

from postforge import routes


def _feature(icon: str, title: str, body: str) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.icon(icon, size=24, color=rx.color("accent", 10)),
            rx.heading(title, size="4", as_="h3"),
            rx.text(body, color=rx.color("gray", 11)),
            spacing="2",
        ),
        width="100%",
    )


@rx.page(route=routes.LANDING, title="PostForge — write, schedule and publish social posts")
def landing() -> rx.Component:
    return rx.el.main(
        rx.hstack(
            rx.hstack(
                rx.icon("feather", size=22), rx.text("PostForge", size="5", weight="bold"), align="center"
            ),
            rx.spacer(),
            rx.color_mode.button(aria_label="Switch light and dark"),
            rx.link(rx.button("Open the app", id="open-app"), href=routes.DASHBOARD),
            padding="1em 2em",
            align="center",
        ),
        rx.center(
            rx.vstack(
                rx.heading(
                    "Write with Claude. Schedule everywhere. Publish on time.",
                    size="8",
                    text_align="center",
                    as_="h1",
                ),
                rx.text(
                    "PostForge drafts posts in your brand's voice, lets you edit and schedule them to "
                    "Mastodon, Bluesky, LinkedIn, X, Threads, Instagram and Facebook from one calendar, "
                    "and publishes each one at its minute — retrying, refreshing tokens and respecting "
                    "rate limits, never posting twice. Self-hosted: your data stays yours.",
                    size="4",
                    color=rx.color("gray", 11),
                    text_align="center",
                    max_width="44em",
                ),
                rx.hstack(
                    rx.link(rx.button("Go to the dashboard", size="3"), href=routes.DASHBOARD),
                    rx.link(rx.button("See the schedule", size="3", variant="soft"), href=routes.CALENDAR),
                    spacing="3",
                ),
                align="center",
                spacing="5",
                padding_y="4em",
                padding_x="1.5em",
            )
        ),
        rx.grid(
            _feature(
                "sparkles", "AI drafts, metered by credits", "One credit per generation, streamed live."
            ),
            _feature(
                "calendar-days", "A calendar that keeps time", "Drag posts around; DST never moves one."
            ),
            _feature("send", "Publishing you can trust", "Per-account retries, live status, no duplicates."),
            columns=rx.breakpoints(initial="1", sm="3"),
            spacing="4",
            padding="0 2em 4em",
            max_width="72em",
            margin="0 auto",
        ),
    )
