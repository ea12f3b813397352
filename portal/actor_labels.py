"""Who did something, in the reader's language: the portal's own actors (system, buyer, outbox, policy …).

Events and audit entries store who acted as plain English text (`actor_label`), written once and
signed; it is translated only when shown. People appear by their e-mail address and are left as they are.
"""

from __future__ import annotations

import re

from flask_babel import gettext
from flask_babel import lazy_gettext as _l

ACTORS = {
    "system": _l("system"),
    "buyer": _l("buyer"),
    "outbox": _l("outbox"),
    "scheduler": _l("scheduler"),
    "platform": _l("platform"),
    "policy": _l("policy"),
    "import": _l("import"),
    "import (command line)": _l("import (command line)"),
    "cli": _l("command line"),
    "demo-seed": _l("demo data"),
    "someone": _l("someone"),
}
_POLICY = re.compile(r"policy (?:v(?P<version>\d+) )?(?:line (?P<line>\d+)|no rule)(?P<name> “.*”)?")
_CARRIER = re.compile(r"carrier \((?P<name>.+)\)")
_TOKEN = re.compile(r"API token (?P<rest>“.*)")


def actor_label(text: str | None) -> str:
    """The reader's-language name of a stored actor label; unknown labels (people) unchanged."""
    value = text or ""
    known = ACTORS.get(value)
    if known is not None:
        return str(known)
    policy = _POLICY.fullmatch(value)
    if policy is not None:
        version, line, name = policy.group("version"), policy.group("line"), policy.group("name") or ""
        where = gettext("line %(line)s", line=line) if line else gettext("no rule")
        if version:
            return gettext("policy v%(version)s %(where)s", version=version, where=where) + name
        return gettext("policy %(where)s", where=where) + name
    carrier = _CARRIER.fullmatch(value)
    if carrier is not None:
        return gettext("carrier (%(name)s)", name=carrier.group("name"))
    token = _TOKEN.fullmatch(value)
    if token is not None:
        return gettext("API token %(name)s", name=token.group("rest"))
    return value
