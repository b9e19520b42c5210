"""Infrastructure: mail, attempt counters, worker heartbeats, encryption keys and client addresses.

These modules know about the outside machinery (SMTP, Redis, the key files under DATA_DIR, reverse
proxies) and nothing about posts, credits or workspaces. Rules that live here: every mail is an
outbox row before it is a delivery; platform tokens are stored only encrypted, with rotatable keys;
a client address is read through trusted proxies only. Imports: the kernel only.
"""
