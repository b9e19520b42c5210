"""The credit ledger: every change to a workspace's balance is one row, and the balance is their sum.

Rules that live here: a balance never goes negative; every change is written with its ledger row in
one transaction, at most once per idempotency key, so a retried request or a replayed webhook
changes nothing. Imports: the kernel, infrastructure and tenancy.
"""
