"""The "back" stage: what comes back from readers and their mail servers keeps the lists clean.

Signups (double opt-in), VERP return paths, delivery status notifications
(RFC 3464), non-standard bounces (flufl.bounce), complaint reports (ARF,
RFC 5965) and mailto unsubscribes become suppressions and confirmed members
in the store. Modules are imported where used: `policy` is pure and light, the
sender imports it; the VERP tokens themselves are signed in digest.core.verp.
"""
