"""The shared kernel: what every domain speaks — refusals, times, emails, upserts, safe redirects.

Rules that live here: a service refuses with an exception from `errors` whose message is fit to
show the user; times are stored as UTC instants and shown in a person's zone (`timefmt`); an email
address is stored trimmed and lower-cased (`emails`); after sign-in the browser only goes to a
path on this site (`redirects`). Nothing here imports another service package.
"""
