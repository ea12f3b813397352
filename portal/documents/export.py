"""Evidence packs for a filtered set of cases, streamed into one ZIP file with a CSV index and SHA-256 sums.

Each pack is rendered, written to the ZIP on disk and dropped before the next one, and the index and sums
go to temporary files, so memory stays flat however many cases the export holds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from portal.csv_export import SafeWriter
from portal.documents.evidence import load_case, render_evidence_pack
from portal.documents.render import RenderError
from portal.domain import audit
from portal.domain.enums import CaseType
from portal.domain.models import Case, Dispute, Market, User
from portal.domain.types import utcnow

INDEX_COLUMNS = [
    "case",
    "opened_at",
    "market",
    "type",
    "reason",
    "status",
    "disputed",
    "pack",
    "pack_sha256",
    "pack_bytes",
    "exhibits",
    "error",
]


@dataclass(frozen=True)
class ExportFilter:
    date_from: date | None = None
    date_to: date | None = None
    market: str = ""
    type: str = ""
    disputed_only: bool = False
    shop: str = ""  # a shop id: only that shop's cases

    def to_params(self) -> dict[str, Any]:
        data = asdict(self)
        data["date_from"] = self.date_from.isoformat() if self.date_from else None
        data["date_to"] = self.date_to.isoformat() if self.date_to else None
        return data

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> ExportFilter:
        return cls(
            date_from=date.fromisoformat(params["date_from"]) if params.get("date_from") else None,
            date_to=date.fromisoformat(params["date_to"]) if params.get("date_to") else None,
            market=params.get("market") or "",
            type=params.get("type") or "",
            disputed_only=bool(params.get("disputed_only")),
            shop=str(params.get("shop") or ""),
        )

    def problems(self) -> list[str]:
        """What is wrong with the filter, in words a person can act on."""
        found = []
        if self.date_from and self.date_to and self.date_from > self.date_to:
            found.append("The start date is after the end date.")
        if self.type and self.type not in {t.value for t in CaseType}:
            found.append(f"Unknown case type {self.type!r}.")
        return found


def _disputed() -> Any:
    return exists().where(Dispute.case_id == Case.id)


def export_query(case_filter: ExportFilter) -> Select[Any]:
    """The ids of the cases in the export, oldest first; the window is whole days in UTC."""
    query = select(Case.id)
    if case_filter.date_from:
        query = query.where(Case.opened_at >= datetime.combine(case_filter.date_from, time.min, UTC))
    if case_filter.date_to:
        query = query.where(
            Case.opened_at < datetime.combine(case_filter.date_to + timedelta(days=1), time.min, UTC)
        )
    if case_filter.market:
        query = query.where(
            Case.market_id.in_(select(Market.id).where(Market.code == case_filter.market.upper()))
        )
    if case_filter.type:
        query = query.where(Case.type == CaseType(case_filter.type))
    if case_filter.shop.isdigit():
        query = query.where(Case.shop_id == int(case_filter.shop))
    if case_filter.disputed_only:
        query = query.where(_disputed() | (Case.type == CaseType.DISPUTE))
    return query.order_by(Case.opened_at, Case.id)


def count_export(session: Session, case_filter: ExportFilter) -> int:
    return session.scalar(select(func.count()).select_from(export_query(case_filter).subquery())) or 0


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_export(
    app: Flask,
    sessions: Callable[[], Session],
    case_filter: ExportFilter,
    out_path: Path,
    progress: Callable[[int, int], None] = lambda done, total: None,
    actor_id: int | None = None,
    actor_label: str | None = None,
    lang: str = "en",
    job_id: int | None = None,
) -> dict[str, Any]:
    """Write the ZIP to `out_path` (replaced atomically when finished) and return a summary. Needs an "
      "app context."""
    store = app.extensions["attachments"]
    with sessions() as session:
        ids = list(session.scalars(export_query(case_filter)))
    total = len(ids)
    progress(0, total)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".export-") as scratch:
        work = Path(scratch)
        zip_path, index_path, sums_path = work / "export.zip", work / "index.csv", work / "SHA256SUMS"
        with (
            zipfile.ZipFile(zip_path, "w") as archive,
            index_path.open("w", newline="", encoding="utf-8") as index,
            sums_path.open("w", encoding="utf-8") as sums,
            force_locale(lang),
        ):
            writer = SafeWriter(index)
            writer.writerow(INDEX_COLUMNS)
            for done, case_id in enumerate(ids, start=1):
                # A fresh session per case: nothing from earlier cases stays loaded.
                with sessions() as session:
                    case = load_case(session, str(case_id))
                    assert case is not None
                    actor = session.get(User, actor_id) if actor_id else None
                    row = [
                        case.number,
                        case.opened_at.isoformat(),
                        case.market.code,
                        case.type.value,
                        case.reason.value,
                        case.status.value,
                        "yes" if case.disputes or case.type == CaseType.DISPUTE else "no",
                    ]
                    try:
                        pack = render_evidence_pack(
                            session,
                            store,
                            case,
                            actor=actor,
                            actor_label=actor_label,
                            audit_details={"export_job": job_id} if job_id else None,
                        )
                    except RenderError as error:
                        session.rollback()
                        failed += 1
                        writer.writerow([*row, "", "", "", "", str(error)])
                    else:
                        session.commit()
                        name = f"packs/{pack.filename}"
                        archive.writestr(
                            zipfile.ZipInfo(name, _zip_time(case.opened_at)),
                            pack.pdf,
                            compress_type=zipfile.ZIP_STORED,
                        )
                        sums.write(f"{pack.sha256}  {name}\n")
                        writer.writerow(
                            [*row, name, pack.sha256, len(pack.pdf), len(pack.manifest["exhibits"]), ""]
                        )
                        del pack
                progress(done, total)
            index.flush()
            sums.write(f"{_sha256_file(index_path)}  index.csv\n")
            sums.flush()
            archive.write(index_path, "index.csv", compress_type=zipfile.ZIP_DEFLATED)
            archive.write(sums_path, "SHA256SUMS", compress_type=zipfile.ZIP_DEFLATED)
        os.replace(zip_path, out_path)
    digest = _sha256_file(out_path)
    summary = {
        "cases": total,
        "failed": failed,
        "sha256": digest,
        "bytes": out_path.stat().st_size,
        "filter": case_filter.to_params(),
    }
    with sessions() as session:
        actor = session.get(User, actor_id) if actor_id else None
        audit.record(
            session,
            "evidence_export.generated",
            "job" if job_id else "export",
            job_id or out_path.name,
            summary,
            actor=actor,
            actor_label=actor_label,
        )
        session.commit()
    return summary


def _zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    moment = max(when.astimezone(UTC), datetime(1980, 1, 1, tzinfo=UTC))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def export_filename(job_id: int, when: datetime | None = None) -> str:
    stamp = (when or utcnow()).strftime("%Y%m%d-%H%M")
    return f"evidence-export-{job_id}-{stamp}.zip"
