"""Email addresses as PostForge stores them."""

import unicodedata

from postforge.services.kernel.errors import ValidationFailed

MAX_EMAIL_LENGTH = 320
_EMAIL_FORBIDDEN = set('<>()[],;:\\"')


def normalize_email(email: str) -> str:
    """The stored form of an address: trimmed and case-folded; refuses what cannot be an address."""
    if not isinstance(email, str) or not email.strip():
        raise ValidationFailed("Enter your email address.", field="email")
    email = unicodedata.normalize("NFC", email.strip()).casefold()
    local, _, domain = email.rpartition("@")
    labels = domain.split(".")
    if (
        not local
        or len(email) > MAX_EMAIL_LENGTH
        or len(local) > 64
        or "@" in local
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
        or len(labels) < 2
        or any(not label or label.startswith("-") or label.endswith("-") for label in labels)
        or any(ch.isspace() or not ch.isprintable() or ch in _EMAIL_FORBIDDEN for ch in email)
    ):
        raise ValidationFailed("Enter a valid email address, like name@example.com.", field="email")
    return email
