"""Kill the sender mid-batch: ``caredesk messages run`` in a process of its own, sending a few
hundred e-mails and texts to the local SMTP server and gateway, is killed (SIGKILL: no
clean-up of any kind) several times, then run to the end.  No message arrives twice and
every one is accounted for: sent, or — an e-mail the killed run may have handed over —
failed with the "may have arrived" reason, never sent again by itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest

from app.data.database import backup_copy, connect
from app.data.keys import DatabaseKey
from app.data.models.messages import Message
from app.services.messages.sender import MAY_HAVE_ARRIVED
from tests.conftest import OWNER_PASSWORD
from tests.services.messages.outbox_world import NOW, configure, queue, reachable_patient
from tests.test_cli import PASSPHRASE, REPO

EMAILS_PER_PATIENT = 5
TEXTS_PER_PATIENT = 3
PATIENTS = 40  # 320 messages
KILLS = 4
#: Messages that arrive between a run's start and its kill.
ARRIVALS_BEFORE_KILL = 30


def _sender(path: Path, data_dir: Path, token: str, now) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAREDESK_")}
    env.update(
        CAREDESK_DATA_DIR=str(data_dir),
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
        CAREDESK_PASSPHRASE=PASSPHRASE,
        CAREDESK_USER="owner",
        CAREDESK_PASSWORD=OWNER_PASSWORD,
        CAREDESK_SMS_TOKEN=token,
    )
    command = ["messages", "run", "--db", str(path), "--now", now.isoformat(), "--limit", "1000"]
    return subprocess.Popen(
        [sys.executable, "-m", "app", *command],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def busy_outbox(clinic, tmp_path, smtp_server, sms_gateway) -> Path:
    configure(clinic.db, smtp_server, sms_gateway)
    for _ in range(PATIENTS):
        patient = reachable_patient(clinic.db)
        for n in range(EMAILS_PER_PATIENT):
            queue(clinic.db, patient, "email", body=f"E-mail {n}")
        for n in range(TEXTS_PER_PATIENT):
            queue(clinic.db, patient, "text", body=f"Text {n}")
    path = tmp_path / "busy.caredesk"
    backup_copy(clinic.db, path, DatabaseKey(passphrase=PASSPHRASE))
    return path


def test_killed_mid_batch_no_message_arrives_twice_and_none_is_lost(
    busy_outbox, tmp_path, smtp_server, sms_gateway
) -> None:
    def arrived() -> int:
        return len(smtp_server.messages) + len(sms_gateway.sent)

    # A slow gateway: a kill often lands while a text is in flight (the gateway still takes it).
    sms_gateway.delay_next(0.02, times=10_000)
    moment = NOW
    killed_mid_batch = 0
    for _ in range(KILLS):
        target = arrived() + ARRIVALS_BEFORE_KILL
        process = _sender(busy_outbox, tmp_path / "userdata", sms_gateway.token, moment)
        deadline = time.monotonic() + 60
        while arrived() < target and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.005)
        if process.poll() is None:
            killed_mid_batch += 1
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
        # The killed run's lease runs out before the next run starts (its clock moves on).
        moment += timedelta(minutes=3)
    assert killed_mid_batch == KILLS, "the batch ended before the kills: make it bigger"

    final = _sender(busy_outbox, tmp_path / "userdata", sms_gateway.token, moment)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert out.startswith("Messages:"), out

    db = connect(busy_outbox, DatabaseKey(passphrase=PASSPHRASE))
    try:
        with db.uow() as session:
            messages = session.query(Message).all()
    finally:
        db.engine.dispose()
    assert len(messages) == PATIENTS * (EMAILS_PER_PATIENT + TEXTS_PER_PATIENT)

    received = Counter(m["Message-ID"] for m in smtp_server.messages)
    assert max(received.values()) == 1, "an e-mail arrived twice"
    texted = Counter(t.idempotency_key for t in sms_gateway.sent)
    assert max(texted.values()) == 1, "a text arrived twice"
    assert len(sms_gateway.sent) == len({(t.to, t.body) for t in sms_gateway.sent})

    maybe = 0
    for message in messages:
        if message.channel == "text":
            # A text is always finished: the gateway drops a second send with the same key.
            assert message.state == "sent", (message.state, message.reason)
            assert texted[message.uid] == 1
            continue
        message_id = f"<{message.uid}@caredesk>"
        if message.state == "sent":
            assert received[message_id] == 1
        else:
            assert (message.state, message.reason) == ("failed", MAY_HAVE_ARRIVED)
            assert received[message_id] <= 1
            maybe += 1
    # Each kill left at most the one e-mail it was sending undecided.
    assert maybe <= KILLS
