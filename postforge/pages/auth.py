"""Sign in, register, confirm an email, forgot and reset password, accept an invite, finish an OIDC sign-in."""

import reflex as rx

from postforge import routes
from postforge.components.forms import auth_card, field, form_error
from postforge.services.identity.oidc import configured_providers
from postforge.services.infra import mail
from postforge.settings import get_settings
from postforge.state.auth_forms import (
    AcceptInviteState,
    AuthCompleteState,
    ForgotPasswordState,
    RegisterState,
    ResetPasswordState,
    SignInState,
    VerifyEmailState,
)


def _submit(label: str, busy: rx.Var) -> rx.Component:
    return rx.button(label, type="submit", size="3", width="100%", loading=busy)


def _provider_buttons() -> rx.Component:
    providers = configured_providers()
    if not providers:
        return rx.fragment()
    # The start route lives on the backend, which in dev mode is another port than the pages.
    backend = (get_settings().api_url or get_settings().app_url).rstrip("/")
    return rx.vstack(
        rx.text("or", size="2", color=rx.color("gray", 10), align="center", width="100%"),
        *[
            rx.link(
                rx.button(f"Continue with {provider.label}", variant="outline", size="3", width="100%"),
                href=f"{backend}/api/auth/oidc/{provider.name}/start?next=" + SignInState.next_path,
                # A real page load: on one port (production, `postforge run`) the client-side router
                # would otherwise treat /api/... as one of its pages and show its own 404.
                reload_document=True,
                width="100%",
            )
            for provider in providers
        ],
        width="100%",
        spacing="2",
    )


@rx.page(route=routes.SIGN_IN, title="Sign in · PostForge", on_load=SignInState.load)
def sign_in() -> rx.Component:
    return auth_card(
        "Sign in",
        form_error(SignInState.error),
        rx.form(
            rx.vstack(
                field("Email", "email", type_="email", value=SignInState.email, autocomplete="username"),
                field("Password", "password", type_="password", autocomplete="current-password"),
                _submit("Sign in", SignInState.busy),
                spacing="3",
                width="100%",
            ),
            on_submit=SignInState.submit,
            width="100%",
        ),
        rx.link("Forgot your password?", href=routes.FORGOT_PASSWORD, size="2"),
        _provider_buttons(),
        footer=rx.text("New here? ", rx.link("Create an account", href=routes.REGISTER), size="2"),
    )


@rx.page(
    route=routes.REGISTER,
    title="Create an account · PostForge",
    on_load=[RegisterState.redirect_if_signed_in, RegisterState.start_over, RegisterState.detect_timezone],
)
def register() -> rx.Component:
    return auth_card(
        "Create your account",
        rx.cond(RegisterState.sent_to != "", _check_your_inbox(), _registration_form()),
        footer=rx.text("Already have an account? ", rx.link("Sign in", href=routes.SIGN_IN), size="2"),
    )


def _check_your_inbox() -> rx.Component:
    return rx.vstack(
        rx.callout(RegisterState.notice, icon="mail", color_scheme="green", id="form-notice"),
        rx.text(
            "The link works once, for 24 hours. No mail? Look in your spam folder, or sign in and "
            "ask for a new link.",
            size="2",
            color=rx.color("gray", 11),
        ),
        # Without a mail server (a laptop, a demo) the mail is on the dev outbox page.
        rx.link("No mail server here: open the dev outbox", href=routes.OUTBOX, size="2")
        if mail.outbox_is_readable()
        else rx.fragment(),
        rx.button("Use another address", variant="soft", on_click=RegisterState.start_over),
        spacing="3",
        width="100%",
    )


def _registration_form() -> rx.Component:
    return rx.vstack(
        rx.text("You start with 10 free credits.", color=rx.color("gray", 11)),
        form_error(RegisterState.error),
        rx.form(
            rx.vstack(
                field("Name", "name", value=RegisterState.name, autocomplete="name"),
                field("Email", "email", type_="email", value=RegisterState.email, autocomplete="email"),
                field(
                    "Password",
                    "password",
                    type_="password",
                    autocomplete="new-password",
                    hint="At least 10 characters; not a common password.",
                ),
                rx.el.input(
                    type="hidden", name="timezone", id="field-timezone", value=RegisterState.timezone
                ),
                _submit("Create account", RegisterState.busy),
                spacing="3",
                width="100%",
            ),
            on_submit=RegisterState.submit,
            width="100%",
        ),
        spacing="4",
        width="100%",
    )


@rx.page(route=routes.FORGOT_PASSWORD, title="Reset your password · PostForge")
def forgot_password() -> rx.Component:
    return auth_card(
        "Reset your password",
        form_error(ForgotPasswordState.error),
        rx.cond(
            ForgotPasswordState.notice != "",
            rx.callout(ForgotPasswordState.notice, icon="mail", color_scheme="green", id="form-notice"),
        ),
        rx.form(
            rx.vstack(
                field("Email", "email", type_="email", value=ForgotPasswordState.email, autocomplete="email"),
                _submit("Email me a reset link", ForgotPasswordState.busy),
                spacing="3",
                width="100%",
            ),
            on_submit=ForgotPasswordState.submit,
            width="100%",
        ),
        footer=rx.link("Back to sign in", href=routes.SIGN_IN, size="2"),
    )


@rx.page(route=routes.RESET_PASSWORD, title="Choose a new password · PostForge")
def reset_password() -> rx.Component:
    return auth_card(
        "Choose a new password",
        form_error(ResetPasswordState.error),
        rx.form(
            rx.vstack(
                field("New password", "password", type_="password", autocomplete="new-password"),
                _submit("Set password and sign in", ResetPasswordState.busy),
                spacing="3",
                width="100%",
            ),
            on_submit=ResetPasswordState.submit,
            width="100%",
        ),
        footer=rx.link("Request a new link", href=routes.FORGOT_PASSWORD, size="2"),
    )


def _waiting_card(title: str, error: rx.Var, waiting: str, footer: rx.Component) -> rx.Component:
    """A page that does its work on load: a spinner, or the refusal when there is one."""
    return auth_card(
        title,
        rx.cond(error != "", form_error(error), rx.hstack(rx.spinner(), rx.text(waiting))),
        footer=footer,
    )


@rx.page(route=routes.VERIFY_EMAIL, title="Confirm your email · PostForge", on_load=VerifyEmailState.load)
def verify_email() -> rx.Component:
    return _waiting_card(
        "Confirm your email",
        VerifyEmailState.error,
        "Confirming your address…",
        rx.link("Back to sign in", href=routes.SIGN_IN, size="2"),
    )


@rx.page(route=routes.ACCEPT_INVITE, title="Join a workspace · PostForge", on_load=AcceptInviteState.load)
def accept_invite() -> rx.Component:
    return _waiting_card(
        "Join a workspace",
        AcceptInviteState.error,
        "Accepting the invitation…",
        rx.link("Go to the dashboard", href=routes.DASHBOARD, size="2"),
    )


@rx.page(route=routes.AUTH_COMPLETE, title="Signing in · PostForge", on_load=AuthCompleteState.load)
def auth_complete() -> rx.Component:
    return _waiting_card(
        "Signing you in",
        AuthCompleteState.error,
        "One moment…",
        rx.link("Back to sign in", href=routes.SIGN_IN, size="2"),
    )
