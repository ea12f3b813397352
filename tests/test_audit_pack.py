"""Evidence packs carry their audit entries with inclusion proofs against a signed checkpoint, and
`audit verify-pack` (or the auditor's upload form) checks them without the database. Every change to a
pack is caught: a changed byte in the entries, a forged checkpoint, another key, a changed manifest."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient
from flask_babel import force_locale
from pypdf import PdfReader, PdfWriter
from sqlalchemy import event
from sqlalchemy.orm import Session
from support.app import csrf_token, make_test_app
from support.audit import problems, verify
from test_documents_data import build_case, png, sqlite_app

from portal.audit import views as audit_views
from portal.audit.keys import signer
from portal.documents.evidence import render_evidence_pack
from portal.documents.pack_proof import PROOF_NAME, verify_pack
from portal.domain.audit_signing import problem_text, public_pem
from portal.domain.enums import Role

OTHER_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def doc_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    app = sqlite_app(tmp_path_factory.mktemp("packs"))
    yield app
    app.extensions["database"].engine.dispose()


def make_pack(app: Flask, number: str, photos: int = 2) -> bytes:
    store = app.extensions["attachments"]
    with app.app_context(), force_locale("en"):
        session = app.extensions["database"].session()
        case = build_case(session, store, number=number, photos=photos)
        session.commit()
        pack = render_evidence_pack(session, store, case, actor_label="auditor@example.test")
        session.commit()
        session.close()
    return pack.pdf


@pytest.fixture(scope="module")
def pack(doc_app: Flask) -> bytes:
    return make_pack(doc_app, "AS-PROOF1")


def with_attachment(pdf: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The pack with one embedded file rewritten, the way someone with pypdf would do it."""
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf)))
    names = writer.root_object["/Names"]["/EmbeddedFiles"]["/Names"]
    for i in range(0, len(names), 2):
        if names[i] == name:
            stream = names[i + 1].get_object()["/EF"]["/F"].get_object()
            stream.set_data(change(stream.get_data()))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def proof_of(pdf: bytes) -> dict:
    return json.loads(PdfReader(io.BytesIO(pdf)).attachments[PROOF_NAME][0])


def edit_proof(pdf: bytes, edit: Callable[[dict], None]) -> bytes:
    def change(data: bytes) -> bytes:
        document = json.loads(data)
        edit(document)
        return json.dumps(document, indent=1, ensure_ascii=False).encode()

    return with_attachment(pdf, PROOF_NAME, change)


def check(app: Flask, data: bytes, key: object = None) -> tuple[bool, str]:
    report = verify_pack(data, key or signer(app.config).public_key)
    return report.ok, "\n".join(problem_text(p) for p in report.problems)


def test_a_pack_embeds_its_entries_with_proofs_and_checks_out(doc_app: Flask, pack: bytes) -> None:
    proof = proof_of(pack)
    assert proof["case"] == "AS-PROOF1"
    actions = [json.loads(e["leaf"])["action"] for e in proof["entries"]]
    assert "evidence_pack.manifest" in actions and "case.status_changed" in actions
    assert proof["checkpoint"]["tree_size"] > max(e["position"] for e in proof["entries"])
    report = verify_pack(pack, signer(doc_app.config).public_key)
    assert report.ok, problems(report)
    assert (
        report.case == "AS-PROOF1" and report.entries == len(actions) and report.exhibits == 3
    )  # two photos, one video
    assert report.summary.startswith("OK: evidence pack of AS-PROOF1:")
    # The pages say where the proof is, and show each entry's place in the signed log.
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pack)).pages)
    assert "audit-proof.json" in text and "#0" in text


def test_the_cli_checks_a_pack_without_the_database(doc_app: Flask, pack: bytes, tmp_path: Path) -> None:
    path = tmp_path / "pack.pdf"
    path.write_bytes(pack)
    # A portal whose database cannot be reached at all: the check never needs it.
    offline = make_test_app(
        "postgresql+psycopg://nobody@127.0.0.1:9/none",
        tmp_path,
        AUDIT_SIGNING_KEY=doc_app.config["AUDIT_SIGNING_KEY"],
    )
    # Counted, not timed: a time limit here failed on a busy machine (1.28 s).
    attempts: list[object] = []
    event.listen(offline.extensions["database"].engine.pool, "first_connect", attempts.append)
    event.listen(offline.extensions["database"].engine, "do_connect", lambda *args: attempts.append(args))
    result = offline.test_cli_runner().invoke(args=["audit", "verify-pack", str(path)])
    assert attempts == []  # never tried to reach the database
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK: evidence pack of AS-PROOF1:") and result.output.count("\n") == 1

    key_file = tmp_path / "portal.pem"
    key_file.write_text(doc_app.test_cli_runner().invoke(args=["audit", "public-key"]).output)
    assert key_file.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    runner = offline.test_cli_runner()
    assert (
        runner.invoke(args=["audit", "verify-pack", str(path), "--public-key", str(key_file)]).exit_code == 0
    )

    other = tmp_path / "other.pem"
    other.write_text(public_pem(OTHER_KEY.public_key()))
    result = runner.invoke(args=["audit", "verify-pack", str(path), "--public-key", str(other)])
    assert result.exit_code == 1 and "FAILED: The checkpoint was signed with another key" in result.output

    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    result = runner.invoke(args=["audit", "verify-pack", str(path), "--public-key", str(junk)])
    assert result.exit_code == 1 and "not a PEM public key" in result.output


def test_exhibit_files_are_checked_against_the_manifest(doc_app: Flask, pack: bytes, tmp_path: Path) -> None:
    path = tmp_path / "pack.pdf"
    path.write_bytes(pack)
    manifest = json.loads(PdfReader(io.BytesIO(pack)).attachments["manifest.json"][0])
    original = tmp_path / "photo.png"
    original.write_bytes(doc_app.extensions["attachments"].read(manifest["exhibits"][0]["sha256"]))
    stranger = tmp_path / "stranger.png"
    stranger.write_bytes(png(999))
    runner = doc_app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify-pack", str(path), "--exhibit", str(original)])
    assert result.exit_code == 0 and "1 exhibit files match it" in result.output
    result = runner.invoke(args=["audit", "verify-pack", str(path), "--exhibit", str(stranger)])
    assert result.exit_code == 1 and "Exhibit file stranger.png is not in the manifest" in result.output


def test_a_changed_byte_in_the_embedded_entries_is_caught(doc_app: Flask, pack: bytes) -> None:
    def change_a_byte(data: bytes) -> bytes:
        at = data.index(b'"details\\":{') + 15  # a byte inside the first entry's details
        return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]

    ok, why = check(doc_app, with_attachment(pack, PROOF_NAME, change_a_byte))
    assert not ok and ("is not in the signed audit log" in why or "malformed" in why or "readable" in why), (
        why
    )


def test_a_changed_entry_is_caught(doc_app: Flask, pack: bytes) -> None:
    def edit(document: dict) -> None:
        entry = document["entries"][0]
        entry["leaf"] = entry["leaf"].replace('"actor_label":"', '"actor_label":"not ')

    ok, why = check(doc_app, edit_proof(pack, edit))
    position = proof_of(pack)["entries"][0]["position"]
    assert not ok and f"The audit entry at position {position} is not in the signed audit log" in why


def test_a_changed_proof_or_position_is_caught(doc_app: Flask, pack: bytes) -> None:
    def bend(document: dict) -> None:
        path = document["entries"][-1]["inclusion_proof"]
        path[0] = ("0" if path[0][0] != "0" else "1") + path[0][1:]

    def move(document: dict) -> None:
        document["entries"][0]["position"] += 1

    for edit in (bend, move):
        ok, why = check(doc_app, edit_proof(pack, edit))
        assert not ok and "is not in the signed audit log" in why


def test_a_forged_checkpoint_is_caught(doc_app: Flask, pack: bytes) -> None:
    def grow(document: dict) -> None:
        document["checkpoint"]["tree_size"] += 1

    def re_sign(document: dict) -> None:
        """Re-signed with another key, claiming to be the portal's."""
        from portal.domain.audit_signing import Checkpoint, Signer

        claimed = Checkpoint.from_json(document["checkpoint"])
        forged = Signer(OTHER_KEY).sign(claimed.tree_size, claimed.root_hash, claimed.timestamp)
        document["checkpoint"] = {**forged.to_json(), "key_id": claimed.key_id}

    for edit in (grow, re_sign):
        ok, why = check(doc_app, edit_proof(pack, edit))
        assert not ok and "The checkpoint's signature does not hold: it was forged or changed." in why


def test_a_pack_checked_against_another_key_fails(doc_app: Flask, pack: bytes) -> None:
    ok, why = check(doc_app, pack, OTHER_KEY.public_key())
    assert not ok and "The checkpoint was signed with another key" in why


def test_a_changed_manifest_is_caught(doc_app: Flask, pack: bytes) -> None:
    def swap_hash(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["exhibits"][1]["sha256"] = "ab" * 32
        return json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=True).encode()

    ok, why = check(doc_app, with_attachment(pack, "manifest.json", swap_hash))
    assert not ok and "manifest.json is not the manifest recorded in the signed audit log" in why
    assert "an exhibit hash in it was changed" in why


def test_a_pack_without_proof_or_not_a_pdf_is_refused(doc_app: Flask, pack: bytes) -> None:
    stripped = PdfWriter(clone_from=PdfReader(io.BytesIO(pack)))
    del stripped.root_object["/Names"]["/EmbeddedFiles"]
    out = io.BytesIO()
    stripped.write(out)
    ok, why = check(doc_app, out.getvalue())
    assert not ok and "The PDF carries no audit-proof.json" in why
    report = verify_pack(b"GIF89a not a pdf", signer(doc_app.config).public_key)
    assert (
        not report.ok and not report.checked and problem_text(report.problems[0]) == "The file is not a PDF."
    )
    report = verify_pack(b"%PDF-1.7\n garbage", signer(doc_app.config).public_key)
    assert (
        not report.ok and not report.checked and "The PDF cannot be read" in problem_text(report.problems[0])
    )


def test_audit_verify_accepts_a_pack_as_an_outside_checkpoint(
    doc_app: Flask, pack: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "pack.pdf"
    path.write_bytes(pack)
    runner = doc_app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify", "--checkpoint", str(path)])
    assert result.exit_code == 0 and result.output.startswith("OK: "), result.output
    assert verify(doc_app).ok


# ---------------------------------------------------------------------------------------------------------
# The auditor's upload form


def _upload(
    client: FlaskClient,
    data: bytes,
    name: str = "pack.pdf",
    key: bytes | None = None,
    token: str | None = None,
) -> tuple[int, str]:
    form: dict[str, object] = {
        "csrf_token": token if token is not None else csrf_token(client, "/audit/check-pack"),
        "pack": (io.BytesIO(data), name),
    }
    if key is not None:
        form["public_key"] = (io.BytesIO(key), "key.pem")
    response = client.post("/audit/check-pack", data=form, content_type="multipart/form-data")
    return response.status_code, response.get_data(as_text=True)


def test_auditor_checks_a_pack_by_upload(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    good = make_pack(app, "AS-UPLOAD1", photos=1)
    auditor = login(Role.AUDITOR)
    page = auditor.get("/audit/check-pack").get_data(as_text=True)
    assert "Check an evidence pack" in page and 'enctype="multipart/form-data"' in page

    status, html = _upload(auditor, good)
    assert status == 200 and "The pack checks out." in html and "AS-UPLOAD1" in html

    changed = edit_proof(good, lambda d: d["checkpoint"].update(tree_size=d["checkpoint"]["tree_size"] + 5))
    status, html = _upload(auditor, changed)
    assert status == 200 and "The pack does not check out." in html and "forged or changed" in html

    status, html = _upload(auditor, good, key=public_pem(OTHER_KEY.public_key()).encode())
    assert status == 200 and "signed with another key" in html
    status, html = _upload(auditor, good, key=b"not a key")
    assert status == 422 and "This is not an Ed25519 public key in PEM format" in html

    status, html = _upload(auditor, b"\x89PNG not a pdf", name="photo.png")
    assert status == 422 and "The file is not a PDF." in html
    monkeypatch.setattr(audit_views, "PACK_LIMIT_MB", 0)
    status, html = _upload(auditor, good)
    assert status == 422 and "The file is larger than 0 MB" in html


def test_check_pack_needs_csrf_and_an_audit_role(
    app: Flask, db: Session, login: Callable[[Role], FlaskClient]
) -> None:
    auditor = login(Role.AUDITOR)
    status, _html = _upload(auditor, b"%PDF-1.7", token="")
    assert status == 400
    agent = login(Role.CS_AGENT)
    assert agent.get("/audit/check-pack").status_code == 403
    status, _html = _upload(agent, b"%PDF-1.7", token=csrf_token(agent, "/settings"))
    assert status == 403


def test_the_public_key_is_published(app: Flask) -> None:
    response = app.test_client().get("/audit/public-key.pem")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == signer(app.config).public_pem()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "public-key"]).output == response.get_data(as_text=True)
