"""The restricted Python in which BPMN scripts, conditions and timer expressions run.

SpiffWorkflow's default environment ``exec``s scripts with full builtins, so a diagram
could ``import os``. Here every script is compiled with RestrictedPython; imports, file
and network access, and dunder attribute access are refused with a message naming what
was refused. The functions a script may call are passed in explicitly.
"""
from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Any, Mapping

from RestrictedPython import compile_restricted_eval, compile_restricted_exec
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safe_builtins,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment


class SandboxViolation(Exception):
    """A script tried to do something BPMN scripts may not do."""


def _refuse_import(name, *args, **kwargs):
    raise SandboxViolation(f"import of '{name}' is not allowed in BPMN scripts")


def _refuse(what):
    def refuse(*args, **kwargs):
        raise SandboxViolation(f"{what} is not allowed in BPMN scripts")
    return refuse


def _inplace(op, x, y):
    ops = {"+=": lambda: x + y, "-=": lambda: x - y, "*=": lambda: x * y, "/=": lambda: x / y,
           "//=": lambda: x // y, "%=": lambda: x % y, "**=": lambda: x ** y}
    if op not in ops:
        raise SandboxViolation(f"operator {op} is not allowed in BPMN scripts")
    return ops[op]()


_BUILTINS = dict(safe_builtins)
_BUILTINS.update({
    name: __builtins__[name] if isinstance(__builtins__, dict) else getattr(__builtins__, name)
    for name in ("list", "dict", "tuple", "set", "frozenset", "min", "max", "sum", "sorted",
                 "any", "all", "enumerate", "zip", "map", "filter", "reversed", "format")
})
_BUILTINS["__import__"] = _refuse_import
for _name in ("open", "eval", "exec", "compile", "input", "globals", "locals", "vars", "breakpoint"):
    _BUILTINS[_name] = _refuse(f"{_name}()")
for _name in ("setattr", "delattr"):
    _BUILTINS.pop(_name, None)

_GUARDS = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_write_": full_write_guard,
    "_inplacevar_": _inplace,
}


def _compile_error(errors) -> SyntaxError:
    """A SyntaxError with a line number: SpiffWorkflow compares ``lineno`` and fails on None."""
    err = SyntaxError("; ".join(errors))
    found = re.search(r"Line (\d+)", errors[0])
    err.lineno = int(found.group(1)) if found else 0
    return err


@lru_cache(maxsize=4096)
def compile_script(source: str):
    result = compile_restricted_exec(source, filename="<string>")
    if result.errors:
        raise _compile_error(result.errors)
    return result.code


@lru_cache(maxsize=4096)
def compile_expression(source: str):
    result = compile_restricted_eval(source.strip(), filename="<string>")
    if result.errors:
        raise _compile_error(result.errors)
    return result.code


def check_script(source: str) -> str | None:
    """Return a problem description if the script cannot run in the sandbox, else None."""
    try:
        compile_script(source)
    except SyntaxError as err:
        return f"does not compile in the sandbox: {err}"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = ", ".join(a.name for a in node.names) if isinstance(node, ast.Import) else node.module
            return f"imports {names} (line {node.lineno}); imports are not allowed in BPMN scripts"
    return None


def check_expression(source: str) -> str | None:
    try:
        compile_expression(source)
    except SyntaxError as err:
        return f"is not a valid expression: {err}"
    return None


class SandboxEnvironment(BasePythonScriptEngineEnvironment):
    """Task-data environment with RestrictedPython compilation."""

    def __init__(self, functions: Mapping[str, Any] | None = None):
        super().__init__(dict(functions or {}))

    def _globals(self, external_context):
        scope = dict(_GUARDS)
        scope.update(self.globals)
        scope.update(external_context or {})
        return scope

    def evaluate(self, expression, context, external_context=None):
        scope = self._globals(external_context)
        scope.update(context)
        return eval(compile_expression(expression), scope)

    def execute(self, script, context, external_context=None):
        clashes = (set(self.globals) | set(external_context or {})) & set(context)
        if clashes:
            raise ValueError(f"task data overwrites script function(s): {sorted(clashes)}")
        added = self._globals(external_context)
        context.update(added)
        try:
            exec(compile_script(script), context)
        finally:
            for key in list(context):
                if key in added or key.startswith("__") or callable(context[key]):
                    context.pop(key)
        return True

    def call_service(self, context, **kwargs):
        raise SandboxViolation("service tasks are not available")


class SandboxScriptEngine(PythonScriptEngine):
    def __init__(self, functions: Mapping[str, Any] | None = None):
        super().__init__(environment=SandboxEnvironment(functions))
