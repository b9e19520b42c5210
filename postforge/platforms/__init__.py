"""Social platform adapters: one module per platform behind one interface, plus a registry.

Each adapter turns a publish into exactly one outcome (Published, RateLimited, Transient,
AuthExpired, Rejected, Unknown); the publishing engine in `services/` decides what happens next.
The adapters arrive with the publishing work; until then the sandbox account is seeded data only.
"""
