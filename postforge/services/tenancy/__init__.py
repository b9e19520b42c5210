"""Tenancy: workspaces, memberships, roles and invitations — who may do what where.

Every service that reads or writes a workspace's data asks `workspaces.authorize` first; that one
function is where roles become permissions. Imports: the kernel and infrastructure.
"""
