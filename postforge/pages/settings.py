"""Settings: profile, password, sessions; members, invitations and new team workspaces."""

import reflex as rx

from postforge import routes
from postforge.components.forms import field
from postforge.components.layout import template
from postforge.state.settings import (
    ROLE_CHOICES,
    ConsoleActionItem,
    InviteItem,
    MemberItem,
    SessionItem,
    SettingsState,
)
from postforge.state.shell import ShellState


def _section(title: str, *children: rx.Component) -> rx.Component:
    return rx.card(
        rx.vstack(rx.heading(title, size="4", as_="h2"), *children, spacing="3", width="100%"), width="100%"
    )


def _timezone_match(zone: str) -> rx.Component:
    return rx.button(
        zone, variant="ghost", size="1", on_click=SettingsState.pick_timezone(zone), type="button"
    )


def _profile() -> rx.Component:
    return _section(
        "Profile",
        field(
            "Name", "name", value=SettingsState.name, on_change=SettingsState.set_name, autocomplete="name"
        ),
        rx.vstack(
            rx.el.label(
                "Time zone", html_for="timezone-search", style={"font_weight": "500", "font_size": "14px"}
            ),
            rx.text("Current: ", rx.text.strong(SettingsState.timezone, id="current-timezone"), size="2"),
            rx.input(
                id="timezone-search",
                placeholder="Search a city or region, e.g. Berlin",
                value=SettingsState.timezone_query,
                on_change=SettingsState.search_timezones.debounce(250),
                width="100%",
            ),
            rx.flex(rx.foreach(SettingsState.timezone_matches, _timezone_match), wrap="wrap", gap="1"),
            spacing="1",
            width="100%",
        ),
        rx.button("Save profile", on_click=SettingsState.save_profile),
    )


def _password() -> rx.Component:
    return _section(
        "Password",
        rx.form(
            rx.vstack(
                field(
                    "Current password", "current_password", type_="password", autocomplete="current-password"
                ),
                field(
                    "New password",
                    "new_password",
                    type_="password",
                    autocomplete="new-password",
                    hint="Changing it signs out every other browser.",
                ),
                rx.button("Change password", type="submit"),
                spacing="3",
                width="100%",
            ),
            on_submit=SettingsState.change_password,
            reset_on_submit=False,
            width="100%",
        ),
    )


def _session_row(item: SessionItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.device, max_width="24em", overflow="hidden", text_overflow="ellipsis"),
        rx.table.cell(item.ip_address),
        rx.table.cell(item.last_seen),
        rx.table.cell(
            rx.cond(
                item.current,
                rx.badge("this browser"),
                rx.button("Sign out", size="1", variant="soft", on_click=SettingsState.revoke(item.id)),
            )
        ),
    )


def _sessions() -> rx.Component:
    return _section(
        "Where you are signed in",
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[rx.table.column_header_cell(h) for h in ("Browser", "Address", "Last seen", "")]
                )
            ),
            rx.table.body(rx.foreach(SettingsState.sessions, _session_row)),
            width="100%",
        ),
        rx.button(
            "Sign out everywhere",
            color_scheme="red",
            variant="soft",
            on_click=SettingsState.sign_out_everywhere,
        ),
    )


def _member_row(member: MemberItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(member.name),
        rx.table.cell(member.email),
        rx.table.cell(
            rx.select(
                ROLE_CHOICES,
                value=member.role,
                on_change=lambda role: SettingsState.change_role(member.user_id, role),
                size="1",
                aria_label="Role",
            )
        ),
        rx.table.cell(
            rx.button(
                "Remove",
                size="1",
                variant="soft",
                color_scheme="red",
                on_click=SettingsState.remove_member(member.user_id),
            )
        ),
    )


def _invite_row(invite: InviteItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(invite.email),
        rx.table.cell(invite.role),
        rx.table.cell(invite.expires),
        rx.table.cell(
            rx.button("Withdraw", size="1", variant="soft", on_click=SettingsState.revoke_invite(invite.id))
        ),
    )


def _members() -> rx.Component:
    return _section(
        "Members of this workspace",
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) for h in ("Name", "Email", "Role", "")])
            ),
            rx.table.body(rx.foreach(SettingsState.members, _member_row)),
            width="100%",
        ),
        rx.heading("Invite someone", size="3", as_="h3"),
        rx.hstack(
            rx.box(
                field(
                    "Email to invite",
                    "invite_email",
                    type_="email",
                    value=SettingsState.invite_email,
                    on_change=SettingsState.set_invite_email,
                    required=False,
                ),
                flex="1",
            ),
            rx.select(
                ROLE_CHOICES,
                value=SettingsState.invite_role,
                on_change=SettingsState.set_invite_role,
                aria_label="Role for the invitation",
            ),
            rx.button("Send invitation", on_click=SettingsState.invite, id="send-invite"),
            align="end",
            width="100%",
            wrap="wrap",
        ),
        rx.cond(
            SettingsState.invites.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[rx.table.column_header_cell(h) for h in ("Pending for", "Role", "Expires", "")]
                    )
                ),
                rx.table.body(rx.foreach(SettingsState.invites, _invite_row)),
                width="100%",
                id="pending-invites",
            ),
            rx.text("No pending invitations.", size="2", color=rx.color("gray", 10)),
        ),
    )


def _console_action_row(item: ConsoleActionItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.when),
        rx.table.cell(item.action),
        rx.table.cell(item.target),
        rx.table.cell(item.change),
        rx.table.cell(item.reason),
    )


def _console_actions() -> rx.Component:
    return _section(
        "Changes made by PostForge support",
        rx.text(
            "What PostForge's administrators did to this workspace or to its members' accounts.",
            size="2",
            color=rx.color("gray", 11),
        ),
        rx.cond(
            SettingsState.console_actions.length() > 0,
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        *[
                            rx.table.column_header_cell(h)
                            for h in ("When", "What", "Whose", "Change", "Reason")
                        ]
                    )
                ),
                rx.table.body(rx.foreach(SettingsState.console_actions, _console_action_row)),
                width="100%",
                id="console-actions",
            ),
            rx.text("None so far.", size="2", color=rx.color("gray", 10)),
        ),
    )


def _new_team() -> rx.Component:
    return _section(
        "New team workspace",
        rx.text(
            "A shared workspace with its own posts, accounts and credits. You become its admin.", size="2"
        ),
        rx.hstack(
            rx.box(
                field(
                    "Workspace name",
                    "team_name",
                    value=SettingsState.team_name,
                    on_change=SettingsState.set_team_name,
                    required=False,
                ),
                flex="1",
            ),
            rx.button("Create workspace", on_click=SettingsState.create_team),
            align="end",
            width="100%",
        ),
    )


@template(route=routes.SETTINGS, title="Settings", on_load=SettingsState.load)
def settings_page() -> rx.Component:
    return rx.vstack(
        _profile(),
        _password(),
        _sessions(),
        rx.cond(ShellState.is_workspace_admin, _members()),
        rx.cond(ShellState.is_workspace_admin, _console_actions()),
        _new_team(),
        spacing="4",
        width="100%",
        max_width="56em",
    )
