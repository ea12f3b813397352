"""`flask pdf evidence|instructions|export` write the same documents as the portal."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy import select
from test_documents_data import build_case, sqlite_app

from portal.domain.models import AuditEntry


def test_cli_writes_pack_instructions_and_export(tmp_path: Path) -> None:
    app = sqlite_app(tmp_path)
    store = app.extensions["attachments"]
    with app.app_context():
        session = app.extensions["database"].session()
        build_case(session, store, number="AS-CLI001", language="de", photos=1)
        session.commit()
        session.close()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["pdf", "evidence", "AS-CLI001", str(tmp_path / "pack.pdf")])
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256((tmp_path / "pack.pdf").read_bytes()).hexdigest()
    assert digest in result.output
    with app.app_context():
        session = app.extensions["database"].session()
        logged = session.scalars(
            select(AuditEntry.details).where(AuditEntry.action == "evidence_pack.generated")
        )
        assert [d["sha256"] for d in logged] == [digest]
        session.close()

    result = runner.invoke(args=["pdf", "instructions", "AS-CLI001", str(tmp_path / "instructions.pdf")])
    assert result.exit_code == 0, result.output
    assert "Anleitung zur Rücksendung" in PdfReader(tmp_path / "instructions.pdf").pages[0].extract_text()

    result = runner.invoke(
        args=["pdf", "export", "--from", "2000-01-01", "--to", "2100-12-31", str(tmp_path / "out.zip")]
    )
    assert result.exit_code == 0, result.output
    archive = zipfile.ZipFile(io.BytesIO((tmp_path / "out.zip").read_bytes()))
    assert "packs/evidence-pack-AS-CLI001.pdf" in archive.namelist()

    missing = runner.invoke(args=["pdf", "evidence", "AS-NOPE", str(tmp_path / "x.pdf")])
    assert missing.exit_code != 0 and "There is no case AS-NOPE." in missing.output
    empty = runner.invoke(
        args=["pdf", "export", "--from", "2001-01-01", "--to", "2001-01-02", str(tmp_path / "e.zip")]
    )
    assert empty.exit_code != 0 and "No case matches" in empty.output and not (tmp_path / "e.zip").exists()
    app.extensions["database"].engine.dispose()
