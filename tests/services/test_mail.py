from __future__ import annotations

from pathlib import Path

from propusk.services.mail import FileMailer


async def test_file_outbox_keeps_codes_on_one_line(tmp_path: Path) -> None:
    code = "propusk_ec_" + "x" * 43
    link = f"http://127.0.0.1:8080/v1/user/confirm/{code}"
    mailer = FileMailer(tmp_path / "outbox", "Propusk <no-reply@localhost>")
    await mailer.send("me@example.com", "Confirm", f"Open:\n\n{link}\n")
    [mail] = list((tmp_path / "outbox").iterdir())
    assert mail.name.endswith(".eml") and ":" not in mail.name
    assert oct(mail.stat().st_mode & 0o777) == "0o600"
    assert link in mail.read_text()
