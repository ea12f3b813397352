"""Times CSV import's automatic encoding on a seller-center export as large as an upload may be.

Baseline, measured in the same run: the same rows saved as UTF-8, which is found by decoding alone.
A GB18030 or Windows-1252 file is decoded by every candidate and then scored by charset-normalizer.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from portal.domain.csv_files import detect_encoding  # noqa: E402

TARGET_MB = 30  # just under the default MAX_UPLOAD_MB of 32


def export(header: str, text_row: str) -> str:
    rows = []
    size = len(header)
    n = 0
    while size < TARGET_MB * 1024 * 1024 // 2:  # CJK characters take two bytes in GB18030
        row = text_row.format(n=n)
        rows.append(row)
        size += len(row)
        n += 1
    return header + "".join(rows)


def best_of(data: bytes, runs: int = 3) -> tuple[float, str]:
    best, codec = float("inf"), ""
    for _ in range(runs):
        start = time.perf_counter()
        codec = detect_encoding(data, "auto")
        best = min(best, time.perf_counter() - start)
    return best, codec


def main() -> None:
    text = export(
        "订单号,创建时间,买家,卖家SKU,商品名称,数量,单价,退货运费险\n",
        "CN{n:09d},2026-03-01 14:30:00,王小明{n},SKU-{n},亚麻衬衫 M 码 蓝色,1,24.90,是\n",
    )
    western = export(
        "Order ID,Created Time,Buyer,Seller SKU,Product Name,Quantity,Unit Price,Return insurance\n",
        "CN{n:09d},2026-03-01 14:30:00,Müller{n},SKU-{n},Leinenhemd größe M blau,1,24.90,yes\n",
    )
    cases = [
        ("UTF-8 (baseline)", text.encode("utf-8")),
        ("GB18030", text.encode("gb18030")),
        ("Windows-1252", western.encode("cp1252")),
    ]
    baseline = None
    print(f"{'file':<18} {'MB':>6} {'found':>10} {'seconds':>8} {'vs UTF-8':>9}")
    for name, data in cases:
        seconds, codec = best_of(data)
        baseline = baseline or seconds
        print(f"{name:<18} {len(data) / 1e6:6.1f} {codec:>10} {seconds:8.3f} {seconds / baseline:8.1f}x")


if __name__ == "__main__":
    main()
