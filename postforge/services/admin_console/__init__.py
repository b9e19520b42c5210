"""The admin console: what system admins do to users, workspaces and plans, and the audit log of it.

`guard.authorize_admin` is the one check that the person asking is a system admin: every function
here calls it first (the command line's grant and revoke, run by whoever holds the server, are the
only exception). Every change writes its `AuditLog` row in the same transaction, so a change
without its record cannot exist. The package sits on top: it may call any domain; none imports it.
"""
