"""`kb serve`: the alert-enrichment HTTP service (Alertmanager and PagerDuty webhooks in, Slack out)."""
