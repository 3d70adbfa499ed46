"""Real servers on 127.0.0.1 that stand in for the clinic's mail server and SMS gateway.

They speak the protocols for real (SMTP through ``aiosmtpd``; the subset of Twilio's REST API
CareDesk uses through ``http.server``), so the code under test opens sockets, negotiates TLS,
authenticates and parses replies exactly as it does against the real services — without any
test reaching the internet.  ``tests/conftest.py`` offers them as the ``smtp_server`` and
``sms_gateway`` fixtures.
"""
