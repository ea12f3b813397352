"""Seller-center order files of any size, uploaded and queued for import as a page would do it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from portal.domain.csv_import import claim, register_upload
from portal.domain.models import ImportBatch, Job, Market
from portal.jobs import start_job

HEADER = ("Order ID,Created Time,Buyer Username,Seller SKU,Product Name,Quantity,SKU Unit Original Price,"
          "Currency,Channel,Shipping Provider Name,Tracking ID")


def orders_csv(rows: int, prefix: str) -> bytes:
    """ROWS order lines, two per order, each order with its own parcel."""
    lines = [HEADER]
    for n in range(rows):
        order = n // 2
        lines.append(f"{prefix}-{order:07d},2026-03-01 14:30:00,buyer{order % 997},SKU-{n % 2},"
                     f"Item {n % 2},1,19.90,USD,Live,UPS,1Z{prefix}{order:09d}")
    return ("\n".join(lines) + "\n").encode()


def queue_import(
    app: Flask, session: Session, market: Market, rows: int, prefix: str
) -> tuple[ImportBatch, Job]:
    """Upload an order file of ROWS lines and queue its import, as the import page's Import button does."""
    batch = register_upload(session, app.extensions["attachments"], kind="orders",
                            filename=f"{prefix}.csv", data=orders_csv(rows, prefix), market=market)
    session.commit()
    assert claim(session, batch)
    job = start_job(app, session, "csv_import", {"batch_id": batch.id})
    return batch, job
