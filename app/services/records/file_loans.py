"""The file borrowing/copying register (SOP_RULES §8.3, RET-18…21).

Nobody views, borrows or copies a household file on their own say-so (RET-21): a request names the file,
what is wanted and why; internal requests need the consent of a department head (the archiving department's,
RET-18), external parties (police, court, lawyers … with an introduction letter or ID, RET-19) and copies of
key customers' files (RET-20) the project head's (Manager). Nobody approves their own request. Every row and
every decision is in the audit trail.
"""
from __future__ import annotations

from workflows import clock
from workflows.actor import Actor
from workflows.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from workflows.localtime import iso

from ...extensions import db
from ...models.intake import FileLoan, Household

KINDS = ("view", "borrow", "copy")
PARTIES = ("internal", "external")


def request_loan(data: dict, actor: Actor) -> FileLoan:
    problems = []
    household = db.session.get(Household, data.get("household_id")) if str(data.get("household_id", "")).isdigit() \
        else None
    if household is None:
        problems.append(Problem(f"no household {data.get('household_id')!r}", field="household_id"))
    if data.get("kind") not in KINDS:
        problems.append(Problem(f"kind must be one of {', '.join(KINDS)}", field="kind"))
    party = data.get("party") or "internal"
    if party not in PARTIES:
        problems.append(Problem(f"party must be one of {', '.join(PARTIES)}", field="party"))
    if not str(data.get("purpose") or "").strip():
        problems.append(Problem("say what the file is needed for", field="purpose"))
    if party == "external" and not str(data.get("credentials") or "").strip():
        problems.append(Problem("an external party shows an introduction letter or ID (RET-19): record it",
                                field="credentials"))
    if problems:
        raise InvalidInput(problems)
    loan = FileLoan(household_id=household.id, kind=data["kind"], party=party, requester=actor.username,
                    purpose=data["purpose"].strip(), credentials=(data.get("credentials") or "").strip() or None,
                    status="requested", requested_at=clock.now())
    db.session.add(loan)
    db.session.commit()
    return loan


def approver_roles(loan: FileLoan) -> set[str]:
    """RET-19/20: the project head for external parties and copies of key customers' files; otherwise a
    department head (RET-18)."""
    if loan.party == "external" or (loan.kind == "copy" and loan.household.key_customer):
        return {"Manager"}
    return {"Manager", "DepartmentHead"}


def decide(loan_id: int, actor: Actor, approve: bool, note: str) -> FileLoan:
    loan = _loan(loan_id)
    if loan.status != "requested":
        raise Conflict(f"request {loan_id} was already {loan.status}")
    if loan.requester == actor.username:
        raise Forbidden("nobody approves their own request (RET-21)")
    needed = approver_roles(loan)
    if not needed & actor.roles:
        raise Forbidden(f"this request needs the consent of a {' or '.join(sorted(needed))}")
    if not (note or "").strip():
        raise InvalidInput(Problem("a decision needs a note", field="note"))
    loan.status, loan.approver = ("approved" if approve else "rejected"), actor.username
    loan.decision_note, loan.decided_at = note.strip(), clock.now()
    db.session.commit()
    return loan


def return_loan(loan_id: int, actor: Actor) -> FileLoan:
    loan = _loan(loan_id)
    if loan.status != "approved":
        raise Conflict(f"request {loan_id} is {loan.status}; only an approved loan comes back")
    loan.status, loan.returned_at = "returned", clock.now()
    db.session.commit()
    return loan


def _loan(loan_id: int) -> FileLoan:
    loan = db.session.get(FileLoan, loan_id)
    if loan is None:
        raise NotFound(f"no file request {loan_id}")
    return loan


def loan_to_dict(loan: FileLoan) -> dict:
    return {"id": loan.id, "household_id": loan.household_id, "file_no": loan.household.file_no, "kind": loan.kind,
            "party": loan.party, "requester": loan.requester, "purpose": loan.purpose, "status": loan.status,
            "approver": loan.approver, "decision_note": loan.decision_note,
            "requested_at": iso(loan.requested_at), "decided_at": iso(loan.decided_at),
            "returned_at": iso(loan.returned_at)}
