"""Payments: credit packs and plans, Stripe checkout, Stripe's events, and the sandbox stand-in.

Rules that live here: a Stripe event is verified, stored, then applied once in the worker; a refund
takes back what it paid for; the sandbox checkout acts only on sessions it recorded itself.
Imports: up to alerts.
"""
