"""The audit proof inside an evidence pack, and checking a pack without the portal's database.

Beside `manifest.json`, a pack embeds `audit-proof.json`: a checkpoint of the audit log signed with the
portal's Ed25519 key, and each audit entry of the case as the exact leaf bytes the tree holds, with its
inclusion proof against that checkpoint (RFC 6962). One of those entries, `evidence_pack.manifest`, records
the SHA-256 of the pack's manifest and of every exhibit, so the manifest is covered by the signature too.

`verify_pack` needs only the PDF and the public key: the dispute team can run it offline.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.orm import Session

from portal.domain import merkle
from portal.domain.audit import entry_leaf
from portal.domain.audit_signing import Checkpoint, Problem, problem_text
from portal.domain.audit_tree import prover
from portal.domain.models import AuditEntry
from portal.domain.types import N_

PROOF_NAME = "audit-proof.json"
MANIFEST_NAME = "manifest.json"
FORMAT = "aftersales-desk/evidence-pack-audit-proof/v1"
SEAL_ACTION = "evidence_pack.manifest"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def seal_details(case_number: str, manifest_json: bytes, exhibits: int) -> dict[str, Any]:
    """What the `evidence_pack.manifest` entry records: the manifest's SHA-256 (which covers every
    exhibit's SHA-256 listed in it) and how many exhibits it lists."""
    return {
        "number": case_number,
        "manifest_sha256": hashlib.sha256(manifest_json).hexdigest(),
        "exhibits": exhibits,
    }


def build_proof(
    session: Session, case_number: str, entries: list[AuditEntry], checkpoint: Checkpoint
) -> bytes:
    """audit-proof.json for the entries (already sequenced into `checkpoint`), in position order."""
    placed = sorted(
        (e for e in entries if e.position is not None and e.position < checkpoint.tree_size),
        key=lambda e: e.position or 0,
    )
    proofs = prover(session).inclusions(
        [e.position for e in placed if e.position is not None], checkpoint.tree_size
    )
    document = {
        "format": FORMAT,
        "case": case_number,
        "leaf_hash": "SHA-256(0x00 || leaf); leaf = the entry as canonical JSON (UTF-8, sorted keys, "
        "no spaces)",
        "node_hash": "SHA-256(0x01 || left || right); trees and proofs as in RFC 6962 / RFC 9162",
        "checkpoint": checkpoint.to_json(),
        "checkpoint_note": checkpoint.body().decode("ascii"),
        "entries": [
            {
                "position": e.position,
                "leaf": entry_leaf(e).decode("utf-8"),
                "inclusion_proof": [h.hex() for h in proofs[e.position or 0]],
            }
            for e in placed
        ],
    }
    return json.dumps(document, indent=1, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# Checking a pack


@dataclass
class PackReport:
    problems: list[Problem] = field(default_factory=list)
    checked: bool = False  # False: the file is no readable PDF, so nothing could be checked
    case: str | None = None
    entries: int = 0
    exhibits: int = 0
    files_checked: int = 0
    checkpoint: Checkpoint | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, message: str, **params: Any) -> None:
        self.problems.append((message, params))

    @property
    def summary(self) -> str:
        """One line in English, for the command line."""
        if not self.ok:
            more = f" (and {len(self.problems) - 1} more)" if len(self.problems) > 1 else ""
            return f"FAILED: {problem_text(self.problems[0])}{more}"
        assert self.checkpoint is not None
        files = f"; {self.files_checked} exhibit files match it" if self.files_checked else ""
        return (
            f"OK: evidence pack of {self.case}: {self.entries} audit entries are in the audit log signed at "
            f"{self.checkpoint.timestamp:%Y-%m-%d %H:%M:%S} UTC (tree size {self.checkpoint.tree_size}, "
            f"key {self.checkpoint.key_id[:16]}); the manifest and its {self.exhibits} exhibit hashes are "
            "the "
            f"ones recorded in it{files}."
        )


class PackError(Exception):
    """The file cannot be checked at all (not a PDF, no proof inside)."""

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message % params if params else message)
        self.problem: Problem = (message, params)


def embedded_files(data: bytes) -> dict[str, list[bytes]]:
    if b"%PDF-" not in data[:1024]:
        raise PackError(N_("The file is not a PDF."))
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        return {name: list(contents) for name, contents in reader.attachments.items()}
    except Exception as error:  # noqa: BLE001  (pypdf raises many kinds on a damaged file)
        raise PackError(N_("The PDF cannot be read (%(error)s)."), error=type(error).__name__) from None


def embedded_file(files: dict[str, list[bytes]], name: str) -> bytes:
    found = files.get(name) or []
    if not found:
        raise PackError(
            N_(
                "The PDF carries no %(name)s: it is not an evidence pack of this portal, or one "
                "made before packs carried audit proofs."
            ),
            name=name,
        )
    if len(found) > 1:
        raise PackError(N_("The PDF carries %(count)d files named %(name)s."), count=len(found), name=name)
    return found[0]


def _check_entries(proof: dict[str, Any], checkpoint: Checkpoint, report: PackReport) -> list[dict[str, Any]]:
    """Each entry's inclusion proof; returns the entries that are proven, parsed."""
    entries = proof.get("entries")
    if not isinstance(entries, list) or not entries:
        report.problem(N_("The audit proof lists no entries."))
        return []
    proven: list[dict[str, Any]] = []
    seen: set[int] = set()
    for number, item in enumerate(entries, start=1):
        position = item.get("position") if isinstance(item, dict) else None
        leaf = item.get("leaf") if isinstance(item, dict) else None
        path = item.get("inclusion_proof") if isinstance(item, dict) else None
        if (
            not isinstance(position, int)
            or isinstance(position, bool)
            or not isinstance(leaf, str)
            or not isinstance(path, list)
            or not all(isinstance(h, str) and _HEX64.match(h) for h in path)
        ):
            report.problem(N_("Audit entry %(number)d in the proof is malformed."), number=number)
            continue
        if position in seen:
            report.problem(N_("The audit entry at position %(position)d appears twice."), position=position)
            continue
        seen.add(position)
        digest = merkle.leaf_hash(leaf.encode("utf-8"))
        if not merkle.verify_inclusion(
            digest, position, checkpoint.tree_size, [bytes.fromhex(h) for h in path], checkpoint.root_hash
        ):
            report.problem(
                N_(
                    "The audit entry at position %(position)d is not in the signed audit log: it "
                    "was changed, or its proof was."
                ),
                position=position,
            )
            continue
        try:
            parsed = json.loads(leaf)
        except (ValueError, RecursionError):
            parsed = None
        if not isinstance(parsed, dict):
            report.problem(
                N_("The audit entry at position %(position)d is not a JSON object."), position=position
            )
            continue
        proven.append(parsed)
    report.entries = len(proven)
    return proven


def _check_manifest(
    manifest_json: bytes, case: str | None, entries: list[dict[str, Any]], report: PackReport
) -> list[dict[str, Any]]:
    try:
        manifest = json.loads(manifest_json)
        exhibits = manifest["exhibits"]
        if not isinstance(exhibits, list) or not all(isinstance(e, dict) for e in exhibits):
            raise ValueError
    except (ValueError, KeyError, TypeError, RecursionError):
        report.problem(N_("%(name)s is not a readable manifest."), name=MANIFEST_NAME)
        return []
    report.exhibits = len(exhibits)
    if manifest.get("case") != case:
        report.problem(
            N_("%(name)s is of case %(manifest)s, the audit proof of case %(proof)s."),
            name=MANIFEST_NAME,
            manifest=str(manifest.get("case")),
            proof=str(case),
        )
    digest = hashlib.sha256(manifest_json).hexdigest()
    seals: list[dict[str, Any]] = [
        e["details"]
        for e in entries
        if e.get("action") == SEAL_ACTION and isinstance(e.get("details"), dict)
    ]
    seal = next((s for s in seals if s.get("manifest_sha256") == digest), None)
    if seal is None:
        report.problem(
            N_(
                "%(name)s is not the manifest recorded in the signed audit log (its SHA-256 "
                "differs): the manifest or an exhibit hash in it was changed."
            ),
            name=MANIFEST_NAME,
        )
        return exhibits
    if seal.get("number") != case:
        report.problem(
            N_("The recorded manifest is of case %(recorded)s, not %(case)s."),
            recorded=str(seal.get("number")),
            case=str(case),
        )
    if seal.get("exhibits") != len(exhibits):
        report.problem(
            N_("%(name)s lists %(count)d exhibits; the signed audit log recorded %(recorded)s."),
            name=MANIFEST_NAME,
            count=len(exhibits),
            recorded=str(seal.get("exhibits")),
        )
    for exhibit in exhibits:
        sha = exhibit.get("sha256")
        if not isinstance(sha, str) or not _HEX64.match(sha):
            report.problem(
                N_("Exhibit %(exhibit)s has no valid SHA-256 in the manifest."),
                exhibit=str(exhibit.get("exhibit")),
            )
    return exhibits


def verify_pack(data: bytes, key: Ed25519PublicKey, exhibit_files: Iterable[Path] = ()) -> PackReport:
    """Check an evidence pack offline: the signature, every entry's inclusion, the manifest and exhibits.

    `exhibit_files`, when given, are original exhibit files: each must be listed in the manifest.
    """
    report = PackReport()
    try:
        files = embedded_files(data)
    except PackError as error:
        report.problems.append(error.problem)
        return report
    report.checked = True
    try:
        proof_json = embedded_file(files, PROOF_NAME)
        manifest_json = embedded_file(files, MANIFEST_NAME)
    except PackError as error:
        report.problems.append(error.problem)
        return report
    try:
        proof = json.loads(proof_json)
        if not isinstance(proof, dict) or proof.get("format") != FORMAT:
            raise ValueError("not an audit proof of this portal")
        checkpoint = Checkpoint.from_json(proof.get("checkpoint"))
    except (ValueError, RecursionError):
        report.problem(N_("%(name)s is not a readable audit proof of this portal."), name=PROOF_NAME)
        return report
    report.case = proof.get("case") if isinstance(proof.get("case"), str) else None
    report.checkpoint = checkpoint
    wrong = checkpoint.verify(key)
    if wrong:
        report.problems.append(wrong)
        return report
    entries = _check_entries(proof, checkpoint, report)
    exhibits = _check_manifest(manifest_json, report.case, entries, report)
    listed = {e.get("sha256") for e in exhibits}
    for path in exhibit_files:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest not in listed:
            report.problem(
                N_("Exhibit file %(file)s is not in the manifest (SHA-256 %(sha)s…)."),
                file=path.name,
                sha=digest[:16],
            )
        report.files_checked += 1
    return report
