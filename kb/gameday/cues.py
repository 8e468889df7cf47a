"""The words and patterns a game day reads an incident's timeline and chat with: what counts as recovery,
an action (and which kind: roll back, terminate, restart, ...), a finding, an escalation, an action that
made things worse, and the kind of evidence a line is (deploy, alert, customer, logs, dashboard).
"""

from __future__ import annotations

import re

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
CATEGORIES: tuple[tuple[str, re.Pattern[str], tuple[str, ...]], ...] = (
    ("deploy", re.compile(r"\b(deploy|sync|release|v\d+\.\d+|rollout|config push|migration|merged)", re.I),
     ("deploy", "chang", "releas", "rollout", "sync", "version")),
    ("alert", re.compile(r"\b(fires?|fired|FIRING|pages?|paged|alert)", re.I), ("alert", "page", "fire")),
    ("customer", re.compile(r"\b(customers?|support|contacts|users? (?:report|say))", re.I),
     ("custom", "support", "user", "report", "ticket")),
    ("logs", re.compile(r"((?-i:\bERROR\b|\bFATAL\b)|\berror:|\blogs?\b|\bexception|\{\"level\")", re.I),
     ("log", "error", "except", "messag")),
    ("dashboard", re.compile(r"(\bp\d\d\b|latency|error rate|(?<!\d)\d+%|cl_waiting|cpu|memory|lag|queue|rps)", re.I),
     ("dashboard", "metric", "graph", "latenc", "rate", "grafana", "cpu", "memori")),
)


# -- actions -------------------------------------------------------------------------------------

ACTIONS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("rollback", re.compile(r"\b(roll(?:ing|s|ed)? ?back|rollback|revert|undo (?:the )?(?:deploy|release|change)|"
                            r"downgrade|go back to the previous|previous version)", re.I)),
    ("terminate", re.compile(r"\b(terminat\w*|kill\w*|cancel\w*|abort\w*|pg_cancel_backend|pg_terminate_backend|"
                             r"stop (?:the )?(?:query|index|build|migration|session))", re.I)),
    ("raise_limit", re.compile(r"\b(rais\w*|increas\w*|bump\w*|grow\w*|doubl\w*|more)\b.*(?:\b|_)(pool|limit|size|"
                               r"connections|max_connections|quota|memory|heap|timeout)", re.I)),
    # a setting changed to fix it ("config change deployed: max.poll.records=50", "raise max.poll.interval.ms")
    ("reconfigure", re.compile(r"\b(config(?:uration)? change|reconfigur\w*|tun(?:e|ed|es|ing)\b|"
                               r"(?:rais|increas|lower|reduc|decreas)\w* (?:the )?`?\w+\.[\w.]+)", re.I)),
    ("restart", re.compile(r"\b(restart\w*|bounce|recycle|reboot\w*|rollout restart|delete (?:the )?pods?)", re.I)),
    ("scale", re.compile(r"\b(scal\w+ (?:up|out|to|`?[\w.-]+`? (?:from|to) \d)|"
                         r"add (?:more )?(?:replicas|pods|nodes|capacity)|more (?:replicas|pods|workers))", re.I)),
    ("failover", re.compile(r"\b(fail ?over|switch (?:over )?to|promot\w+|move traffic|force[- ]open|"
                            r"secondary provider|backup provider)", re.I)),
    ("disable", re.compile(r"\b(disabl\w*|turn(?:s|ing|ed)? off|switch(?:es|ing|ed)? off|kill switch|flag off|"
                           r"flip (?:the )?flag)", re.I)),
    ("pause", re.compile(r"\b(pause|suspend|stop (?:the )?(?:job|cron\w*|consumer|sync))", re.I)),
    ("flush", re.compile(r"\b(flush|purge|evict|clear (?:the )?cache)", re.I)),
    ("delete", re.compile(r"\b(delet\w*|remov\w*|drop(?:ping|ped)?)\b", re.I)),
    ("page", re.compile(r"\b(page|paging|escalat\w*|pull in|loop in|bring in|call (?:the )?\w+)", re.I)),
    ("declare", re.compile(r"\b(declar\w*|open (?:an )?incident|incident channel|sev ?\d|i'?m ic|"
                           r"incident commander)", re.I)),
    ("communicate", re.compile(r"\b(status ?page|tell support|notify|update (?:the )?(?:customers|support|"
                               r"stakeholders))", re.I)),
)


def action_class(text: str) -> str | None:
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
