"""The words and patterns a game day reads an incident's timeline and chat with: what counts as recovery,
an action (and which kind: roll back, terminate, restart, ...), a finding, an escalation, an action that
made things worse, and the kind of evidence a line is (deploy, alert, customer, logs, dashboard).
"""

from __future__ import annotations

import re

from kb.core.bounded import Cue, linear
from kb.core.enums import ActionKind

RECOVERY = re.compile(
    r"\b(recover(?:s|ed|ing)?|resolve[sd]?|back to normal|drains?|flow again|mitigated|errors? (?:drop|fall)|"
    r"back under|returns? to|stabili[sz]e|\bstable\b|down to \d|drops? to \d|impact ends|impact ended|healthy again)",
    re.I,
)
ACTION_VERBS = re.compile(
    r"(?<![\w.-])(roll\w* back|rollback|revert\w*|restart\w*|scal(?:es|ed|ing) |terminat\w*|kill\w*|cancel\w*|"
    r"runs? `|ran `|fail\w* over|promot\w*|disabl\w*|turn\w* off|rais\w*|increas\w*|delet\w*|drop(?:s|ped)|"
    r"flush\w*|paus\w*|suspend\w*|switch\w*|cordon\w*|drain\w* the node|edit\w*|sets? `|lower\w*|"
    r"re-?driv\w*|apply|applie[sd]|config(?:uration)? change|reconfigur\w*)",
    re.I,
)
WORSE = re.compile(r"\b(made (?:it|things) worse|did(?:n't| not) help|no effect|did(?:n't| not) work)\b", re.I)
FINDING = re.compile(r"(?<![\w.-])(finds?|found|identif\w+|spots?|notices?|confirms?|traces?|links? it)(?![\w-])", re.I)
ESCALATION = re.compile(r"\b(pages?|paged|declares?|incident commander|opens? #|status page|escalat\w+)\b", re.I)
CATEGORIES: tuple[tuple[str, Cue, tuple[str, ...]], ...] = (
    ("deploy", linear(r"\b(deploy|sync|release|v\d+\.\d+|rollout|config push|migration|merged)"),
     ("deploy", "chang", "releas", "rollout", "sync", "version")),
    ("alert", linear(r"\b(fires?|fired|FIRING|pages?|paged|alert)"), ("alert", "page", "fire")),
    ("customer", linear(r"\b(customers?|support|contacts|users? (?:report|say))"),
     ("custom", "support", "user", "report", "ticket")),
    ("logs", linear(r"((?-i:\bERROR\b|\bFATAL\b)|\berror:|\blogs?\b|\bexception|\{\"level\")"),
     ("log", "error", "except", "messag")),
    ("dashboard", linear(r"(\bp\d\d\b|latency|error rate|(?:^|\D)\d+%|cl_waiting|cpu|memory|lag|queue|rps)"),
     ("dashboard", "metric", "graph", "latenc", "rate", "grafana", "cpu", "memori")),
)


# -- actions -------------------------------------------------------------------------------------

ACTIONS: tuple[tuple[ActionKind, Cue], ...] = (
    (ActionKind.rollback, linear(r"\b(roll(?:ing|s|ed)? ?back|rollback|revert|undo (?:the )?(?:deploy|release|change)|"
                            r"downgrade|go back to the previous|previous version)")),
    (ActionKind.terminate, linear(r"\b(terminat\w*|kill\w*|cancel\w*|abort\w*|pg_cancel_backend|pg_terminate_backend|"
                             r"stop (?:the )?(?:query|index|build|migration|session))")),
    (ActionKind.raise_limit, linear(r"\b(rais\w*|increas\w*|bump\w*|grow\w*|doubl\w*|more)\b.*(?:\b|_)(pool|limit|size|"
                               r"connections|max_connections|quota|memory|heap|timeout)")),
    # a setting changed to fix it ("config change deployed: max.poll.records=50", "raise max.poll.interval.ms")
    (ActionKind.reconfigure, linear(r"\b(config(?:uration)? change|reconfigur\w*|tun(?:e|ed|es|ing)\b|"
                               r"(?:rais|increas|lower|reduc|decreas)\w* (?:the )?`?\w+\.[\w.]+)")),
    (ActionKind.restart, linear(r"\b(restart\w*|bounce|recycle|reboot\w*|rollout restart|delete (?:the )?pods?)")),
    (ActionKind.scale, linear(r"\b(scal\w+ (?:up|out|to|`?[\w.-]+`? (?:from|to) \d)|"
                         r"add (?:more )?(?:replicas|pods|nodes|capacity)|more (?:replicas|pods|workers))")),
    (ActionKind.failover, linear(r"\b(fail ?over|switch (?:over )?to|promot\w+|move traffic|force[- ]open|"
                            r"secondary provider|backup provider)")),
    (ActionKind.disable, linear(r"\b(disabl\w*|turn(?:s|ing|ed)? off|switch(?:es|ing|ed)? off|kill switch|flag off|"
                           r"flip (?:the )?flag)")),
    (ActionKind.pause, linear(r"\b(pause|suspend|stop (?:the )?(?:job|cron\w*|consumer|sync))")),
    (ActionKind.flush, linear(r"\b(flush|purge|evict|clear (?:the )?cache)")),
    (ActionKind.delete, linear(r"\b(delet\w*|remov\w*|drop(?:ping|ped)?)\b")),
    (ActionKind.page, linear(r"\b(page|paging|escalat\w*|pull in|loop in|bring in|call (?:the )?\w+)")),
    (ActionKind.declare, linear(r"\b(declar\w*|open (?:an )?incident|incident channel|sev ?\d|i'?m ic|"
                           r"incident commander)")),
    (ActionKind.communicate, linear(r"\b(status ?page|tell support|notify|update (?:the )?(?:customers|support|"
                               r"stakeholders))")),
)


#: actions that tell people (paging, declaring, a status page) rather than change a system
TELLING = (ActionKind.page, ActionKind.declare, ActionKind.communicate)


def action_class(text: str) -> ActionKind | None:
    """The kind of action a sentence describes (first match wins, most specific first)."""
    for name, pattern in ACTIONS:
        if pattern.search(text):
            return name
    return None


def category_of(text: str) -> tuple[str, set[str]]:
    for name, pattern, words in CATEGORIES:
        if pattern.search(text):
            return name, set(words)
    return "symptom", set()
