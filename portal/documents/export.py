"""Evidence packs for a filtered set of cases, streamed into one ZIP file with a CSV index and SHA-256 sums.

Packs are rendered a few at a time (one per renderer worker), written to the ZIP on disk in order and
dropped, and the index and sums go to temporary files, so memory stays flat however many cases the
export holds.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask_babel import force_locale
from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from portal.csv_export import SafeWriter
from portal.documents.evidence import EvidencePack, load_case, render_evidence_pack
from portal.documents.render import RenderError, limits_for
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


@dataclass
class _Rendered:
    """One case of the export: its index row, and its pack or why there is none."""

    row: list[str]
    opened_at: datetime
    pack: EvidencePack | None
    error: str = ""


def _render_case(
    app: Flask,
    sessions: Callable[[], Session],
    case_id: int,
    lang: str,
    actor_id: int | None,
    actor_label: str | None,
    job_id: int | None,
) -> _Rendered:
    """Render one case's pack in its own session and app context (it runs on a thread of its own)."""
    with app.app_context(), force_locale(lang), sessions() as session:
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
                app.extensions["attachments"],
                case,
                actor=actor,
                actor_label=actor_label,
                audit_details={"export_job": job_id} if job_id else None,
            )
        except RenderError as error:
            session.rollback()
            return _Rendered(row, case.opened_at, None, str(error))
        session.commit()
        return _Rendered(row, case.opened_at, pack)


def render_threads(app: Flask) -> int:
    """How many packs an export renders at once: one per renderer process (PDF_RENDER_WORKERS), at most
    one per core."""
    return max(1, min(limits_for(app).workers, os.cpu_count() or 1))


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
    """Write the ZIP to `out_path` (replaced atomically when finished) and return a summary.

    Packs are rendered `render_threads` at a time, each case in a session of its own (the renderer
    works in other processes, so the cores work in parallel), and written to the ZIP in the export's
    order. At most twice that many finished packs wait in memory, however many cases the export holds.
    """
    with sessions() as session:
        ids = list(session.scalars(export_query(case_filter)))
    total = len(ids)
    progress(0, total)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    failed = 0
    threads = render_threads(app)
    with tempfile.TemporaryDirectory(dir=out_path.parent, prefix=".export-") as scratch:
        work = Path(scratch)
        zip_path, index_path, sums_path = work / "export.zip", work / "index.csv", work / "SHA256SUMS"
        with (
            zipfile.ZipFile(zip_path, "w") as archive,
            index_path.open("w", newline="", encoding="utf-8") as index,
            sums_path.open("w", encoding="utf-8") as sums,
            ThreadPoolExecutor(max_workers=threads, thread_name_prefix="export") as renderers,
        ):
            writer = SafeWriter(index)
            writer.writerow(INDEX_COLUMNS)
            waiting: deque[Future[_Rendered]] = deque()
            done = 0

            def write_next() -> None:
                nonlocal done, failed
                rendered = waiting.popleft().result()
                pack = rendered.pack
                if pack is None:
                    failed += 1
                    writer.writerow([*rendered.row, "", "", "", "", rendered.error])
                else:
                    name = f"packs/{pack.filename}"
                    archive.writestr(
                        zipfile.ZipInfo(name, _zip_time(rendered.opened_at)),
                        pack.pdf,
                        compress_type=zipfile.ZIP_STORED,
                    )
                    sums.write(f"{pack.sha256}  {name}\n")
                    writer.writerow(
                        [*rendered.row, name, pack.sha256, len(pack.pdf), len(pack.manifest["exhibits"]), ""]
                    )
                done += 1
                progress(done, total)

            try:
                for case_id in ids:
                    waiting.append(renderers.submit(
                        _render_case, app, sessions, case_id, lang, actor_id, actor_label, job_id
                    ))
                    if len(waiting) >= 2 * threads:
                        write_next()
                while waiting:
                    write_next()
            except BaseException:
                for future in waiting:
                    future.cancel()  # an export that fails stops rendering the rest
                raise
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
