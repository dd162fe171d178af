"""Deliver stage: transports, the embedded mailbox, the journal and the send manager."""
