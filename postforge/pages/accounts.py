"""Accounts: the workspace's social accounts, and connecting, reconnecting and disconnecting them.

Editors and admins see the buttons; viewers see the same cards read-only (the services refuse
their writes whatever the browser sends).
"""

import reflex as rx

from postforge import routes
from postforge.components.cards import empty_state
from postforge.components.layout import template
from postforge.state.accounts import AccountItem, AccountsState, PlatformChoice
from postforge.state.shell import ShellState

LABEL_STYLE = {"font_weight": "500", "font_size": "14px"}
STATUS_COLORS = {"connected": "green", "needs_reconnect": "amber", "disconnected": "gray"}


# --- the cards ------------------------------------------------------------------------------------


def _avatar(account: AccountItem) -> rx.Component:
    return rx.avatar(
        src=account.avatar_url,
        fallback=account.initial,
        size="4",
        radius="full",
        alt="",  # the name beside it says who it is
    )


def _status_chip(account: AccountItem) -> rx.Component:
    return rx.badge(
        account.status_label,
        color_scheme=rx.match(
            account.status,
            ("connected", STATUS_COLORS["connected"]),
            ("needs_reconnect", STATUS_COLORS["needs_reconnect"]),
            STATUS_COLORS["disconnected"],
        ),
        variant="soft",
        class_name="account-status",
    )


def _card_actions(account: AccountItem) -> rx.Component:
    name = account.handle
    return rx.hstack(
        rx.button(
            rx.icon("refresh-cw", size=14),
            "Reconnect",
            size="1",
            variant=rx.cond(account.status == "connected", "soft", "solid"),
            on_click=AccountsState.reconnect(account.id),
            loading=AccountsState.busy,
            aria_label="Reconnect " + name,
        ),
        rx.cond(
            account.status != "disconnected",
            rx.button(
                rx.icon("unplug", size=14),
                "Disconnect",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=AccountsState.ask_disconnect(account.id, name),
                aria_label="Disconnect " + name,
            ),
        ),
        spacing="2",
        wrap="wrap",
    )


def _account_card(account: AccountItem) -> rx.Component:
    return rx.card(
        rx.vstack(
            rx.hstack(
                _avatar(account),
                rx.vstack(
                    rx.heading(
                        rx.cond(account.display_name != "", account.display_name, account.handle),
                        size="3",
                        as_="h3",
                        trim="both",
                    ),
                    rx.text(account.handle, size="2", color=rx.color("gray", 11), word_break="break-all"),
                    spacing="1",
                    min_width="0",
                ),
                spacing="3",
                align="center",
                width="100%",
            ),
            rx.hstack(
                rx.badge(account.platform_label, variant="outline", class_name="account-platform"),
                _status_chip(account),
                spacing="2",
                wrap="wrap",
            ),
            rx.cond(
                account.last_error != "",
                rx.text(account.last_error, size="2", color=rx.color("red", 11), class_name="account-error"),
            ),
            rx.cond(
                account.expiry_hint != "",
                rx.text(
                    rx.icon("clock", size=12), " ", account.expiry_hint, size="2", color=rx.color("amber", 11)
                ),
            ),
            rx.text(
                account.scheduled_count,
                " waiting to publish · ",
                account.published_count,
                " published",
                size="1",
                color=rx.color("gray", 10),
            ),
            rx.cond(ShellState.can_write, _card_actions(account)),
            spacing="2",
            align="start",
            width="100%",
        ),
        width="100%",
        class_name="account-card",
        data_account=account.handle,
    )


# --- the connect dialog ---------------------------------------------------------------------------


def _field_error(name: str) -> rx.Component:
    return rx.cond(
        (AccountsState.error_field == name) & (AccountsState.error != ""),
        rx.text(AccountsState.error, color=rx.color("red", 11), size="2", role="alert", id=f"{name}-error"),
    )


def _input(
    label: str, name: str, value: rx.Var | None, on_change, *, hint: str = "", type_: str = "text", **props
) -> rx.Component:
    """A labelled input; `value=None` leaves it uncontrolled (a secret the state never sends back)."""
    input_id = f"connect-{name.replace('_', '-')}"
    if value is not None:
        props["value"] = value
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style=LABEL_STYLE),
        rx.input(
            id=input_id,
            on_change=on_change,
            type=type_,
            width="100%",
            aria_invalid=rx.cond(AccountsState.error_field == name, "true", "false"),
            aria_describedby=f"{name}-error",
            **props,
        ),
        _field_error(name),
        rx.text(hint, size="1", color=rx.color("gray", 10)) if hint else rx.fragment(),
        spacing="1",
        width="100%",
        align="start",
    )


def _general_error() -> rx.Component:
    """A refusal that belongs to no single field (plan limit, the platform's own message)."""
    return rx.cond(
        AccountsState.general_error != "",
        rx.callout(
            AccountsState.general_error,
            icon="triangle-alert",
            color_scheme="red",
            role="alert",
            id="connect-error",
        ),
    )


def _platform_button(choice: PlatformChoice) -> rx.Component:
    return rx.button(
        choice.label,
        variant="surface",
        size="3",
        width="100%",
        justify="start",
        on_click=AccountsState.choose(choice.platform),
        aria_label="Connect a " + choice.label + " account",
    )


def _platform_list() -> rx.Component:
    return rx.vstack(
        rx.foreach(AccountsState.platforms, _platform_button),
        rx.text(
            "More platforms appear here once their app keys are configured.",
            size="1",
            color=rx.color("gray", 10),
        ),
        spacing="2",
        width="100%",
    )


def _submit(label: str | rx.Var, button_id: str) -> rx.Component:
    return rx.hstack(
        rx.button(
            "Back",
            variant="soft",
            color_scheme="gray",
            type="button",
            on_click=AccountsState.back_to_platforms,
        ),
        rx.button(label, type="submit", loading=AccountsState.busy, id=button_id),
        justify="end",
        spacing="3",
        width="100%",
    )


def _sandbox_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.text(
                "Posts to a sandbox account appear on PostForge's own sandbox feed: try scheduling "
                "without any outside account.",
                size="2",
                color=rx.color("gray", 11),
            ),
            _input(
                "Display name",
                "name",
                AccountsState.sandbox_name,
                AccountsState.set_sandbox_name,
                max_length=80,
            ),
            _input(
                "Handle",
                "handle",
                AccountsState.sandbox_handle,
                AccountsState.set_sandbox_handle,
                hint="Letters, digits, dots, dashes or underscores, like @acme.",
                max_length=31,
            ),
            _submit("Connect sandbox account", "connect-sandbox"),
            spacing="3",
            width="100%",
        ),
        on_submit=lambda _form: AccountsState.connect_sandbox(),
        reset_on_submit=False,
        width="100%",
    )


def _bluesky_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            _input(
                "Bluesky handle",
                "identifier",
                AccountsState.bsky_identifier,
                AccountsState.set_bsky_identifier,
                hint="Like ada.bsky.social (or the account's email).",
                auto_complete="username",
            ),
            _input(
                "App password",
                "app_password",
                None,  # uncontrolled: the password stays in a backend-only var
                AccountsState.set_bsky_password,
                type_="password",
                hint="Create one in Bluesky under Settings → Privacy and security → App passwords "
                "(xxxx-xxxx-xxxx-xxxx). It is used once and never stored.",
                auto_complete="off",
            ),
            _input(
                "PDS address (optional)",
                "service_url",
                AccountsState.bsky_service_url,
                AccountsState.set_bsky_service_url,
                hint="Only for accounts hosted outside bsky.social.",
                placeholder="https://bsky.social",
            ),
            _submit("Connect Bluesky", "connect-bluesky"),
            spacing="3",
            width="100%",
        ),
        on_submit=lambda _form: AccountsState.connect_bluesky(),
        reset_on_submit=False,
        width="100%",
    )


def _oauth_form() -> rx.Component:
    return rx.form(
        rx.vstack(
            rx.cond(
                AccountsState.chosen_needs_instance,
                _input(
                    "Your Mastodon server",
                    "instance_url",
                    AccountsState.instance_url,
                    AccountsState.set_instance_url,
                    hint="Like mastodon.social, or your full handle @you@server.",
                    placeholder="mastodon.social",
                ),
            ),
            rx.text(
                "You will sign in at ",
                AccountsState.chosen_label,
                " and allow PostForge to publish; then you come back here.",
                size="2",
                color=rx.color("gray", 11),
            ),
            _submit("Continue to " + AccountsState.chosen_label, "connect-oauth"),
            spacing="3",
            width="100%",
        ),
        on_submit=lambda _form: AccountsState.start_oauth(),
        reset_on_submit=False,
        width="100%",
    )


def _connect_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(
                    AccountsState.chosen == "", "Connect account", "Connect " + AccountsState.chosen_label
                )
            ),
            rx.dialog.description(
                rx.cond(
                    AccountsState.chosen == "",
                    "Choose where PostForge should publish.",
                    "PostForge stores only encrypted access tokens.",
                ),
                size="2",
                color=rx.color("gray", 11),
            ),
            rx.vstack(
                _general_error(),
                rx.match(
                    AccountsState.chosen_kind,
                    ("builtin", _sandbox_form()),
                    ("password", _bluesky_form()),
                    ("oauth", _oauth_form()),
                    _platform_list(),
                ),
                spacing="3",
                width="100%",
                margin_top="1em",
            ),
            rx.dialog.close(
                rx.icon_button(
                    rx.icon("x", size=16),
                    variant="ghost",
                    color_scheme="gray",
                    aria_label="Close",
                    position="absolute",
                    top="0.75em",
                    right="0.75em",
                )
            ),
            max_width="32em",
            width="calc(100vw - 2em)",
        ),
        open=AccountsState.dialog_open,
        on_open_change=AccountsState.set_dialog_open,
    )


def _disconnect_confirm() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Disconnect ", AccountsState.disconnect_name, "?"),
            rx.alert_dialog.description(
                "PostForge forgets its access. Posts waiting to go out on it are marked failed so you can "
                "retry them after reconnecting; published posts stay in your history."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Keep it", variant="soft", color_scheme="gray")),
                rx.alert_dialog.action(
                    rx.button("Disconnect", color_scheme="red", on_click=AccountsState.disconnect)
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=AccountsState.disconnect_open,
        on_open_change=AccountsState.set_disconnect_open,
    )


def _notice() -> rx.Component:
    return rx.cond(
        AccountsState.notice != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.callout.text(AccountsState.notice),
            rx.icon_button(
                rx.icon("x", size=14),
                variant="ghost",
                color_scheme="red",
                size="1",
                on_click=AccountsState.dismiss_notice,
                aria_label="Dismiss",
            ),
            color_scheme="red",
            role="alert",
            id="connect-notice",
            width="100%",
        ),
    )


@template(route=routes.ACCOUNTS, title="Accounts", on_load=AccountsState.load)
def accounts_page() -> rx.Component:
    return rx.vstack(
        rx.flex(
            rx.text(
                "The social accounts this workspace publishes to.",
                rx.cond(ShellState.can_write, "", " Editors and admins connect and disconnect them."),
                color=rx.color("gray", 11),
            ),
            rx.cond(
                ShellState.can_write,
                rx.button(
                    rx.icon("plus", size=16),
                    "Connect account",
                    on_click=AccountsState.open_connect,
                    id="connect-open",
                ),
            ),
            justify="between",
            align="center",
            wrap="wrap",
            gap="3",
            width="100%",
        ),
        _notice(),
        rx.cond(
            AccountsState.accounts.length() > 0,
            rx.grid(
                rx.foreach(AccountsState.accounts, _account_card),
                columns=rx.breakpoints(initial="1", sm="2", lg="3"),
                spacing="4",
                width="100%",
                id="account-list",
            ),
            empty_state(
                "at-sign",
                "No social accounts connected",
                "Connect the built-in sandbox feed to try publishing without any outside account.",
            ),
        ),
        _connect_dialog(),
        _disconnect_confirm(),
        spacing="4",
        width="100%",
    )
