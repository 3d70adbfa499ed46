"""Reminders and messages: e-mail and texts to patients (and specialists' offices) through a
durable outbox.  ``settings`` holds how the clinic sends (its mail server, its SMS gateway,
quiet hours; passwords and tokens in the OS key store, never in the database) and
``transports``/``sms`` speak SMTP and the gateway's HTTP API, turning every failure into a
:class:`~app.services.messages.transports.SendError` that says whether to retry, fix the
settings or stop trying.  Templates and rules decide what goes when, ``queueing`` puts each
message in the outbox as a row before anything is sent, and the sender takes the due rows,
re-checks that each may still go, sends it once (the row's uid is the e-mail's Message-ID and
the gateway's idempotency token) and records it in the patient's communication log.
"""
