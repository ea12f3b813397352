"""What per-shop credentials cost: webhook verification and loading each shop's API client.

Run by hand:  .venv/bin/python benchmarks/shops_bench.py [--shops 50] [--runs 2000]

On a throwaway SQLite database with N connected shops (secrets and tokens encrypted), it prints the
time per notification to verify a webhook signature the old way (the environment's secret, no
database) and the new way (look up the named shop's connection, decrypt its secret, verify), for a
connected shop and for an unknown shop (every app tried), with the ratio to the old way; and the time
for one scheduler tick to load every shop's client (decrypting each token), against building the one
environment client.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from portal import create_app, migrate  # noqa: E402
from portal.domain.marketplace.client import client_from_config  # noqa: E402
from portal.domain.marketplace.signing import verify_webhook, webhook_signature  # noqa: E402
from portal.domain.models import Shop, ShopConnection  # noqa: E402
from portal.domain.shops.connections import load_clients, webhook_credentials  # noqa: E402
from portal.domain.shops.secrets import Vault  # noqa: E402
from portal.domain.types import utcnow  # noqa: E402


def _time(runs: int, work: Callable[[], object]) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=50)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp())
    url = f"sqlite:///{folder / 'bench.db'}"
    migrate.upgrade(url)
    config = {"SECRET_KEY": "bench", "DATABASE_URL": url, "ATTACHMENTS_DIR": str(folder / "a"),
              "TIKTOK_SHOP_APP_KEY": "env-key", "TIKTOK_SHOP_APP_SECRET": "env-secret",
              "TIKTOK_SHOP_API_URL": "http://127.0.0.1:9", "TIKTOK_SHOP_ACCESS_TOKEN": "env-token"}
    app = create_app(config)
    vault = Vault.from_config(app.config)
    factory = app.extensions["database"].sessionmaker
    with factory() as session:
        for n in range(args.shops):
            shop = Shop(name=f"Shop {n}", company_name="Bench", external_shop_id=f"74950{n:06d}")
            session.add(ShopConnection(shop=shop, app_key=f"key-{n}", app_secret=vault.seal(f"secret-{n}"),
                                       access_token=vault.seal(f"token-{n}"), status="connected",
                                       refresh_state="scheduled", refresh_attempts=0))
        session.commit()
    known = json.dumps({"type": 1, "shop_id": "74950000007", "data": {}}).encode()
    known_sig = webhook_signature("key-7", "secret-7", known)
    stranger = json.dumps({"type": 1, "shop_id": "1", "data": {}}).encode()
    stranger_sig = webhook_signature("env-key", "env-secret", stranger)

    def old() -> bool:
        return verify_webhook("env-key", ("env-secret", ""), stranger, stranger_sig)

    def new(shop_id: str, body: bytes, signature: str) -> Callable[[], bool]:
        def run() -> bool:
            with factory() as session:
                found = webhook_credentials(session, app.config, vault, shop_id, utcnow())
            ok = any(verify_webhook(key, secrets, body, signature) for key, secrets in found)
            assert ok
            return ok
        return run

    def clients() -> object:
        with factory() as session:
            return load_clients(session, vault, app.config)

    baseline = _time(args.runs, old)
    connected = _time(args.runs, new("74950000007", known, known_sig))
    unknown = _time(max(50, args.runs // 10), new("1", stranger, stranger_sig))
    env_client = _time(args.runs, lambda: client_from_config(app.config))
    tick = _time(max(50, args.runs // 10), clients)
    print(f"{args.shops} connected shops; medians in microseconds")
    print(f"webhook check, environment secret only (before): {baseline:9.1f}")
    print(f"webhook check, connected shop (its own secret):  {connected:9.1f}  ×{connected / baseline:.0f}")
    print(f"webhook check, unknown shop (every app tried):   {unknown:9.1f}  ×{unknown / baseline:.0f}")
    print(f"scheduler tick, environment client (before):     {env_client:9.1f}")
    print(f"scheduler tick, every shop's client loaded:      {tick:9.1f}  ×{tick / env_client:.0f}")
    app.extensions["database"].engine.dispose()


if __name__ == "__main__":
    main()
