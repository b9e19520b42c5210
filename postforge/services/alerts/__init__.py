"""Alerts: what the app tells a workspace's people — in-app notices, and mail when something needs them.

Rules that live here: who hears about what (by role), and that a notice is written once per event
even when the worker retries. Imports: up to content.
"""
