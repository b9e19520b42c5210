"""Channels: connected social accounts and publishing to them on time, once.

Rules that live here: tokens are decrypted only to be handed to an adapter; each account publishes
within its platform's limits; a due destination goes out once, and an outcome that is unknown is
retried only where the platform deduplicates, otherwise it asks a person (needs review); the live
status poll and the numbers read back from published posts. Imports: up to payments.
"""
