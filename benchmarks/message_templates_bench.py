"""Times the message template editor: checking a long text, the live check, a page with a long history."""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flask.testing import FlaskClient  # noqa: E402

from portal import create_app, migrate  # noqa: E402
from portal.domain.conversations import templates  # noqa: E402
from portal.domain.enums import Role  # noqa: E402
from portal.domain.models import MessageTemplateVersion, User  # noqa: E402
from portal.domain.users import hash_password  # noqa: E402

PAGE = "/messages/templates/return_approved/de"
VERSIONS = 50


def long_body(seed: int, typos: bool = False) -> str:
    """About 4,000 characters with a placeholder every few words, like a long instructions message."""
    names = list(templates.FACTS)
    words = []
    i = 0
    while sum(len(w) + 1 for w in words) < templates.MAX_BODY - 60:
        name = names[(i + seed) % len(names)]
        words.append(f"Schritt {i + seed}: {{{name}{'x' if typos and i % 7 == 0 else ''}}} bitte beachten.")
        i += 1
    return " ".join(words)[: templates.MAX_BODY]


def per_call_ms(fn: Callable[[], object], n: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1e3


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/bench.db"
        migrate.upgrade(url)
        app = create_app(
            {
                "TESTING": True,
                "SECRET_KEY": "bench",
                "DATABASE_URL": url,
                "WTF_CSRF_ENABLED": False,
                "ATTACHMENTS_DIR": f"{folder}/attachments",
            }
        )
        session = app.extensions["database"].session()
        ops = User(
            email="ops@bench.test",
            name="Ops",
            role=Role.OPS_MANAGER,
            password_hash=hash_password("pw-bench-1"),
        )
        session.add(ops)
        session.commit()
        client: FlaskClient = app.test_client()
        client.post("/login", data={"email": ops.email, "password": "pw-bench-1"})

        clean, typo = long_body(0), long_body(0, typos=True)
        clean_ms = per_call_ms(lambda: templates.check(clean), 200)
        print(f"check(), {len(clean):,} characters, no problems:      {clean_ms:7.3f} ms")
        print(
            f"check(), {len(typo):,} characters, {len(templates.check(typo))} unknown placeholders: "
            f"{per_call_ms(lambda: templates.check(typo), 200):7.3f} ms"
        )
        live = per_call_ms(
            lambda: client.post(
                PAGE + "/check", data={"subject": "", "body": typo}, headers={"HX-Request": "true"}
            ),
            100,
        )
        print(f"live check over HTTP (fragment), long text with typos: {live:7.3f} ms")

        empty = per_call_ms(lambda: client.get(PAGE), 50)
        for number in range(1, VERSIONS + 1):
            session.add(
                MessageTemplateVersion(
                    purpose="return_approved",
                    language="de",
                    number=number,
                    subject=f"Betreff {number}",
                    body=long_body(number),
                    created_by_id=ops.id,
                )
            )
        session.commit()
        full = per_call_ms(lambda: client.get(PAGE), 20)
        print(f"template page, no history:                               {empty:7.3f} ms")
        print(
            f"template page, {VERSIONS} versions of ~4,000 characters (diffs): {full:7.3f} ms "
            f"({full / empty:.1f}x the empty page)"
        )
        index = per_call_ms(lambda: client.get("/messages/templates"), 50)
        print(f"templates table (10 purposes x 4 languages):             {index:7.3f} ms")
        session.close()
        app.extensions["database"].engine.dispose()


if __name__ == "__main__":
    main()
