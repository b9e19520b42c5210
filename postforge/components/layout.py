"""The app shell every signed-in page uses: sidebar, header, content; light and dark; responsive."""

from collections.abc import Callable

import reflex as rx

from postforge import routes
from postforge.components.notifications import notification_bell
from postforge.state.auth import AuthState
from postforge.state.live import LiveState
from postforge.state.shell import ShellState, WorkspaceOption

SIDEBAR_WIDTH = "15em"


def _nav_link(label: str, href: str, icon: str) -> rx.Component:
    active = rx.State.router.page.path == href
    return rx.link(
        rx.hstack(
            rx.icon(icon, size=18),
            rx.text(label, size="3"),
            align="center",
            spacing="3",
            padding_x="0.75em",
            padding_y="0.5em",
            border_radius="var(--radius-3)",
            width="100%",
            background=rx.cond(active, rx.color("accent", 4), "transparent"),
            color=rx.cond(active, rx.color("accent", 11), rx.color("gray", 11)),
            _hover={"background": rx.color("accent", 3)},
        ),
        href=href,
        underline="none",
        width="100%",
        aria_current=rx.cond(active, "page", "false"),
    )


def _nav() -> rx.Component:
    links = [
        _nav_link(label, href, icon)
        if href != routes.ADMIN
        else rx.cond(ShellState.is_admin, _nav_link(label, href, icon))
        for label, href, icon in routes.NAV_ITEMS
    ]
    return rx.vstack(*links, spacing="1", width="100%")


def _brand() -> rx.Component:
    return rx.link(
        rx.hstack(rx.icon("feather", size=22), rx.text("PostForge", size="5", weight="bold"), align="center"),
        href=routes.DASHBOARD,
        underline="none",
        color=rx.color("gray", 12),
    )


def sidebar() -> rx.Component:
    return rx.box(
        rx.el.nav(
            rx.vstack(_brand(), rx.divider(), _nav(), spacing="4", padding="1em", width="100%"),
            aria_label="Main",
        ),
        display=["none", "none", "block"],
        width=SIDEBAR_WIDTH,
        min_width=SIDEBAR_WIDTH,
        height="100vh",
        position="sticky",
        top="0",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
    )


def _mobile_menu() -> rx.Component:
    return rx.box(
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", aria_label="Open menu")),
            rx.drawer.overlay(),
            rx.drawer.portal(
                rx.drawer.content(
                    rx.vstack(
                        rx.drawer.close(
                            rx.icon_button(rx.icon("x"), variant="ghost", aria_label="Close menu")
                        ),
                        rx.el.nav(_nav(), aria_label="Menu", width="100%"),
                        spacing="3",
                        padding="1em",
                    ),
                    width="16em",
                    height="100%",
                    background=rx.color("gray", 1),
                )
            ),
            direction="left",
        ),
        display=["block", "block", "none"],
    )


def _workspace_option(option: WorkspaceOption) -> rx.Component:
    return rx.select.item(option.name, value=option.id)


def _workspace_switcher() -> rx.Component:
    return rx.hstack(
        rx.icon("building-2", size=18),
        rx.text(ShellState.workspace_name, weight="medium", id="workspace-name", display=["none", "block"]),
        rx.cond(
            ShellState.workspace_options.length() > 1,
            rx.select.root(
                rx.select.trigger(placeholder="Switch workspace", aria_label="Switch workspace"),
                rx.select.content(rx.foreach(ShellState.workspace_options, _workspace_option)),
                value=ShellState.workspace_id.to_string(),
                on_change=ShellState.switch_workspace,
                size="1",
            ),
        ),
        align="center",
        spacing="2",
    )


def _user_menu() -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("circle-user"), variant="ghost", aria_label="Account menu", id="account-menu"
            )
        ),
        rx.menu.content(
            rx.text(AuthState.user_email, size="1", color=rx.color("gray", 10), padding_x="0.75em"),
            rx.menu.item("Settings", on_click=rx.redirect(routes.SETTINGS)),
            rx.menu.separator(),
            rx.menu.item("Sign out", on_click=AuthState.sign_out, color="red"),
        ),
    )


def header() -> rx.Component:
    return rx.el.header(_header_bar(), width="100%")


def _header_bar() -> rx.Component:
    return rx.hstack(
        _mobile_menu(),
        _workspace_switcher(),
        rx.spacer(),
        rx.link(
            rx.badge(
                rx.icon("coins", size=14),
                rx.text(ShellState.credits, id="credit-balance"),
                rx.text("credits"),
                size="2",
                variant="soft",
                radius="full",
            ),
            href=routes.CREDITS,
            underline="none",
            aria_label="Credit balance",
        ),
        notification_bell(),
        rx.color_mode.button(aria_label="Switch light and dark"),
        _user_menu(),
        align="center",
        spacing="3",
        padding_x="1.5em",
        padding_y="0.75em",
        width="100%",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
    )


def confirm_email_banner() -> rx.Component:
    """Until the member confirms their address: a reminder with a resend (the account works meanwhile)."""
    return rx.cond(
        ShellState.signed_in & ~ShellState.email_verified,
        rx.callout.root(
            rx.callout.icon(rx.icon("mail-warning")),
            rx.flex(
                rx.callout.text(
                    "Confirm your email address ",
                    rx.text.strong(AuthState.user_email),
                    ": open the link we mailed you. Until then, signing in with Google, GitHub or "
                    "single sign-on cannot join this account.",
                ),
                rx.button(
                    "Resend the link",
                    size="1",
                    variant="soft",
                    on_click=ShellState.resend_verification,
                    id="resend-verification",
                ),
                gap="3",
                align="center",
                wrap="wrap",
            ),
            color_scheme="amber",
            role="status",
            id="confirm-email-banner",
            width="100%",
            border_radius="0",
        ),
    )


def app_page(title: str, *children: rx.Component) -> rx.Component:
    """Sidebar + header + a titled main area."""
    return rx.hstack(
        sidebar(),
        rx.vstack(
            header(),
            confirm_email_banner(),
            rx.el.main(
                rx.heading(title, size="7", margin_bottom="0.75em", as_="h1"),
                *children,
                padding=["1em", "1.5em", "2em"],
                width="100%",
                max_width="80em",
            ),
            spacing="0",
            width="100%",
            min_height="100vh",
        ),
        spacing="0",
        width="100%",
        align="start",
    )


def template(
    route: str, title: str, on_load: Callable | list | None = None
) -> Callable[[Callable[[], rx.Component]], Callable[[], rx.Component]]:
    """Register a shell page: the decorated function returns only the page's own content."""

    def decorator(content: Callable[[], rx.Component]) -> Callable[[], rx.Component]:
        # Sign-in and membership are checked first; a page's own loader runs only after, and the
        # tab's live-status poller last (it needs the workspace the shell found).
        loads = [ShellState.load_shell]
        if on_load is not None:
            loads += on_load if isinstance(on_load, list) else [on_load]
        loads.append(LiveState.start)

        @rx.page(route=route, title=f"{title} · PostForge", on_load=loads)
        def page() -> rx.Component:
            return app_page(title, content())

        return page

    return decorator
