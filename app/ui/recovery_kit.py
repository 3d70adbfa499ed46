"""Saving (and reprinting) the recovery kit PDF: the key that opens the clinic's database —
or, for a clinic on the server, the key its backups are encrypted with."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QWidget

from app.services.errors import CareDeskError
from app.ui import ops

if TYPE_CHECKING:
    from app.services.clinic.actor import Actor
    from app.services.clinic.clinics import ClinicDetails, OpenClinic


def letterhead_for(details: ClinicDetails):
    from app.documents.common import ClinicLetterhead

    city_line = " ".join(p for p in (details.city, details.region, details.postal_code) if p)
    return ClinicLetterhead(
        name=details.name,
        address_lines=(details.address_line1, details.address_line2, city_line),
        phone=details.phone,
        email=details.email,
        paper_size=details.paper_size,  # type: ignore[arg-type]
        locale=details.locale,
        timezone=details.timezone,
    )


def build_kit_pdf(
    clinic: OpenClinic, details: ClinicDetails, actor: Actor | None, created_by: str
) -> bytes:
    """The kit's PDF bytes (runs on a worker: the service audits the print)."""
    from app.documents.recovery_kit import RecoveryKitData, build_recovery_kit
    from app.services.clinic.clinics import recovery_kit_info

    info = recovery_kit_info(clinic, actor)
    data = RecoveryKitData(
        letterhead=letterhead_for(details),
        kind="server_backups" if info.kind == "server_backups" else "database",
        database_id=info.database_id,
        database_path=info.database_path,
        server_address=info.server_address,
        server_database=info.server_database,
        computer=info.computer,
        recovery_text=info.recovery_text,
        is_raw_key=info.is_raw_key,
        created_at=info.created_at,
        created_by=created_by,
    )
    return build_recovery_kit(data)


class FileSaveError(CareDeskError):
    """A file the user asked for could not be written (their folder, their fix)."""


class RecoveryKitSaver:
    """Asks where to save the kit, then writes the PDF there (and nowhere else)."""

    @classmethod
    def ask_path(cls, parent: QWidget | None, suggested: Path) -> Path | None:
        name, _filter = QFileDialog.getSaveFileName(
            parent, "Save the recovery kit", str(suggested), "PDF documents (*.pdf)"
        )
        if not name:
            return None
        path = Path(name)
        return path if path.suffix.lower() == ".pdf" else path.with_suffix(".pdf")

    @classmethod
    def save(
        cls,
        parent: QWidget,
        clinic: OpenClinic,
        details: ClinicDetails,
        actor: Actor | None,
        created_by: str,
        *,
        on_saved: Callable[[Path], None],
        on_failed: Callable[[str], None],
    ) -> bool:
        """Ask for a file name and save in the background; False when the user cancelled."""
        safe_name = "".join(c if c.isalnum() or c in " -_" else "_" for c in details.name)
        what = "backup key recovery kit" if clinic.server is not None else "recovery kit"
        suggested = Path.home() / f"{safe_name.strip() or 'Clinic'} - CareDesk {what}.pdf"
        path = cls.ask_path(parent, suggested)
        if path is None:
            return False

        def work() -> Path:
            pdf = build_kit_pdf(clinic, details, actor, created_by)
            try:
                path.write_bytes(pdf)
            except OSError as exc:  # a full disk or a read-only folder: the user can fix it
                raise FileSaveError(
                    f"The recovery kit could not be saved to {path}: {exc.strerror or exc}. "
                    "Choose another folder."
                ) from None
            return path

        ops.run_write(
            work,
            on_success=on_saved,
            on_failure=lambda exc: on_failed(ops.user_message(exc)),
            owner=parent,
        )
        return True
