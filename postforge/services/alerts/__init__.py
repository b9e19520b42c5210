"""Alerts: what the app tells a workspace's people — in-app notices, and mail when something needs them.

Rules that live here: a notice is written in the same transaction as the outcome it reports, names
the account and the post and links to it; trouble (a failure, a post needing review, an account to
reconnect) is also mailed to the post's author through the outbox. Imports: up to content.
"""
