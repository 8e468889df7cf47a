"""Enriching a firing alert: what the knowledge base knows about it, for the place on-call already looks.

``models`` holds what passes between the parts: an alert group read from a sender's webhook (Alertmanager,
PagerDuty) and the enrichment built for it (similar past incidents, the runbook, what helped last time)."""
