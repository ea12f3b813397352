"""Finds rules that always apply, never apply, or are shadowed by an earlier rule in their section."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from itertools import combinations
from typing import Any

from . import nodes as n

# Normal form: ("and", [forms]), ("or", [forms]) or an atom:
#   ("cmp", subject, op, constant)   a comparison of an expression with a constant
#   ("in", subject, frozenset, negated)
#   ("present", subject, present)
#   ("other", key)                   anything else, matched by equality only
Form = tuple[Any, ...]

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "==": "==", "!=": "!="}


def key(expr: Any) -> Any:
    """A hashable description of a node that ignores where it was written."""
    if isinstance(expr, n.Node):
        return (type(expr).__name__,) + tuple(
            key(getattr(expr, f.name)) for f in dataclasses.fields(expr) if f.name not in ("line", "column")
        )
    if isinstance(expr, tuple):
        return tuple(key(x) for x in expr)
    return expr


def constant(expr: n.Expr) -> Any:
    """The fixed value of an expression without fields, or None."""
    match expr:
        case n.NumberLit(value=v) | n.TextLit(value=v) | n.BoolLit(value=v):
            return v
        case n.Neg(operand=o):
            v = constant(o)
            return -v if isinstance(v, int | Decimal) and not isinstance(v, bool) else None
    return None


def _truth(expr: n.Expr) -> bool | None:
    """Three-valued truth when every field is unknown; True means the condition always holds."""
    match expr:
        case n.BoolLit(value=v):
            return v
        case n.Not(operand=o):
            t = _truth(o)
            return None if t is None else not t
        case n.And(parts=parts):
            values = [_truth(p) for p in parts]
            return False if False in values else (None if None in values else True)
        case n.Or(parts=parts):
            values = [_truth(p) for p in parts]
            return True if True in values else (None if None in values else False)
        case n.Compare(op=op, left=left, right=right):
            a, b = constant(left), constant(right)
            if a is None or b is None:
                if op in ("in", "not in") and isinstance(right, n.ListLit) and a is not None:
                    items = [constant(i) for i in right.items]
                    return (a in items) == (op == "in") if None not in items else None
                return None
            try:
                return {
                    "==": a == b,
                    "!=": a != b,
                    "<": a < b,
                    "<=": a <= b,
                    ">": a > b,
                    ">=": a >= b,
                    "contains": isinstance(a, str) and isinstance(b, str) and b in a,
                }.get(op)
            except TypeError:
                return None
    return None


def always_true(expr: n.Expr) -> bool:
    return _truth(expr) is True


def never_true(expr: n.Expr) -> bool:
    return _truth(expr) is False


def normal(expr: n.Expr) -> Form:
    match expr:
        case n.And(parts=parts):
            return ("and", [normal(p) for p in parts])
        case n.Or(parts=parts):
            return ("or", [normal(p) for p in parts])
        case n.Field():
            return ("cmp", key(expr), "==", True)
        case n.Not(operand=n.Field() as f):
            return ("cmp", key(f), "==", False)
        case n.Presence(field=f, present=p):
            return ("present", key(f), p)
        case n.Compare(op=op, left=left, right=right) if op in _FLIP:
            if (c := constant(right)) is not None and constant(left) is None:
                return ("cmp", key(left), op, c)
            if (c := constant(left)) is not None and constant(right) is None:
                return ("cmp", key(right), _FLIP[op], c)
        case n.Compare(op=op, left=left, right=n.ListLit(items=items)) if op in ("in", "not in"):
            values = [constant(i) for i in items]
            if None not in values and constant(left) is None:
                return ("in", key(left), frozenset(values), op == "not in")
    return ("other", key(expr))


def _is_number(v: Any) -> bool:
    return isinstance(v, int | Decimal) and not isinstance(v, bool)


def _cmp_implies(jop: str, a: Any, iop: str, b: Any) -> bool:
    """Does `x jop a` guarantee `x iop b`?"""
    if jop == "==":
        if iop == "==":
            return a == b
        if iop == "!=":
            return a != b
    if jop == "!=" and iop == "!=":
        return a == b
    if not (_is_number(a) and _is_number(b)):
        return False
    table = {
        ("<", "<"): a <= b,
        ("<=", "<"): a < b,
        ("==", "<"): a < b,
        ("<", "<="): a <= b,
        ("<=", "<="): a <= b,
        ("==", "<="): a <= b,
        (">", ">"): a >= b,
        (">=", ">"): a > b,
        ("==", ">"): a > b,
        (">", ">="): a >= b,
        (">=", ">="): a >= b,
        ("==", ">="): a >= b,
        ("<", "!="): a <= b,
        ("<=", "!="): a < b,
        (">", "!="): a >= b,
        (">=", "!="): a > b,
    }
    return table.get((jop, iop), False)


def _atom_implies(j: Form, i: Form) -> bool:
    if j == i:
        return True
    kind = i[0]
    if kind == "present":
        # A comparison can only be true when its field is there.
        return i[2] and j[0] in ("cmp", "in") and j[1] == i[1]
    if kind == "other" or j[0] in ("other", "present") or j[1] != i[1]:
        return False
    if kind == "cmp" and j[0] == "cmp":
        return _cmp_implies(j[2], j[3], i[2], i[3])
    if kind == "cmp" and j[0] == "in":
        if not j[3] and i[2] == "==":
            return j[2] == frozenset([i[3]])
        if i[2] == "!=":
            return (i[3] in j[2]) if j[3] else (i[3] not in j[2])
        return False
    if kind == "in" and j[0] == "cmp" and j[2] == "==":
        return (j[3] in i[2]) != i[3]
    if kind == "in" and j[0] == "in":
        if not i[3] and not j[3]:
            return j[2] <= i[2]
        if i[3] and not j[3]:
            return not (j[2] & i[2])
        if i[3] and j[3]:
            return i[2] <= j[2]
    return False


def implies(j: Form, i: Form) -> bool:
    """Whenever `j` is true, `i` is true (sound, not complete)."""
    if j[0] == "or":
        return all(implies(part, i) for part in j[1])
    if i[0] == "and":
        return all(implies(j, part) for part in i[1])
    if i[0] == "or":
        return any(implies(j, part) for part in i[1])
    if j[0] == "and":
        return any(implies(part, i) for part in j[1])
    return _atom_implies(j, i)


def _atoms(form: Form) -> list[Form]:
    return form[1] if form[0] == "and" else [form]


def _anchor(form: Form) -> Any:
    """The index key an earlier rule is filed under; None files it with the rules always tried."""
    if form[0] == "or" or any(a[0] in ("and", "or") for a in _atoms(form)):
        return None
    atoms = _atoms(form)
    for atom in atoms:
        if atom[0] == "cmp" and atom[2] == "==":
            return ("eq", atom[1], atom[3])
    atom = atoms[0]
    return ("other", atom[1]) if atom[0] == "other" else ("subject", atom[1])


def _lookups(form: Form) -> set[Any]:
    found: set[Any] = set()
    stack = [form]
    while stack:
        f = stack.pop()
        if f[0] in ("and", "or"):
            stack.extend(f[1])
        elif f[0] == "other":
            found.add(("other", f[1]))
        else:
            found.add(("subject", f[1]))
            if f[0] == "cmp" and f[2] == "==":
                found.add(("eq", f[1], f[3]))
            if f[0] == "in" and not f[3] and len(f[2]) == 1:
                found.add(("eq", f[1], next(iter(f[2]))))
    return found


# Implication checks one section may spend on the general search; past it the rest of the section is not
# searched for shadowed rules (a warning says so). The bound staircases below need no checks of their own.
SHADOW_CHECKS = 100_000


def _eq_atom(atom: Form) -> Form | None:
    """`x == v` (or `x in [v]`) as one comparison form; None for any other atom."""
    if atom[0] == "cmp" and atom[2] == "==":
        return atom
    if atom[0] == "in" and not atom[3] and len(atom[2]) == 1:
        return ("cmp", atom[1], "==", next(iter(atom[2])))
    return None


_MAX_EQUALITIES = 3


def _bound(form: Form) -> tuple[tuple[Any, ...], tuple[Any, bool]] | None:
    """A one-sided numeric bound (`value < 10`), alone or with a few equalities (`and market == "US"`).

    Its staircase (the equalities, the bound's subject and side) and its place there: weaker is larger.
    """
    atoms = _atoms(form)
    if any(a[0] in ("and", "or") for a in atoms):
        return None
    bounds = [a for a in atoms if a[0] == "cmp" and _is_number(a[3]) and a[2] in ("<", "<=", ">", ">=")]
    if len(bounds) != 1:
        return None
    equalities = [_eq_atom(a) for a in atoms if a is not bounds[0]]
    if None in equalities or len(equalities) > _MAX_EQUALITIES:
        return None
    bound, given = bounds[0], frozenset(equalities)
    if bound[2] in ("<", "<="):
        return (given, bound[1], "up"), (bound[3], bound[2] == "<=")
    return (given, bound[1], "down"), (-bound[3], bound[2] == ">=")


def _equality_sets(form: Form) -> list[frozenset[Form]]:
    """The sets of equalities `form` states outright, each a staircase group it may imply."""
    atoms = _atoms(form)
    if any(a[0] in ("and", "or") for a in atoms):
        return [frozenset()]
    stated = sorted({e for a in atoms if (e := _eq_atom(a)) is not None}, key=repr)
    largest = _MAX_EQUALITIES if len(stated) <= 8 else 1
    return [frozenset(c) for r in range(largest + 1) for c in combinations(stated, r)]


class _Staircase:
    """Earlier one-bound rules on one subject and side, keeping only those weaker than every rule before them.

    Whatever implies `x < b` implies `x < c` for every weaker bound c, so the earliest earlier rule that a
    new rule implies is always one of these record setters, and a binary search finds it.
    """

    def __init__(self) -> None:
        self.keys: list[tuple[Any, bool]] = []
        self.positions: list[int] = []

    def add(self, place: tuple[Any, bool], position: int) -> None:
        if not self.keys or place > self.keys[-1]:
            self.keys.append(place)
            self.positions.append(position)

    def earliest_implied(self, form: Form, forms: list[Form]) -> int | None:
        low, high = 0, len(self.positions)
        while low < high:
            mid = (low + high) // 2
            if implies(form, forms[self.positions[mid]]):
                high = mid
            else:
                low = mid + 1
        return self.positions[low] if low < len(self.positions) else None


@dataclasses.dataclass
class Shadowing:
    """Rules shadowed by an earlier rule, and the first rule left unsearched when the budget ran out."""

    found: list[tuple[n.Rule, n.Rule]]
    unsearched_from: n.Rule | None = None


def find_unreachable(
    rules: list[n.Rule], checks: int = SHADOW_CHECKS, tick: Callable[[], None] = lambda: None
) -> Shadowing:
    """(shadowed rule, the earlier rule that shadows it), for rules of one section in order.

    Linear in the number of rules for the usual shapes (equalities are looked up by value, one-sided
    bounds, alone or with equalities, on staircases); anything else is compared pairwise within
    `checks` implication tests.
    """
    index: dict[Any, list[int]] = defaultdict(list)
    stairs: dict[tuple[Any, ...], _Staircase] = defaultdict(_Staircase)
    always_tried: list[int] = []
    forms: list[Form] = []
    result = Shadowing([])
    for position, rule in enumerate(rules):
        tick()
        form = normal(rule.condition)
        lookups = _lookups(form)
        candidates = set(always_tried)
        for lookup in lookups:
            candidates.update(index.get(lookup, ()))
        shadow: int | None = None
        for earlier in sorted(candidates):
            if checks == 0:
                result.unsearched_from = rule
                return result
            checks -= 1
            if implies(form, forms[earlier]):
                shadow = earlier
                break
        subjects = [lookup[1] for lookup in lookups if lookup[0] == "subject"]
        for given in _equality_sets(form) if stairs else ():
            for subject in subjects:
                for side in ("up", "down"):
                    stair = stairs.get((given, subject, side))
                    hit = stair.earliest_implied(form, forms) if stair is not None else None
                    if hit is not None and (shadow is None or hit < shadow):
                        shadow = hit
        if shadow is not None:
            result.found.append((rule, rules[shadow]))
        forms.append(form)
        bound = _bound(form)
        if bound is not None:
            stairs[bound[0]].add(bound[1], position)
            continue
        anchor = _anchor(form)
        (always_tried if anchor is None else index[anchor]).append(position)
    return result
