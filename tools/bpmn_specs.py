"""The shipped flows as data (see bpmn_build.py). Task names use the SOP's words, 中文 + English."""

SUP = ("lane_supervisor", "客服主管 Supervisor", "Supervisor")
AGENT = ("lane_agent", "回访员 Visitor", "Agent")
MGR = ("lane_manager", "管理处经理 Manager", "Manager")
VP = ("lane_vp", "分管副总 VP", "VP")
DEPT = ("lane_department", "责任部门 Responsible department", "DepartmentHead")

# The visit window: the planner's window_days, never later than the policy due (visit_window of
# POLICY, computed by the app at start and passed as policy_due) when there is one.
DEADLINE = """attempts = 0
try:
    revisit_count
except NameError:
    revisit_count = 0
try:
    co_visitor
except NameError:
    co_visitor = None
visit_due = (now() + timedelta(days=int(window_days))).isoformat()
try:
    if policy_due and datetime.fromisoformat(policy_due) < datetime.fromisoformat(visit_due):
        visit_due = policy_due
except NameError:
    policy_due = None
due = datetime.fromisoformat(visit_due)
visit_remind_at = (due - (due - now()) / 4).isoformat()"""

# The form may omit the outcome (reached); clear it so a retried visit starts fresh.
RECORD = """try:
    outcome
except NameError:
    outcome = None
last_outcome = outcome or 'reached'
outcome = None
attempts = attempts + 1"""

# FLOW-04: reminders go out from the flow itself (notify() is supplied by the app; see FLOW_SCRIPT_FUNCTIONS).
REMIND = """reminded_at = now().isoformat()
notify(users=visitor, task='visit', subject='回访即将到期 Visit due soon: ' + household,
       body='请在 ' + visit_due + ' 前完成回访。Please visit before ' + visit_due + '.')"""
OVERDUE = """notify(roles='Supervisor', subject='回访逾期 Visit overdue: ' + household,
       body='回访期限 ' + visit_due + ' 已过，请处理。The visit was due ' + visit_due + '.')"""

# FLOW-10: the complaint that an unqualified visit opens, with the profile's §5.2 deadlines from now.
OPEN_COMPLAINT = """if not severity:
    severity = 'MINOR'
deadlines = complaint_deadlines(policy, severity, now()) if policy else None
reply_due = deadlines['reply_due'].isoformat() if deadlines else None
resolve_due = deadlines['resolve_due'].isoformat() if deadlines else None
deadlines = None"""

FOLLOWUP = {
    "id": "followup_visit", "name": "回访 Follow-up visit", "pool": "回访管理 Follow-up visit",
    "doc": "FLOW-01…FLOW-11: plan, notify, sign out the numbered 回访记录表, visit within the window, "
           "review, archive or escalate; AMB-21 escalation after 3 unsatisfied re-visits.",
    "lanes": [SUP, AGENT, MGR, VP],
    "nodes": [
        {"id": "start", "kind": "start", "name": "回访事件 Trigger event", "lane": "lane_supervisor", "col": 0},
        {"id": "plan", "kind": "user", "name": "制定回访计划 Plan the visit", "lane": "lane_supervisor", "col": 1,
         "form": "followup_visit.plan.schema.json",
         "doc": "FLOW-01: the supervisor plans the visit and assigns a visitor; on completion the app notifies the "
                "visitor (FLOW-02) and signs out the next serially numbered 回访记录表 (FLOW-03, REC-01).",
         "instructions": "制定回访计划并指定回访员。Plan the visit and name the visitor."},
        {"id": "compute_deadline", "kind": "script", "name": "计算回访期限 Compute the visit deadline",
         "lane": "lane_agent", "col": 2, "script": DEADLINE,
         "doc": "FLOW-04: the window closes at the planner's window or the policy due (visit_window), whichever is "
                "first; a due-soon reminder fires at three quarters of the window."},
        {"id": "visit", "kind": "user", "name": "回访并记录 Visit and record", "lane": "lane_agent", "col": 3,
         "form": "followup_visit.visit.schema.json", "ui_form": "followup_visit.visit.ui.json", "due": "visit_due",
         "assignee": "visitor",
         "doc": "FLOW-05/06/07/08: visit within the window (optional appointment), record unreachable/refused with "
                "a reason (001-S), resolve on the spot or promise a reply time; HOME visits need the customer's "
                "signature (AMB-27); the visitor signs and returns the form.",
         "instructions": "在期限内回访客户并记录。Visit the customer before the deadline and record the result."},
        {"id": "visit_due_soon", "kind": "boundary", "name": "回访即将到期 Visit due soon", "attached": "visit",
         "interrupting": False, "timer": "visit_remind_at", "offset": 0,
         "doc": "FLOW-04: non-interrupting reminder before the window closes."},
        {"id": "visit_overdue", "kind": "boundary", "name": "回访逾期 Visit overdue", "attached": "visit",
         "timer": "visit_due", "offset": 1, "doc": "FLOW-04: an overdue visit escalates to the supervisor."},
        {"id": "remind", "kind": "script", "name": "提醒回访员 Remind the visitor", "lane": "lane_agent", "col": 4,
         "script": REMIND, "doc": "FLOW-04: the visitor is told (in the app, and by e-mail when configured)."},
        {"id": "reminded", "kind": "end", "name": "已提醒 Reminded", "lane": "lane_agent", "col": 5},
        {"id": "record_visit", "kind": "script", "name": "登记回访结果 Record the attempt", "lane": "lane_agent",
         "col": 5, "script": RECORD},
        {"id": "outcome_gateway", "kind": "xgw", "name": "联系上? Reached?", "lane": "lane_agent", "col": 6,
         "default": "to_joint"},
        {"id": "notify_overdue", "kind": "script", "name": "通知主管 Tell the supervisor",
         "lane": "lane_supervisor", "col": 3, "script": OVERDUE,
         "doc": "FLOW-04: the supervisors are told that the visit is overdue."},
        {"id": "joint_gateway", "kind": "xgw", "name": "会同回访? Joint visit?", "lane": "lane_agent", "col": 7,
         "default": "to_review"},
        {"id": "co_sign", "kind": "user", "name": "会同回访人签字 Joint visitor signs", "lane": "lane_agent", "col": 8,
         "form": "followup_visit.cosign.schema.json", "assignee": "co_visitor", "due": "visit_due",
         "doc": "AMB-44: a general complaint is visited jointly by the complained department's head and the "
                "visitor; every visitor signs the record before it goes to review.",
         "instructions": "核对回访记录并签字。Check the visit record and sign it."},
        {"id": "handle_overdue", "kind": "user", "name": "处理逾期回访 Handle the overdue visit",
         "lane": "lane_supervisor", "col": 4, "form": "followup_visit.opinion.schema.json",
         "doc": "FLOW-04: the supervisor records how the overdue visit is handled."},
        {"id": "overdue_closed", "kind": "end", "name": "逾期已处理 Overdue handled", "lane": "lane_supervisor",
         "col": 5},
        {"id": "review", "kind": "user", "name": "审核回访记录 Review the visit record", "lane": "lane_supervisor",
         "col": 7, "form": "followup_visit.review.schema.json",
         "doc": "FLOW-09: the supervisor reviews the returned form, adds a comment and classifies it."},
        {"id": "qualified_gateway", "kind": "xgw", "name": "合格? Qualified?", "lane": "lane_supervisor", "col": 8,
         "default": "unqualified_flow"},
        {"id": "archived", "kind": "end", "name": "归档 Archived", "lane": "lane_supervisor", "col": 9,
         "doc": "FLOW-11: qualified forms are archived."},
        {"id": "open_complaint", "kind": "script", "name": "转投诉处理 Open complaint handling",
         "lane": "lane_manager", "col": 9, "script": OPEN_COMPLAINT,
         "doc": "FLOW-10: an unqualified result is handled as a complaint of the visit's severity (MINOR when the "
                "visit had none); its reply/resolve deadlines come from the profile (§5.2)."},
        {"id": "complaint_handling", "kind": "call", "called": "complaint_case",
         "name": "投诉处理 Complaint handling", "lane": "lane_manager", "col": 10,
         "doc": "FLOW-10: the complaint_case flow runs inside this visit: reply and resolve within the SLAs, "
                "escalations on breach (CMP-01), close."},
        {"id": "manager_opinion", "kind": "user", "name": "记录处理意见 Record the processing opinion",
         "lane": "lane_manager", "col": 11, "form": "followup_visit.opinion.schema.json",
         "doc": "FLOW-10: after complaint handling the manager records the processing opinion; the flow re-visits "
                "the customer until satisfied.",
         "instructions": "记录对不合格回访的处理意见。Record the processing opinion on the unqualified visit."},
        {"id": "revisit_gateway", "kind": "xgw", "name": "再次回访? Re-visit?", "lane": "lane_manager", "col": 12,
         "default": "to_count_revisit"},
        {"id": "count_revisit", "kind": "script", "name": "安排再次回访 Schedule the re-visit", "lane": "lane_manager",
         "col": 13, "script": "revisit_count = revisit_count + 1\nqualified = None"},
        {"id": "vp_opinion", "kind": "user", "name": "副总处理意见 VP's processing opinion", "lane": "lane_vp",
         "col": 13, "form": "followup_visit.opinion.schema.json",
         "doc": "AMB-21: still unsatisfied after 3 re-visits: escalated to the manager and then the VP."},
        {"id": "escalated", "kind": "end", "name": "已升级 Escalated", "lane": "lane_vp", "col": 14},
    ],
    "flows": [
        ("to_plan", "start", "plan", None, None),
        ("to_deadline", "plan", "compute_deadline", None, None),
        ("to_visit", "compute_deadline", "visit", None, None),
        ("to_record", "visit", "record_visit", None, None),
        ("to_outcome", "record_visit", "outcome_gateway", None, None),
        ("retry_flow", "outcome_gateway", "visit", "再联系 retry (001-S)",
         "last_outcome in ('unreachable', 'refused') and attempts < 3"),
        ("to_joint", "outcome_gateway", "joint_gateway", None, None),
        ("to_co_sign", "joint_gateway", "co_sign", "会同 joint (AMB-44)", "bool(co_visitor)"),
        ("to_review", "joint_gateway", "review", None, None),
        ("co_signed", "co_sign", "review", None, None),
        ("to_remind", "visit_due_soon", "remind", None, None),
        ("to_reminded", "remind", "reminded", None, None),
        ("to_notify_overdue", "visit_overdue", "notify_overdue", None, None),
        ("to_handle_overdue", "notify_overdue", "handle_overdue", None, None),
        ("to_overdue_closed", "handle_overdue", "overdue_closed", None, None),
        ("to_gateway", "review", "qualified_gateway", None, None),
        ("qualified_flow", "qualified_gateway", "archived", "合格 qualified", "qualified == True"),
        ("unqualified_flow", "qualified_gateway", "open_complaint", "不合格 unqualified", None),
        ("to_complaint_handling", "open_complaint", "complaint_handling", None, None),
        ("to_manager_opinion", "complaint_handling", "manager_opinion", None, None),
        ("to_revisit_gateway", "manager_opinion", "revisit_gateway", None, None),
        ("to_count_revisit", "revisit_gateway", "count_revisit", "再次回访 re-visit", None),
        ("to_vp", "revisit_gateway", "vp_opinion", "3次仍不满意 3 re-visits (AMB-21)", "revisit_count >= 3"),
        ("revisit_flow", "count_revisit", "compute_deadline", None, None),
        ("to_escalated", "vp_opinion", "escalated", None, None),
    ],
}

COMPLAINT = {
    "id": "complaint_case", "name": "投诉处理 Complaint case", "pool": "投诉处理 Complaint handling",
    "doc": "§5.2 complaint SLAs (P003): reply and resolve deadlines by severity, escalation on breach (CMP-01); "
           "closing the case triggers the 100% complaint visit (the app starts followup_visit).",
    "lanes": [SUP, DEPT, MGR],
    "nodes": [
        {"id": "start", "kind": "start", "name": "投诉受理 Complaint received", "lane": "lane_supervisor", "col": 0},
        {"id": "deadlines", "kind": "script", "name": "计算时限 Compute the deadlines", "lane": "lane_supervisor",
         "col": 1, "script": "reply_breached = False\nresolve_breached = False\n"
                               "# a profile without §5.2 SLAs sets no deadline: its timers never fire\n"
                               "NO_SLA = '9999-12-31T00:00:00+00:00'\n"
                               "try:\n    reply_due\nexcept NameError:\n    reply_due = None\n"
                               "try:\n    resolve_due\nexcept NameError:\n    resolve_due = None",
         "doc": "§5.2: reply_due and resolve_due (ISO 8601 with offset) come in the start data, computed by the app "
                "from the policy snapshot (POLICY's complaint_deadlines, working-day calendar)."},
        {"id": "reply", "kind": "user", "name": "答复客户 Reply to the customer", "lane": "lane_supervisor",
         "col": 2, "form": "complaint_case.reply.schema.json", "due": "reply_due",
         "doc": "§5.2: first reply to the customer within the reply SLA (MAJOR: 2 hours)."},
        {"id": "reply_late", "kind": "boundary", "name": "答复超时 Reply overdue", "attached": "reply",
         "interrupting": False, "timer": "reply_due or NO_SLA", "offset": 0,
         "doc": "CMP-01: a missed reply deadline is recorded and escalated to the manager; the reply is still due."},
        {"id": "mark_reply_breach", "kind": "script", "name": "记录超时 Record the breach", "lane": "lane_manager",
         "col": 3, "script": "reply_breached = True"},
        {"id": "reply_escalation", "kind": "user", "name": "督办答复 Follow up the late reply", "lane": "lane_manager",
         "col": 4, "form": "complaint_case.escalation.schema.json"},
        {"id": "reply_escalated", "kind": "end", "name": "已督办 Followed up", "lane": "lane_manager", "col": 5},
        {"id": "resolve", "kind": "user", "name": "处理投诉 Resolve the complaint", "lane": "lane_department",
         "col": 3, "form": "complaint_case.resolve.schema.json", "due": "resolve_due",
         "doc": "§5.2: resolve within the resolve SLA; an extension needs a reason and the breach is still "
                "reported (CMP-01)."},
        {"id": "resolve_late", "kind": "boundary", "name": "处理超时 Resolution overdue", "attached": "resolve",
         "interrupting": False, "timer": "resolve_due or NO_SLA", "offset": 0},
        {"id": "mark_resolve_breach", "kind": "script", "name": "记录超时 Record the breach", "lane": "lane_manager",
         "col": 6, "script": "resolve_breached = True"},
        {"id": "resolve_escalation", "kind": "user", "name": "督办处理 Follow up the late resolution",
         "lane": "lane_manager", "col": 7, "form": "complaint_case.escalation.schema.json"},
        {"id": "resolve_escalated", "kind": "end", "name": "已督办 Followed up", "lane": "lane_manager", "col": 8},
        {"id": "close", "kind": "user", "name": "结案 Close the case", "lane": "lane_supervisor", "col": 5,
         "form": "complaint_case.close.schema.json",
         "doc": "Closing triggers the complaint visit (100%; visitor role by severity and profile §1.2; AMB-44 "
                "joint visit for general complaints)."},
        {"id": "closed", "kind": "end", "name": "已结案 Closed", "lane": "lane_supervisor", "col": 6},
    ],
    "flows": [
        ("to_deadlines", "start", "deadlines", None, None),
        ("to_reply", "deadlines", "reply", None, None),
        ("to_resolve", "reply", "resolve", None, None),
        ("to_mark_reply", "reply_late", "mark_reply_breach", None, None),
        ("to_reply_escalation", "mark_reply_breach", "reply_escalation", None, None),
        ("to_reply_escalated", "reply_escalation", "reply_escalated", None, None),
        ("to_mark_resolve", "resolve_late", "mark_resolve_breach", None, None),
        ("to_resolve_escalation", "mark_resolve_breach", "resolve_escalation", None, None),
        ("to_resolve_escalated", "resolve_escalation", "resolve_escalated", None, None),
        ("to_close", "resolve", "close", None, None),
        ("to_closed", "close", "closed", None, None),
    ],
}

REPAIR = {
    "id": "repair_followup", "name": "维修回访 Repair follow-up", "pool": "维修回访 Repair follow-up",
    "doc": "SMP-01/02: a sampled repair order is visited; unsatisfied → rework within 24 h (RPR-02/03) → visit again.",
    "lanes": [AGENT, DEPT],
    "nodes": [
        {"id": "start", "kind": "start", "name": "抽中的维修单 Sampled repair order", "lane": "lane_agent", "col": 0},
        {"id": "visit", "kind": "user", "name": "维修回访 Visit the repair", "lane": "lane_agent", "col": 1,
         "form": "repair_followup.visit.schema.json", "due": "visit_due", "assignee": "visitor",
         "doc": "SMP-01/02: visit the sampled repair; HOME visits need the customer's signature (AMB-27)."},
        {"id": "satisfied_gateway", "kind": "xgw", "name": "满意? Satisfied?", "lane": "lane_agent", "col": 2,
         "default": "to_rework_due"},
        {"id": "archived", "kind": "end", "name": "归档 Archived", "lane": "lane_agent", "col": 3},
        {"id": "rework_due_script", "kind": "script", "name": "返修时限 Rework deadline", "lane": "lane_department",
         "col": 2, "script": "rework_due = (now() + timedelta(hours=24)).isoformat()\n"
                             "visit_due = (now() + timedelta(days=3)).isoformat()",
         "doc": "RPR-02/03: rework within 24 hours of the unsatisfied visit."},
        {"id": "rework", "kind": "user", "name": "返修 Rework", "lane": "lane_department", "col": 3,
         "form": "repair_followup.rework.schema.json", "due": "rework_due"},
    ],
    "flows": [
        ("to_visit", "start", "visit", None, None),
        ("to_gateway", "visit", "satisfied_gateway", None, None),
        ("satisfied_flow", "satisfied_gateway", "archived", "满意 satisfied", "satisfied == True"),
        ("to_rework_due", "satisfied_gateway", "rework_due_script", "不满意 unsatisfied", None),
        ("to_rework", "rework_due_script", "rework", None, None),
        ("revisit_flow", "rework", "visit", "再次回访 visit again", None),
    ],
}

ARCHIVIST = ("lane_archivist", "档案管理员 Archivist", "Archivist")

DESTRUCTION = {
    "id": "record_destruction", "name": "记录销毁 Record destruction", "pool": "档案销毁 Record destruction",
    "doc": "RET-14: expired records are listed by the archivist, approved by the department head (manager) and "
           "destroyed under a supervisor's eyes (监销); the destruction register is kept permanently.",
    "lanes": [ARCHIVIST, MGR, SUP],
    "nodes": [
        {"id": "start", "kind": "start", "name": "到期记录 Expired records", "lane": "lane_archivist", "col": 0},
        {"id": "propose", "kind": "user", "name": "提出销毁清单 Propose the destruction list",
         "lane": "lane_archivist", "col": 1, "form": "record_destruction.propose.schema.json",
         "doc": "RET-14: the archivist checks the listed records (retention ended, no legal hold) and proposes them.",
         "instructions": "核对清单中的记录均已过保存期且无法律保全。Check every listed record has expired and is not on hold."},
        {"id": "approve", "kind": "user", "name": "审批销毁 Approve the destruction", "lane": "lane_manager",
         "col": 2, "form": "record_destruction.approve.schema.json",
         "doc": "RET-14: the department head approves or rejects the list."},
        {"id": "approved_gateway", "kind": "xgw", "name": "批准? Approved?", "lane": "lane_manager", "col": 3,
         "default": "rejected_flow"},
        {"id": "rejected", "kind": "end", "name": "未批准 Rejected", "lane": "lane_manager", "col": 4},
        {"id": "witness", "kind": "user", "name": "监销确认 Witness the destruction", "lane": "lane_supervisor",
         "col": 4, "form": "record_destruction.witness.schema.json",
         "doc": "RET-14: a supervisor witnesses the destruction (监销); completing this step destroys the records' "
                "contents and writes the destruction register."},
        {"id": "destroyed", "kind": "end", "name": "已销毁 Destroyed", "lane": "lane_supervisor", "col": 5},
    ],
    "flows": [
        ("to_propose", "start", "propose", None, None),
        ("to_approve", "propose", "approve", None, None),
        ("to_gateway", "approve", "approved_gateway", None, None),
        ("approved_flow", "approved_gateway", "witness", "批准 approved", "approved == True"),
        ("rejected_flow", "approved_gateway", "rejected", "不批准 rejected", None),
        ("to_destroyed", "witness", "destroyed", None, None),
    ],
}

FILING = {
    "id": "record_filing", "name": "回访记录归档 Filing the visit records", "pool": "归档 Filing",
    "doc": "RET-02/AMB-09: the period's visit records are filed with the custodian by the profile's filing "
           "deadline (P000-1 month end, P000-3 the 10th of the next month, P000-2/4 the 10th after the quarter).",
    "lanes": [ARCHIVIST],
    "nodes": [
        {"id": "start", "kind": "start", "name": "本期开始 Period begins", "lane": "lane_archivist", "col": 0},
        {"id": "file", "kind": "user", "name": "归档本期回访记录 File the period's visit records",
         "lane": "lane_archivist", "col": 1, "form": "record_filing.file.schema.json", "due": "filing_due",
         "doc": "RET-02: file the period's 回访记录表 and sign-out sheets; filing after the deadline is recorded as late.",
         "instructions": "将本期回访记录表及签收表交档案室归档。File the period's visit record forms and sign-out sheets."},
        {"id": "record_lateness", "kind": "script", "name": "记录是否逾期 Record lateness", "lane": "lane_archivist",
         "col": 2, "script": "filed_at = now().isoformat()\nlate = now() > datetime.fromisoformat(filing_due)"},
        {"id": "filed", "kind": "end", "name": "已归档 Filed", "lane": "lane_archivist", "col": 3},
    ],
    "flows": [
        ("to_file", "start", "file", None, None),
        ("to_lateness", "file", "record_lateness", None, None),
        ("to_filed", "record_lateness", "filed", None, None),
    ],
}

QA = ("lane_quality", "品质管理部 Quality dept", "QualityDept")

CAPA = {
    "id": "capa", "name": "纠正与预防措施 Corrective and preventive action", "pool": "纠正与预防措施 CAPA",
    "doc": "FLOW-13/14, REC-22 (003-RV 3.4, 3.2.5.3; 003-FC 3.6): a statistical finding (unqualified visit, the "
           "same matter complained about repeatedly, the same repair repeatedly, rising complaints) is analysed, "
           "corrective and preventive actions are defined, reviewed by the CS supervisor, approved by the project "
           "head, implemented, verified by the CS dept, and the customer is visited again to be told the measures. "
           "Every step fills the 纠正与预防措施实施表 (printed as PDF).",
    "lanes": [DEPT, SUP, MGR, AGENT],
    "nodes": [
        {"id": "start", "kind": "start", "name": "统计发现问题 Finding", "lane": "lane_supervisor", "col": 0,
         "doc": "Started from a finding of the period statistics; the start data carries the finding and its visits."},
        {"id": "analysis", "kind": "user", "name": "原因分析 Analyse the cause", "lane": "lane_department", "col": 1,
         "form": "capa.analysis.schema.json",
         "doc": "CAT-SV-03: the departments analyse why it happened and whether the project is at fault.",
         "instructions": "分析问题产生的原因。Analyse why the problem occurred."},
        {"id": "measures", "kind": "user", "name": "制定纠正与预防措施 Define the corrective and preventive actions",
         "lane": "lane_department", "col": 2, "form": "capa.measures.schema.json",
         "doc": "REC-22: corrective action, preventive action, the person responsible and the due date."},
        {"id": "review", "kind": "user", "name": "客服主管审核 Supervisor review", "lane": "lane_supervisor", "col": 3,
         "form": "capa.review.schema.json", "doc": "FLOW-14: the CS head reviews the CAPA form (003-RV 3.4)."},
        {"id": "review_gateway", "kind": "xgw", "name": "审核通过? Reviewed?", "lane": "lane_supervisor", "col": 4,
         "default": "review_rejected"},
        {"id": "approve", "kind": "user", "name": "管理处经理批准 Manager approval", "lane": "lane_manager", "col": 5,
         "form": "capa.approve.schema.json", "doc": "FLOW-14/18: the project head approves (or sends it back)."},
        {"id": "approve_gateway", "kind": "xgw", "name": "批准? Approved?", "lane": "lane_manager", "col": 6,
         "default": "approval_rejected"},
        {"id": "set_due", "kind": "script", "name": "设定整改期限 Set the implementation deadline",
         "lane": "lane_department", "col": 6,
         "script": "implement_due = due_date + 'T23:59:59.999999+08:00'",
         "doc": "The actions are due at 24:00 of the due date the department set (§0.4)."},
        {"id": "implement", "kind": "user", "name": "实施纠正与预防措施 Implement the actions",
         "lane": "lane_department", "col": 7, "form": "capa.implement.schema.json", "due": "implement_due",
         "doc": "FLOW-14: the responsible department implements; the CS dept organises and supervises."},
        {"id": "verify", "kind": "user", "name": "验证实施效果 Verify the effect", "lane": "lane_supervisor", "col": 8,
         "form": "capa.verify.schema.json",
         "doc": "CAT-SV-03: the CS dept verifies the implementation; not effective → implement again."},
        {"id": "verify_gateway", "kind": "xgw", "name": "有效? Effective?", "lane": "lane_supervisor", "col": 9,
         "default": "not_effective"},
        {"id": "revisit_gateway", "kind": "xgw", "name": "需回访客户? Customer to re-visit?", "lane": "lane_agent",
         "col": 10, "default": "no_revisit"},
        {"id": "revisit", "kind": "user", "name": "回访客户告知措施 Re-visit the customer with the measures",
         "lane": "lane_agent", "col": 11, "form": "capa.revisit.schema.json",
         "doc": "CAT-SV-03: re-visit the customer to report the measures and seek understanding; record time, "
                "visitor, method and the customer's satisfaction (the report's 回访情况 column).",
         "instructions": "回访客户，告知纠正与预防措施并征询意见。Tell the customer what was done and ask for their view."},
        {"id": "closed", "kind": "end", "name": "关闭 Closed", "lane": "lane_supervisor", "col": 12},
    ],
    "flows": [
        ("to_analysis", "start", "analysis", None, None),
        ("to_measures", "analysis", "measures", None, None),
        ("to_review", "measures", "review", None, None),
        ("to_review_gateway", "review", "review_gateway", None, None),
        ("reviewed", "review_gateway", "approve", "通过 reviewed", "approved == True"),
        ("review_rejected", "review_gateway", "analysis", "退回 back", None),
        ("to_approve_gateway", "approve", "approve_gateway", None, None),
        ("approved_flow", "approve_gateway", "set_due", "批准 approved", "approved == True"),
        ("approval_rejected", "approve_gateway", "analysis", "退回 back", None),
        ("to_implement", "set_due", "implement", None, None),
        ("to_verify", "implement", "verify", None, None),
        ("to_verify_gateway", "verify", "verify_gateway", None, None),
        ("effective", "verify_gateway", "revisit_gateway", "有效 effective", "effective == True"),
        ("not_effective", "verify_gateway", "implement", "无效 again", None),
        ("to_revisit", "revisit_gateway", "revisit", "回访 re-visit", "revisit_needed == True"),
        ("no_revisit", "revisit_gateway", "closed", None, None),
        ("to_closed", "revisit", "closed", None, None),
    ],
}

# ---- periodic reports (§4.2, §4.4, §6): the worker starts one instance per project and period; each waits on
# its timer start event (opens_at, with offset) until compiling opens. Dates come from workflows.policy.reporting.

MONTHLY_SUMMARY = {
    "id": "monthly_summary", "name": "月回访汇总 Monthly visit summary", "pool": "月回访汇总表 Monthly visit summary",
    "doc": "V1-3/V1-4 (P000-1/P000-7, 第1篇/第7篇 4.7–4.8): before the 24th the supervisor summarises the month's "
           "《业主回访记录表》 into 《月回访汇总表》, the project manager reviews and analyses it, on the 25th it goes "
           "with the work plan to the VP for approval, and the quality dept organises the implementation.",
    "lanes": [SUP, MGR, VP, QA],
    "nodes": [
        {"id": "start", "kind": "start", "name": "汇总时间到 Compiling opens", "lane": "lane_supervisor", "col": 0,
         "timer": "opens_at", "doc": "Timer start event: 00:00 of the due day (report_due, strict: before the 24th)."},
        {"id": "compile", "kind": "user", "name": "汇总月回访汇总表 Compile the monthly visit summary",
         "lane": "lane_supervisor", "col": 1, "form": "monthly_summary.compile.schema.json", "due": "due_at",
         "doc": "V1-3: the system compiles the month's visit records; the supervisor checks them and adds remarks.",
         "instructions": "核对本月回访汇总并填写说明。Check the month's summary (PDF/Excel) and add your remarks."},
        {"id": "review", "kind": "user", "name": "项目经理审核分析 Project manager reviews and analyses",
         "lane": "lane_manager", "col": 2, "form": "monthly_summary.review.schema.json", "due": "review_due",
         "doc": "V1-3: the project manager reviews and analyses the summary and attaches the work plan."},
        {"id": "wait_submit", "kind": "timer", "name": "25日报送 Submit on the 25th", "lane": "lane_manager", "col": 3,
         "timer": "submit_at", "doc": "V1-3: the summary goes to the VP on the approval day (25th)."},
        {"id": "approve", "kind": "user", "name": "分管副总审批 VP approval", "lane": "lane_vp", "col": 4,
         "form": "monthly_summary.approve.schema.json", "doc": "V1-3: the VP approves and gives instructions."},
        {"id": "approved_gateway", "kind": "xgw", "name": "批准? Approved?", "lane": "lane_vp", "col": 5,
         "default": "returned"},
        {"id": "implement", "kind": "user", "name": "品质管理部组织落实 Quality dept organises the implementation",
         "lane": "lane_quality", "col": 6, "form": "monthly_summary.implement.schema.json",
         "doc": "V1-4: after the VP's instruction the quality dept organises and supervises the departments."},
        {"id": "done", "kind": "end", "name": "完成 Done", "lane": "lane_quality", "col": 7},
    ],
    "flows": [
        ("to_compile", "start", "compile", None, None),
        ("to_review", "compile", "review", None, None),
        ("to_wait", "review", "wait_submit", None, None),
        ("to_approve", "wait_submit", "approve", None, None),
        ("to_gateway", "approve", "approved_gateway", None, None),
        ("approved_flow", "approved_gateway", "implement", "批准 approved", "approved == True"),
        ("returned", "approved_gateway", "compile", "退回 returned", None),
        ("to_done", "implement", "done", None, None),
    ],
}

STATISTICS = {
    "id": "period_statistics", "name": "回访统计分析 Period statistics", "pool": "回访统计 Period statistics",
    "doc": "FLOW-12/13 (§4.4; AMB-07): at the end of each statistics period (month, quarter, half-year) the visits "
           "are counted and analysed (unqualified visits, the same matter complained about repeatedly, the same "
           "repair repeatedly, rising complaints), the written report is reviewed by the supervisor and the manager "
           "decides which findings go to CAPA (FLOW-18).",
    "lanes": [AGENT, SUP, MGR],
    "nodes": [
        {"id": "start", "kind": "start", "name": "统计期结束 Period ends", "lane": "lane_agent", "col": 0,
         "timer": "opens_at", "doc": "Timer start event: 00:00 after the period's last day."},
        {"id": "compile", "kind": "user", "name": "统计分析回访结果 Compile the statistics and the analysis report",
         "lane": "lane_agent", "col": 1, "form": "period_statistics.compile.schema.json", "due": "due_at",
         "doc": "FLOW-12/13, REC-03/04: the period's counts and findings are compiled; write the analysis.",
         "instructions": "根据统计表撰写统计分析报告。Write the analysis from the statistics (PDF/Excel)."},
        {"id": "review", "kind": "user", "name": "主管审核 Supervisor reviews the report", "lane": "lane_supervisor",
         "col": 2, "form": "period_statistics.review.schema.json"},
        {"id": "review_gateway", "kind": "xgw", "name": "通过? Passed?", "lane": "lane_supervisor", "col": 3,
         "default": "sent_back"},
        {"id": "decide", "kind": "user", "name": "经理决定是否纠正预防 Manager decides on CAPA", "lane": "lane_manager",
         "col": 4, "form": "period_statistics.decide.schema.json",
         "doc": "FLOW-13/18: the manager decides whether (and for which findings) the CAPA SOP applies; the app "
                "starts a CAPA for each finding named."},
        {"id": "done", "kind": "end", "name": "完成 Done", "lane": "lane_manager", "col": 5},
    ],
    "flows": [
        ("to_compile", "start", "compile", None, None),
        ("to_review", "compile", "review", None, None),
        ("to_gateway", "review", "review_gateway", None, None),
        ("passed", "review_gateway", "decide", "通过 passed", "approved == True"),
        ("sent_back", "review_gateway", "compile", "退回 back", None),
        ("to_done", "decide", "done", None, None),
    ],
}

RATE_REPORT = {
    "id": "rate_report", "name": "回访率报表 Visit rate report", "pool": "回访率报表 Visit rate report",
    "doc": "KPI-04…08 (P001-S 第十二条–第十四条): before the 5th the visit specialist reports the previous month's "
           "《回访率报表》 (coverage, success, validity ≥80%) and 《客户满意度得分统计表》 (average score per business unit); "
           "operations management reviews them.",
    "lanes": [AGENT, MGR],
    "nodes": [
        {"id": "start", "kind": "start", "name": "月初 Month begins", "lane": "lane_agent", "col": 0,
         "timer": "opens_at", "doc": "Timer start event: 00:00 of the 1st, for the month just ended."},
        {"id": "compile", "kind": "user", "name": "编制回访率报表及满意度得分统计表 Compile the rate report and score table",
         "lane": "lane_agent", "col": 1, "form": "rate_report.compile.schema.json", "due": "due_at",
         "instructions": "核对报表并说明无效项。Check the report (PDF/Excel) and explain any invalid rows."},
        {"id": "review", "kind": "user", "name": "运营管理部审核 Operations management reviews", "lane": "lane_manager",
         "col": 2, "form": "rate_report.review.schema.json", "doc": "KPI-10: results feed the units' assessment."},
        {"id": "review_gateway", "kind": "xgw", "name": "通过? Passed?", "lane": "lane_manager", "col": 3,
         "default": "sent_back"},
        {"id": "done", "kind": "end", "name": "完成 Done", "lane": "lane_manager", "col": 4},
    ],
    "flows": [
        ("to_compile", "start", "compile", None, None),
        ("to_review", "compile", "review", None, None),
        ("to_gateway", "review", "review_gateway", None, None),
        ("passed", "review_gateway", "done", "通过 passed", "approved == True"),
        ("sent_back", "review_gateway", "compile", "退回 back", None),
    ],
}

SPECS = [FOLLOWUP, COMPLAINT, REPAIR, DESTRUCTION, FILING, CAPA, MONTHLY_SUMMARY, STATISTICS, RATE_REPORT]
