"""The credit ledger: every change to a workspace's balance is one row, and the balance is their sum.

Rules that live here: a balance never goes negative; spending, reserving, refunding and granting
are each one ledger row written in the same transaction as the balance; a payment's credits are
granted once whatever retries the webhook makes. Imports: the kernel, infrastructure and tenancy.
"""
