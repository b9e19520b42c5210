"""Identity: accounts, passwords, sessions, single sign-on, email verification and first arrival.

Rules that live here: passwords are hashed with argon2id; a session token is stored only hashed and
ends on password change, sign-out everywhere or expiry; an external identity is bound to its issuer
and subject and never linked to an unverified local account; a person's first arrival creates the
user, a personal workspace and the welcome credits exactly once. Imports: up to the ledger.
"""
