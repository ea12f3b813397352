"""The auditor area over HTTP: case search, a case's evidence, pack downloads and ZIP exports."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import zipfile
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session
from support.app import csrf_token
from support.factories import make_case, shop_with_market
from test_documents_data import build_case

from portal.domain.enums import Role
from portal.domain.models import AuditEntry, Job
from portal.domain.types import utcnow


def _export_form(client: FlaskClient, **fields: str) -> dict[str, str]:
    return {"csrf_token": csrf_token(client, "/audit/exports"), **fields}


def test_auditor_searches_cases_and_opens_the_evidence(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    case = build_case(db, app.extensions["attachments"], number="AS-SEARCH1", photos=2)
    make_case(db, case.market, number="AS-OTHER01")
    db.commit()
    auditor = login(Role.AUDITOR)
    page = auditor.get("/audit/cases?q=AS-SEARCH1").get_data(as_text=True)
    assert "AS-SEARCH1" in page and "AS-OTHER01" not in page
    assert "/cases/AS-SEARCH1/evidence-pack.pdf" in page
    fragment = auditor.get("/audit/cases?disputed=1", headers={"HX-Request": "true"})
    assert 'id="audit-case-rows"' in fragment.get_data(as_text=True) and "<html" not in fragment.get_data(
        as_text=True
    )
    assert "AS-SEARCH1" in fragment.get_data(as_text=True) and "AS-OTHER01" not in fragment.get_data(
        as_text=True
    )
    evidence = auditor.get("/audit/cases/AS-SEARCH1").get_data(as_text=True)
    assert case.evidence[0].sha256 in evidence and "Matches its hash" in evidence
    assert "case.status_changed" in evidence
    assert auditor.get("/audit/cases/AS-NOPE").status_code == 404


def test_pack_download_is_a_pdf_whose_hash_is_logged(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    build_case(db, app.extensions["attachments"], number="AS-DOWN01", photos=1)
    db.commit()
    auditor = login(Role.AUDITOR)
    # A GET (a link, an <img> on another site) only shows the button: no pack, no audit entry.
    shown = auditor.get("/cases/AS-DOWN01/evidence-pack.pdf")
    assert shown.status_code == 200 and 'id="pack-confirm"' in shown.get_data(as_text=True)
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "evidence_pack.generated")) is None
    response = auditor.post(
        "/cases/AS-DOWN01/evidence-pack.pdf",
        data={"csrf_token": csrf_token(auditor, "/cases/AS-DOWN01/evidence-pack.pdf")},
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert 'filename="evidence-pack-AS-DOWN01.pdf"' in response.headers["Content-Disposition"]
    digest = hashlib.sha256(response.data).hexdigest()
    assert response.headers["X-Content-SHA256"] == digest
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "evidence_pack.generated"))
    assert (
        entry is not None
        and entry.details["sha256"] == digest
        and entry.actor_label == "auditor@example.test"
    )
    assert "AS-DOWN01" in PdfReader(io.BytesIO(response.data)).pages[0].extract_text()


def test_instructions_download_and_a_case_without_return(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    case = build_case(db, app.extensions["attachments"], number="AS-INSTR2", language="zh", photos=0)
    make_case(db, case.market, number="AS-NORET1")
    db.commit()
    agent = login(Role.CS_AGENT)
    response = agent.get("/cases/AS-INSTR2/return-instructions.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert "退货说明" in text and case.returns[0].rma_number in text
    assert agent.get("/cases/AS-NORET1/return-instructions.pdf").status_code == 404
    assert agent.get("/cases/AS-INSTR2/return-instructions.pdf?rma=RMA-OTHER").status_code == 404


def test_cs_agent_cannot_export(app: Flask, db: Session, login: Callable[[Role], FlaskClient]) -> None:
    agent = login(Role.CS_AGENT)
    token = csrf_token(agent, "/settings")
    assert (
        agent.post(
            "/audit/exports", data={"csrf_token": token, "date_from": "2020-01-01", "date_to": "2030-01-01"}
        ).status_code
        == 403
    )
    assert db.scalar(select(Job)) is None


def test_export_form_explains_bad_input_and_starts_nothing(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    _shop, market = shop_with_market(db)
    make_case(db, market, number="AS-EXP000")
    db.commit()
    auditor = login(Role.AUDITOR)
    response = auditor.post(
        "/audit/exports", data=_export_form(auditor, date_from="2030-02-01", date_to="2030-01-01")
    )
    assert response.status_code == 422
    assert "The end date is before the start date." in response.get_data(as_text=True)
    response = auditor.post(
        "/audit/exports", data=_export_form(auditor, date_from="2001-01-01", date_to="2001-01-31")
    )
    assert response.status_code == 422 and "No case matches these filters" in response.get_data(
        as_text=True
    ), response.get_data(as_text=True)[-2500:]
    assert db.scalar(select(Job)) is None


def test_export_builds_a_zip_with_index_and_hashes(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    app.config["JOBS_RUN_INLINE"] = True
    store = app.extensions["attachments"]
    disputed = build_case(db, store, number="AS-EXP001", photos=1)
    make_case(db, disputed.market, number="AS-EXP002")  # no dispute: filtered out
    db.commit()
    auditor = login(Role.AUDITOR)
    today = date.today().isoformat()
    response = auditor.post(
        "/audit/exports",
        data=_export_form(
            auditor,
            date_from="2000-01-01",
            date_to="2100-01-01",
            market=disputed.market.code,
            disputed_only="y",
        ),
    )
    assert response.status_code == 303, today
    status_url = response.location
    page = auditor.get(status_url).get_data(as_text=True)
    assert "Ready: 1 cases" in page and 'id="export-download"' in page
    fragment = auditor.get(status_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert fragment.lstrip().startswith('<div id="export-progress"') and "hx-trigger" not in fragment
    download = auditor.get(status_url + "/download")
    assert download.status_code == 200 and download.mimetype == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(download.data))
    assert sorted(archive.namelist()) == ["SHA256SUMS", "index.csv", "packs/evidence-pack-AS-EXP001.pdf"]
    for line in archive.read("SHA256SUMS").decode().splitlines():
        digest, name = line.split("  ")
        assert hashlib.sha256(archive.read(name)).hexdigest() == digest
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
    assert [(r["case"], r["disputed"], r["error"]) for r in rows] == [("AS-EXP001", "yes", "")]
    job = db.scalar(select(Job).where(Job.kind == "evidence_export"))
    assert job is not None and job.result["sha256"] == hashlib.sha256(download.data).hexdigest()
    actions = set(db.scalars(select(AuditEntry.action)))
    assert {"evidence_pack.generated", "evidence_export.generated"} <= actions


@pytest.mark.parametrize("workers", [1, 2])
def test_an_export_renders_packs_side_by_side_and_writes_them_in_order(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient], monkeypatch: pytest.MonkeyPatch,
    workers: int,
) -> None:
    """Packs render PDF_RENDER_WORKERS at a time (portal.documents.export); the ZIP and its index keep the
    export's order, and a pack that cannot be rendered is a row with its reason, in its place."""
    from portal.documents import export as export_module
    from portal.documents.render import RenderError

    app.config["JOBS_RUN_INLINE"] = True
    app.config["PDF_RENDER_WORKERS"] = workers
    _shop, market = shop_with_market(db)
    numbers = [f"AS-ORD{i:03d}" for i in range(7)]
    now = utcnow()
    for i, number in enumerate(numbers):
        make_case(db, market, number=number, opened_at=now - timedelta(hours=10 - i))
    db.commit()
    assert export_module.render_threads(app) == min(workers, os.cpu_count() or 1)
    real = export_module.render_evidence_pack

    def failing_one(session: Session, store: object, case: Any, **kwargs: Any) -> Any:
        if case.number == "AS-ORD003":
            raise RenderError("The document was too large.")
        return real(session, store, case, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(export_module, "render_evidence_pack", failing_one)
    auditor = login(Role.AUDITOR)
    response = auditor.post(
        "/audit/exports", data=_export_form(auditor, date_from="2000-01-01", date_to="2100-01-01")
    )
    page = auditor.get(response.location).get_data(as_text=True)
    assert "Ready: 7 cases, 1 could not be rendered." in page
    archive = zipfile.ZipFile(io.BytesIO(auditor.get(response.location + "/download").data))
    packs = [name for name in archive.namelist() if name.startswith("packs/")]
    assert packs == [f"packs/evidence-pack-{n}.pdf" for n in numbers if n != "AS-ORD003"]
    rows = list(csv.DictReader(io.StringIO(archive.read("index.csv").decode())))
    assert [r["case"] for r in rows] == numbers
    assert [r["error"] for r in rows] == ["", "", "", "The document was too large.", "", "", ""]
    for name in packs:
        assert PdfReader(io.BytesIO(archive.read(name))).pages


def test_a_running_export_shows_the_time_left(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    auditor = login(Role.AUDITOR)
    job = Job(kind="evidence_export", status="running", progress_done=10, progress_total=40,
              started_at=utcnow() - timedelta(minutes=2), params={})
    db.add(job)
    db.commit()
    # Ten packs in two minutes: thirty more take about six.
    fragment = auditor.get(f"/audit/exports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "10 of 40 packs rendered" in fragment and 'id="export-left"' in fragment
    assert "about 6 minutes left" in fragment
    job.progress_done = 0
    db.commit()
    fragment = auditor.get(f"/audit/exports/{job.id}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "0 of 40 packs rendered" in fragment and "left" not in fragment


@pytest.mark.parametrize(("given", "used"), [("0", 1), ("3", 3), ("99", 16), ("", None)])
def test_the_number_of_pdf_renderers_is_bounded(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, given: str, used: int | None
) -> None:
    from portal.config import load_config

    if given:
        monkeypatch.setenv("PDF_RENDER_WORKERS", given)
    else:
        monkeypatch.delenv("PDF_RENDER_WORKERS", raising=False)
    assert load_config(tmp_path)["PDF_RENDER_WORKERS"] == (used or 2)
