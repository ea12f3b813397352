"""The after-sales policy language: parse, check, compile and explain ops managers' policies."""

from . import messages, vocabulary
from .decision import Action, Decision, Duration, Percent, RuleRef
from .diagnostics import Diagnostic, PolicyError
from .examples import ExampleResult, run_examples
from .policy import CompiledPolicy, check, compile_policy

__all__ = [
    "Action",
    "CompiledPolicy",
    "Decision",
    "Diagnostic",
    "Duration",
    "ExampleResult",
    "Percent",
    "PolicyError",
    "RuleRef",
    "check",
    "compile_policy",
    "messages",
    "run_examples",
    "vocabulary",
]
