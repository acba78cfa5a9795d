"""Errors the engine raises. Each maps to one HTTP status in the web layer."""
from __future__ import annotations

from dataclasses import dataclass


class EngineError(Exception):
    status = 400
    code = "engine_error"

    def to_dict(self) -> dict:
        return {"error": self.code, "message": str(self)}


class NotFound(EngineError):
    status = 404
    code = "not_found"


class Forbidden(EngineError):
    status = 403
    code = "forbidden"


class Conflict(EngineError):
    """Someone else changed the instance or task first; nothing was changed."""
    status = 409
    code = "conflict"


@dataclass
class Problem:
    message: str
    element_id: str | None = None
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.element_id:
            where.append(f"element {self.element_id}")
        if self.line:
            where.append(f"line {self.line}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class InvalidInput(EngineError):
    """Bad input: a list of problems, each naming where it is."""
    status = 422
    code = "invalid"

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))

    def to_dict(self) -> dict:
        return {"error": self.code, "message": str(self), "problems": [p.to_dict() for p in self.problems]}


class InvalidDiagram(InvalidInput):
    code = "invalid_bpmn"


class InvalidForm(InvalidInput):
    code = "invalid_form_data"


class ScriptFailed(EngineError):
    """A script or expression in the diagram failed while running; the step was rolled back."""
    status = 422
    code = "script_failed"

    def __init__(self, message: str, element_id: str | None = None):
        self.element_id = element_id
        super().__init__(message)

    def to_dict(self) -> dict:
        return {"error": self.code, "message": str(self), "element_id": self.element_id}
