"""The admin console's pages: users, one user, workspaces, one workspace, the audit log.

Nothing shows until the server has confirmed a system admin (`ConsoleState.allowed`); anyone else
is sent to the not-found page by the page's loader. Destructive actions ask for confirmation in a
dialog, and every form shows the service's refusal without losing what was typed.
"""

import reflex as rx

from postforge import routes
from postforge.components.cards import stat_card, stat_grid
from postforge.components.layout import template
from postforge.state.admin_console import (
    ACTION_CHOICES,
    ANY,
    PAYMENT_STATUS_CHOICES,
    PUBLISHING_LISTS,
    TARGET_CHOICES,
    AccountItem,
    AdminAuditState,
    AdminPaymentsState,
    AdminPlansState,
    AdminPublishingState,
    AdminUsersState,
    AdminUserState,
    AdminWorkspacesState,
    AdminWorkspaceState,
    AuditItem,
    ConsoleState,
    DestinationItem,
    EventItem,
    IdentityItem,
    LedgerItem,
    MemberItem,
    MembershipItem,
    PaymentItem,
    PlanItem,
    PlanOption,
    ReconnectItem,
    SessionItem,
    StatusCount,
    SubscriptionItem,
    UserItem,
    WorkspaceItem,
)

CONSOLE_LINKS = [
    ("Overview", routes.ADMIN),
    ("Users", routes.ADMIN_USERS),
    ("Workspaces", routes.ADMIN_WORKSPACES),
    ("Publishing", routes.ADMIN_PUBLISHING),
    ("Payments", routes.ADMIN_PAYMENTS),
    ("Plans", routes.ADMIN_PLANS),
    ("Audit log", routes.ADMIN_AUDIT),
]
MUTED = rx.color("gray", 11)


def console_nav() -> rx.Component:
    return rx.el.nav(
        rx.hstack(
            *[rx.link(label, href=href, weight="medium") for label, href in CONSOLE_LINKS],
            rx.link("Dev outbox", href=routes.OUTBOX, weight="medium"),
            spacing="5",
            wrap="wrap",
        ),
        aria_label="Admin console",
        width="100%",
    )


def _guarded(state: type[ConsoleState], *children: rx.Component) -> rx.Component:
    return rx.cond(
        state.allowed,
        rx.vstack(console_nav(), *children, spacing="4", width="100%"),
        rx.center(rx.spinner(size="3"), padding="4em", width="100%"),
    )


def _table(headers: list[str], body: rx.Component, **props) -> rx.Component:
    return rx.table.root(
        rx.table.header(rx.table.row(*[rx.table.column_header_cell(h) for h in headers])),
        rx.table.body(body),
        width="100%",
        variant="surface",
        **props,
    )


def _error(state: type[ConsoleState]) -> rx.Component:
    return rx.cond(
        state.error != "",
        rx.callout(
            state.error, icon="triangle-alert", color_scheme="red", role="alert", class_name="console-error"
        ),
    )


def _pager(state, on_previous, on_next, label=None, has_next=None) -> rx.Component:
    return rx.hstack(
        rx.text(label if label is not None else state.page_label, size="2", color=MUTED),
        rx.button("Previous", size="1", variant="soft", disabled=~state.has_previous, on_click=on_previous),
        rx.button(
            "Next",
            size="1",
            variant="soft",
            disabled=~(has_next if has_next is not None else state.has_next),
            on_click=on_next,
        ),
        align="center",
        spacing="3",
    )


def _search_form(state, placeholder: str, form_id: str) -> rx.Component:
    return rx.form(
        rx.hstack(
            rx.input(
                name="query",
                default_value=state.query,
                placeholder=placeholder,
                aria_label=placeholder,
                max_length=320,
                width="100%",
                id=f"{form_id}-query",
            ),
            rx.button("Search", type="submit"),
            width="100%",
        ),
        on_submit=state.search,
        reset_on_submit=False,
        width="100%",
        id=form_id,
    )


def _confirm(
    state: type[ConsoleState],
    name: str,
    title: str,
    description: str,
    fields: list[rx.Component],
    confirm_label: str,
    on_submit,
    color: str = "red",
) -> rx.Component:
    """A confirmation dialog around a form: the action runs only from its confirm button."""
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(title),
            rx.dialog.description(description, size="2"),
            rx.form(
                rx.vstack(
                    *fields,
                    _error(state),
                    rx.hstack(
                        rx.dialog.close(
                            rx.button("Cancel", type="button", variant="soft", color_scheme="gray")
                        ),
                        rx.button(confirm_label, type="submit", color_scheme=color, id=f"confirm-{name}"),
                        justify="end",
                        spacing="3",
                        width="100%",
                    ),
                    spacing="3",
                    margin_top="1em",
                ),
                on_submit=on_submit,
                reset_on_submit=False,
            ),
            max_width="30em",
        ),
        open=state.dialog == name,
        on_open_change=state.set_dialog_open,
    )


def _labelled(label: str, name: str, **props) -> rx.Component:
    input_id = props.pop("id", f"field-{name}")
    return rx.vstack(
        rx.el.label(label, html_for=input_id, style={"font_weight": "500", "font_size": "14px"}),
        rx.input(id=input_id, name=name, width="100%", **props),
        spacing="1",
        width="100%",
    )


# --- users ---------------------------------------------------------------------------------------


def _user_row(item: UserItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.email, href=item.link)),
        rx.table.cell(item.name),
        rx.table.cell(
            rx.hstack(
                rx.cond(item.suspended, rx.badge("suspended", color_scheme="red")),
                rx.cond(item.is_admin, rx.badge("system admin", color_scheme="violet")),
                rx.cond(item.verified, rx.fragment(), rx.badge("unverified", color_scheme="gray")),
                spacing="1",
            )
        ),
        rx.table.cell(item.created),
        rx.table.cell(item.last_activity),
    )


@template(route=routes.ADMIN_USERS, title="Admin · Users", on_load=AdminUsersState.load)
def admin_users_page() -> rx.Component:
    state = AdminUsersState
    return _guarded(
        state,
        _search_form(state, "Email, name or user id", "user-search"),
        _error(state),
        _table(
            ["Email", "Name", "", "Signed up", "Last active"],
            rx.foreach(state.rows, _user_row),
            id="user-results",
        ),
        _pager(state, state.previous_page, state.next_page),
    )


def _membership_row(item: MembershipItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.workspace_name, href=item.link)),
        rx.table.cell(item.role),
        rx.table.cell(rx.cond(item.personal, "personal", "team")),
    )


def _identity_row(item: IdentityItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.provider),
        rx.table.cell(item.issuer),
        rx.table.cell(item.email),
        rx.table.cell(item.since),
    )


def _session_row(item: SessionItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.device), rx.table.cell(item.ip_address), rx.table.cell(item.last_seen)
    )


def _fact(label: str, value) -> rx.Component:
    return rx.hstack(rx.text(label, weight="medium", min_width="9em"), rx.text(value), spacing="3")


def _user_actions() -> rx.Component:
    state = AdminUserState
    reason = _labelled("Reason (kept in the audit log)", "reason", max_length=500, id="user-action-reason")
    return rx.vstack(
        rx.hstack(
            rx.cond(
                state.suspended,
                rx.button(
                    "Restore…", color_scheme="green", on_click=state.open_dialog("restore"), id="open-restore"
                ),
                rx.button(
                    "Suspend…", color_scheme="red", on_click=state.open_dialog("suspend"), id="open-suspend"
                ),
            ),
            rx.button(
                "Sign out everywhere…",
                variant="soft",
                on_click=state.open_dialog("sign_out"),
                id="open-sign-out",
            ),
            rx.button(
                "Send password reset", variant="soft", on_click=state.send_password_reset, id="send-reset"
            ),
            rx.button(
                "Delete…",
                variant="soft",
                color_scheme="red",
                on_click=state.open_dialog("delete"),
                id="open-delete",
            ),
            wrap="wrap",
            spacing="3",
        ),
        _confirm(
            state,
            "suspend",
            "Suspend this account?",
            "Its sessions end at once (open tabs are signed out) and it cannot sign in until restored.",
            [reason],
            "Suspend",
            state.suspend,
        ),
        _confirm(
            state,
            "restore",
            "Restore this account?",
            "The account can sign in again; its old sessions stay ended.",
            [reason],
            "Restore",
            state.restore,
            color="green",
        ),
        _confirm(
            state,
            "sign_out",
            "Sign this account out everywhere?",
            "Every browser signed in to the account is signed out; the account can sign in again.",
            [],
            "Sign out everywhere",
            lambda _form: state.sign_out_everywhere(),
        ),
        _confirm(
            state,
            "delete",
            "Delete this account for good?",
            "The account, its personal workspace and everything in it go; team workspaces keep going "
            "(a team left without an admin gets its longest-standing member as admin). Type the account's "
            "email address to confirm.",
            [
                _labelled(
                    "Email address",
                    "confirm_email",
                    type="email",
                    auto_complete="off",
                    id="delete-confirm-email",
                )
            ],
            "Delete the account",
            state.delete,
        ),
        spacing="3",
        width="100%",
    )


@template(route=routes.ADMIN_USER, title="Admin · User", on_load=AdminUserState.load)
def admin_user_page() -> rx.Component:
    state = AdminUserState
    return _guarded(
        state,
        _error(state),
        rx.cond(
            state.user_id_shown > 0,
            rx.vstack(
                rx.hstack(
                    rx.heading(state.email, size="5", as_="h2", id="user-email"),
                    rx.cond(state.suspended, rx.badge("suspended", color_scheme="red", id="user-suspended")),
                    rx.cond(state.is_admin, rx.badge("system admin", color_scheme="violet")),
                    align="center",
                    spacing="3",
                ),
                _fact("Name", state.name),
                _fact("Email verified", state.verified),
                _fact("Signed up", state.created),
                _fact("Last active", state.last_activity),
                rx.cond(state.suspended, _fact("Suspended since", state.suspended_since)),
                _fact(
                    "Signs in with",
                    rx.cond(state.sign_in_methods.length() > 0, state.sign_in_methods.join(", "), "—"),
                ),
                _user_actions(),
                rx.heading("Workspaces", size="4", as_="h3"),
                _table(["Workspace", "Role", "Kind"], rx.foreach(state.memberships, _membership_row)),
                rx.heading("Sign-in identities", size="4", as_="h3"),
                rx.cond(
                    state.identities.length() > 0,
                    _table(
                        ["Provider", "Issuer", "Email", "Since"], rx.foreach(state.identities, _identity_row)
                    ),
                    rx.text("None: the account signs in with its password only.", size="2", color=MUTED),
                ),
                rx.heading("Open sessions", size="4", as_="h3"),
                rx.cond(
                    state.sessions.length() > 0,
                    _table(
                        ["Browser", "Address", "Last seen"],
                        rx.foreach(state.sessions, _session_row),
                        id="user-sessions",
                    ),
                    rx.text("No open session.", size="2", color=MUTED, id="no-sessions"),
                ),
                rx.link(
                    "What admins did to this account",
                    href=f"{routes.ADMIN_AUDIT}?target_type=user&target_id="
                    + state.user_id_shown.to_string(),
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )


# --- workspaces ----------------------------------------------------------------------------------


def _workspace_row(item: WorkspaceItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.name, href=item.link)),
        rx.table.cell(item.slug),
        rx.table.cell(rx.cond(item.personal, "personal", "team")),
        rx.table.cell(item.members),
        rx.table.cell(item.credits),
        rx.table.cell(item.created),
    )


@template(route=routes.ADMIN_WORKSPACES, title="Admin · Workspaces", on_load=AdminWorkspacesState.load)
def admin_workspaces_page() -> rx.Component:
    state = AdminWorkspacesState
    return _guarded(
        state,
        _search_form(state, "Workspace name, slug or id", "workspace-search"),
        _error(state),
        _table(
            ["Workspace", "Slug", "Kind", "Members", "Credits", "Created"],
            rx.foreach(state.rows, _workspace_row),
            id="workspace-results",
        ),
        _pager(state, state.previous_page, state.next_page),
    )


def _member_row(item: MemberItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.email, href=item.link)),
        rx.table.cell(item.name),
        rx.table.cell(item.role),
        rx.table.cell(rx.cond(item.suspended, rx.badge("suspended", color_scheme="red"))),
    )


def _account_row(item: AccountItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.platform),
        rx.table.cell(item.name),
        rx.table.cell(
            rx.cond(
                item.status == "connected",
                rx.badge(item.status, color_scheme="green"),
                rx.badge(item.status, color_scheme="orange"),
            )
        ),
        rx.table.cell(item.last_error),
    )


def _status_row(item: StatusCount) -> rx.Component:
    return rx.table.row(rx.table.cell(item.status), rx.table.cell(item.count))


def _ledger_row(item: LedgerItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.when),
        rx.table.cell(item.type),
        rx.table.cell(item.amount),
        rx.table.cell(item.balance_after),
        rx.table.cell(item.description),
    )


def _plan_option(option: PlanOption) -> rx.Component:
    return rx.select.item(option.name, value=option.code)


def _workspace_actions() -> rx.Component:
    state = AdminWorkspaceState
    return rx.vstack(
        rx.hstack(
            rx.button("Adjust credits…", on_click=state.open_dialog("adjust"), id="open-adjust"),
            rx.button("Change plan…", variant="soft", on_click=state.open_dialog("plan"), id="open-plan"),
            spacing="3",
        ),
        _confirm(
            state,
            "adjust",
            "Adjust this workspace's credits",
            "Add credits with a positive number, remove them with a negative one (the balance cannot go "
            "below zero). The change is an adjustment row in the workspace's ledger and in the audit log.",
            [
                _labelled("Credits (+ or -)", "amount", placeholder="10 or -5", id="adjust-amount"),
                _labelled(
                    "Reason",
                    "reason",
                    placeholder="Why the balance changes",
                    max_length=300,
                    id="adjust-reason",
                ),
            ],
            "Adjust credits",
            state.adjust,
            color="violet",
        ),
        _confirm(
            state,
            "plan",
            "Change this workspace's plan",
            "The plan is given free of charge until changed again here (Free ends it). A workspace paying "
            "through Stripe changes plan in the Stripe dashboard instead.",
            [
                rx.select.root(
                    rx.select.trigger(placeholder="Choose a plan", aria_label="Plan", id="plan-choice"),
                    rx.select.content(rx.foreach(state.plans, _plan_option)),
                    name="plan",
                ),
                _labelled("Reason (kept in the audit log)", "reason", max_length=300, id="plan-reason"),
            ],
            "Change plan",
            state.change_plan,
            color="violet",
        ),
        spacing="3",
        width="100%",
    )


@template(route=routes.ADMIN_WORKSPACE, title="Admin · Workspace", on_load=AdminWorkspaceState.load)
def admin_workspace_page() -> rx.Component:
    state = AdminWorkspaceState
    return _guarded(
        state,
        _error(state),
        rx.cond(
            state.workspace_id_shown > 0,
            rx.vstack(
                rx.hstack(
                    rx.heading(state.name, size="5", as_="h2", id="console-workspace-name"),
                    rx.badge(rx.cond(state.personal, "personal", "team")),
                    align="center",
                    spacing="3",
                ),
                stat_grid(
                    stat_card("Credits", state.credits, "coins"),
                    stat_card("Plan", state.plan_name, "badge-check"),
                    stat_card("Storage used", state.storage, "hard-drive"),
                ),
                rx.text(
                    "Plan status: ",
                    state.plan_status,
                    " · slug ",
                    state.slug,
                    " · created ",
                    state.created,
                    color=MUTED,
                    size="2",
                ),
                rx.cond(
                    state.ledger_ok,
                    rx.fragment(),
                    rx.callout(
                        "The balance differs from the sum of the ledger: investigate before adjusting.",
                        icon="triangle-alert",
                        color_scheme="red",
                    ),
                ),
                _workspace_actions(),
                rx.heading("Members", size="4", as_="h3"),
                _table(["Email", "Name", "Role", ""], rx.foreach(state.members, _member_row)),
                rx.heading("Connected accounts", size="4", as_="h3"),
                rx.cond(
                    state.accounts.length() > 0,
                    _table(
                        ["Platform", "Account", "State", "Last error"],
                        rx.foreach(state.accounts, _account_row),
                    ),
                    rx.text("No connected account.", size="2", color=MUTED),
                ),
                rx.heading("Posts by status", size="4", as_="h3"),
                rx.cond(
                    state.posts_by_status.length() > 0,
                    _table(["Status", "Posts"], rx.foreach(state.posts_by_status, _status_row)),
                    rx.text("No post yet.", size="2", color=MUTED),
                ),
                rx.heading("Credit ledger", size="4", as_="h3"),
                _table(
                    ["When", "Type", "Amount", "Balance after", "Description"],
                    rx.foreach(state.ledger, _ledger_row),
                    id="workspace-ledger",
                ),
                _pager(
                    state,
                    state.previous_ledger_page,
                    state.next_ledger_page,
                    label=state.ledger_label,
                    has_next=state.ledger_has_next,
                ),
                rx.link(
                    "What admins did to this workspace",
                    href=f"{routes.ADMIN_AUDIT}?target_type=workspace&target_id="
                    + state.workspace_id_shown.to_string(),
                ),
                spacing="3",
                width="100%",
            ),
        ),
    )


# --- publishing ----------------------------------------------------------------------------------


def _destination_row(item: DestinationItem) -> rx.Component:
    state = AdminPublishingState
    return rx.table.row(
        rx.table.cell(rx.link(item.workspace_name, href=item.workspace_link)),
        rx.table.cell(item.account),
        rx.table.cell(rx.text(item.content, size="2", max_width="22em")),
        rx.table.cell(rx.text(item.message, size="2", color=rx.color("red", 11), max_width="22em")),
        rx.table.cell(item.attempts),
        rx.table.cell(item.due),
        rx.table.cell(
            rx.match(
                item.status,
                ("failed", rx.button("Retry", size="1", on_click=state.retry(item.id))),
                (
                    "needs_review",
                    rx.hstack(
                        rx.button(
                            "It was published…",
                            size="1",
                            variant="soft",
                            on_click=state.ask_review(item.id, True),
                        ),
                        rx.button(
                            "Post it again…",
                            size="1",
                            variant="soft",
                            on_click=state.ask_review(item.id, False),
                        ),
                        spacing="2",
                    ),
                ),
                rx.fragment(),
            )
        ),
        class_name="destination-row",
    )


def _reconnect_row(item: ReconnectItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.workspace_name, href=item.workspace_link)),
        rx.table.cell(item.account),
        rx.table.cell(item.last_error),
        rx.table.cell(item.since),
    )


@template(route=routes.ADMIN_PUBLISHING, title="Admin · Publishing", on_load=AdminPublishingState.load)
def admin_publishing_page() -> rx.Component:
    state = AdminPublishingState
    return _guarded(
        state,
        rx.hstack(
            *[
                rx.button(
                    label,
                    variant=rx.cond(state.which == key, "solid", "soft"),
                    on_click=state.show(key),
                    id=f"list-{key}",
                )
                for key, label in PUBLISHING_LISTS
            ],
            spacing="3",
        ),
        _error(state),
        rx.cond(
            state.rows.length() > 0,
            _table(
                ["Workspace", "Account", "Post", "Message", "Tries", "Due", ""],
                rx.foreach(state.rows, _destination_row),
                id="destinations",
            ),
            rx.text("Nothing here.", size="2", color=MUTED, id="no-destinations"),
        ),
        _pager(state, state.previous_page, state.next_page),
        _confirm(
            state,
            "review",
            rx.cond(state.chosen_published, "Mark this publish as published?", "Post it again?"),
            rx.cond(
                state.chosen_published,
                "Only if you found the post on the platform: it counts as published from now on.",
                "Only if you checked that the post is not on the platform: it goes out again within a minute "
                "(platforms that deduplicate return the first post if it did land).",
            ),
            [],
            "Confirm",
            state.answer_review,
            color="violet",
        ),
        rx.heading("Accounts needing reconnect", size="4", as_="h3"),
        rx.cond(
            state.accounts.length() > 0,
            _table(
                ["Workspace", "Account", "Last error", "Since"], rx.foreach(state.accounts, _reconnect_row)
            ),
            rx.text("Every account is connected.", size="2", color=MUTED),
        ),
        rx.text(
            "Platforms rate-limiting lately and the overall backlog are on the overview.",
            size="2",
            color=MUTED,
        ),
    )


# --- payments ------------------------------------------------------------------------------------


def _stripe_link(url) -> rx.Component:
    return rx.cond(
        url != "",
        rx.link("Stripe", href=url, is_external=True),
        rx.text("sandbox", size="1", color=MUTED),
    )


def _payment_row(item: PaymentItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.when),
        rx.table.cell(rx.link(item.workspace_name, href=item.workspace_link)),
        rx.table.cell(item.plan_name),
        rx.table.cell(item.amount),
        rx.table.cell(item.status),
        rx.table.cell(item.refunded),
        rx.table.cell(item.credits),
        rx.table.cell(item.credits_taken_back),
        rx.table.cell(rx.cond(item.credits_owed > 0, rx.badge(item.credits_owed, color_scheme="red"), "0")),
        rx.table.cell(_stripe_link(item.stripe_url)),
    )


def _subscription_row(item: SubscriptionItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(rx.link(item.workspace_name, href=item.workspace_link)),
        rx.table.cell(item.plan_name),
        rx.table.cell(item.status, rx.cond(item.cancels, " (cancels at period end)", "")),
        rx.table.cell(item.period_end),
        rx.table.cell(item.source),
        rx.table.cell(_stripe_link(item.stripe_url)),
    )


def _event_row(item: EventItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.kind),
        rx.table.cell(item.type),
        rx.table.cell(item.id),
        rx.table.cell(item.received),
        rx.table.cell(item.attempts),
        rx.table.cell(rx.text(item.error, size="2", color=rx.color("red", 11))),
        rx.table.cell(
            rx.button(
                "Process again", size="1", on_click=AdminPaymentsState.process_again(item.kind, item.id)
            )
        ),
    )


@template(route=routes.ADMIN_PAYMENTS, title="Admin · Payments", on_load=AdminPaymentsState.load)
def admin_payments_page() -> rx.Component:
    state = AdminPaymentsState
    return _guarded(
        state,
        rx.heading("Payments and refunds", size="4", as_="h3"),
        rx.form(
            rx.hstack(
                _choice_select("status", PAYMENT_STATUS_CHOICES, "Payment status"),
                rx.el.label(
                    rx.checkbox(name="owed_only"),
                    " Only credits owed after refunds",
                    style={"display": "flex", "gap": "0.5em"},
                ),
                rx.button("Filter", type="submit"),
                spacing="3",
                align="center",
                wrap="wrap",
            ),
            on_submit=state.filter,
            reset_on_submit=False,
            id="payment-filters",
        ),
        _error(state),
        _table(
            [
                "When",
                "Workspace",
                "Plan",
                "Amount",
                "Status",
                "Refunded",
                "Credits",
                "Taken back",
                "Owed",
                "",
            ],
            rx.foreach(state.rows, _payment_row),
            id="payments",
        ),
        _pager(state, state.previous_page, state.next_page),
        rx.heading("Subscriptions", size="4", as_="h3"),
        rx.cond(
            state.subscriptions.length() > 0,
            _table(
                ["Workspace", "Plan", "Status", "Period ends", "Source", ""],
                rx.foreach(state.subscriptions, _subscription_row),
            ),
            rx.text("No subscription yet.", size="2", color=MUTED),
        ),
        rx.heading("Webhook events waiting", size="4", as_="h3"),
        rx.cond(
            state.events.length() > 0,
            _table(
                ["From", "Type", "Event id", "Received", "Failed tries", "Last error", ""],
                rx.foreach(state.events, _event_row),
                id="stuck-events",
            ),
            rx.text("Every Stripe and identity event has been processed.", size="2", color=MUTED),
        ),
    )


# --- plans and packs -----------------------------------------------------------------------------


def _plan_row(item: PlanItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.name, rx.text(item.code, size="1", color=MUTED)),
        rx.table.cell(item.kind),
        rx.table.cell(item.price_label),
        rx.table.cell(item.credits),
        rx.table.cell(item.max_accounts),
        rx.table.cell(item.storage_mb),
        rx.table.cell(item.seats),
        rx.table.cell(item.stripe_price_id),
        rx.table.cell(
            rx.cond(item.is_active, rx.badge("offered", color_scheme="green"), rx.badge("off sale"))
        ),
        rx.table.cell(
            rx.button(
                "Edit…",
                size="1",
                variant="soft",
                on_click=AdminPlansState.edit(item.code),
                id="edit-" + item.code,
            )
        ),
    )


def _plan_form() -> rx.Component:
    state = AdminPlansState
    editing = state.editing
    return _confirm(
        state,
        "plan",
        "Edit the plan",
        "The billing pages show the change at once. Credits are per pack, or each month for a tier; a blank "
        "limit means no limit.",
        [
            rx.fragment(
                _labelled("Name", "name", default_value=editing.name, max_length=120, id="plan-name"),
                _labelled(
                    "Price (in the plan's currency)", "price", default_value=editing.price, id="plan-price"
                ),
                _labelled("Credits", "credits", default_value=editing.credits.to_string(), id="plan-credits"),
                _labelled(
                    "Stripe price id (blank: an inline price)",
                    "stripe_price_id",
                    default_value=editing.stripe_price_id,
                    id="plan-stripe-price",
                ),
                _labelled(
                    "Connected accounts",
                    "max_accounts",
                    default_value=editing.max_accounts,
                    id="plan-accounts",
                ),
                _labelled(
                    "Storage quota (MB)", "storage_mb", default_value=editing.storage_mb, id="plan-storage"
                ),
                _labelled("Seats", "seats", default_value=editing.seats, id="plan-seats"),
                rx.el.label(
                    rx.checkbox(name="is_active", default_checked=editing.is_active),
                    " Offered to customers",
                    style={"display": "flex", "gap": "0.5em"},
                ),
                key=editing.code,
            )
        ],
        "Save the plan",
        state.save,
        color="violet",
    )


@template(route=routes.ADMIN_PLANS, title="Admin · Plans", on_load=AdminPlansState.load)
def admin_plans_page() -> rx.Component:
    state = AdminPlansState
    return _guarded(
        state,
        rx.text(
            "Credit packs and subscription tiers as the billing pages offer them. A plan's code and kind stay "
            "as they are: payments and subscriptions refer to them.",
            size="2",
            color=MUTED,
        ),
        _error(state),
        _table(
            ["Plan", "Kind", "Price", "Credits", "Accounts", "Storage MB", "Seats", "Stripe price", "", ""],
            rx.foreach(state.rows, _plan_row),
            id="plans",
        ),
        rx.cond(state.editing, _plan_form()),
    )


# --- audit log -----------------------------------------------------------------------------------


def _audit_row(item: AuditItem) -> rx.Component:
    return rx.table.row(
        rx.table.cell(item.when),
        rx.table.cell(item.actor),
        rx.table.cell(item.action),
        rx.table.cell(rx.link(item.target, href=item.target_link)),
        rx.table.cell(item.change),
        rx.table.cell(item.reason),
        rx.table.cell(item.ip_address),
        class_name="audit-row",
    )


def _choice_select(name: str, choices, label: str) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(aria_label=label),
        rx.select.content(*[rx.select.item(text, value=value) for value, text in choices]),
        name=name,
        default_value=ANY,
    )


@template(route=routes.ADMIN_AUDIT, title="Admin · Audit log", on_load=AdminAuditState.load)
def admin_audit_page() -> rx.Component:
    state = AdminAuditState
    return _guarded(
        state,
        rx.form(
            rx.hstack(
                _choice_select("action", ACTION_CHOICES, "Action"),
                rx.input(
                    name="actor", placeholder="Admin's email", aria_label="Admin's email", max_length=320
                ),
                _choice_select("target_type", TARGET_CHOICES, "Target"),
                rx.input(name="target_id", placeholder="Target id", aria_label="Target id", max_length=11),
                rx.button("Filter", type="submit"),
                wrap="wrap",
                spacing="3",
                align="center",
            ),
            on_submit=state.filter,
            reset_on_submit=False,
            id="audit-filters",
        ),
        _error(state),
        _table(
            ["When", "Admin", "Action", "Target", "Change", "Reason", "Address"],
            rx.foreach(state.entries, _audit_row),
            id="audit-entries",
        ),
        _pager(state, state.previous_page, state.next_page),
    )
