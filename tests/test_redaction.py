from __future__ import annotations

import pytest

from ingest.redaction import redact

SECRETS = {
    "aws-access-key": ("key AKIAZ7QX2M4N8P0RTV3W in the log", "AKIAZ7QX2M4N8P0RTV3W"),
    "aws-secret-key": (
        "aws_secret_access_key = q8Zr2bN5xV0mK3cJ7hT1yW4pL6sD9fG2aE5uR8iO",
        "q8Zr2bN5xV0mK3cJ7hT1yW4pL6sD9fG2aE5uR8iO",
    ),
    "github-token": (
        "token ghp_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6 pasted",
        "ghp_Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6",
    ),
    "slack-token": (
        "SLACK_BOT=xoxb-2847561039-4829105736251-Qw7Er9Ty2Ui4Op6As8Df1Gh3",
        "xoxb-2847561039-4829105736251-Qw7Er9Ty2Ui4Op6As8Df1Gh3",
    ),
    "stripe-key": ("stripe sk_live_51Hx8QpLm2Nv7Rt4Yw9Zc3Bk6", "sk_live_51Hx8QpLm2Nv7Rt4Yw9Zc3Bk6"),
    "openai-key": ("OPENAI sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34", "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34"),
    "jwt": (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMtYm90In0.x9Fq2LmZ8kP3vN7rT1wY",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHMtYm90In0.x9Fq2LmZ8kP3vN7rT1wY",
    ),
    "bearer-token": (
        "curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706f5e4d3c2b1a0'",
        "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
    ),
    "url-password": ("postgres://orders_app:Tr0ub4dor-q7Zx@orders-db.internal:5432/orders", "Tr0ub4dor-q7Zx"),
    "password-assignment": ("PGPASSWORD=Vq8-ordersRW-2291 psql -h db", "Vq8-ordersRW-2291"),
    "conn-string-password": ("Server=db;User Id=sa;Password=Pa55w0rd-xyz;", "Pa55w0rd-xyz"),
    "private-key": (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4f\nQ2b9\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAx4f",
    ),
}


@pytest.mark.parametrize("rule", sorted(SECRETS))
def test_each_kind_of_secret_is_replaced_by_a_named_marker(rule: str) -> None:
    text, secret = SECRETS[rule]
    result = redact(text)
    assert secret not in result.text
    assert "[REDACTED:" in result.text
    assert result.total >= 1


def test_context_is_kept_and_only_the_value_replaced() -> None:
    result = redact("connect with postgres://orders_app:Tr0ub4dor-q7Zx@orders-db.internal:5432/orders now")
    assert (
        result.text == "connect with postgres://orders_app:[REDACTED:url-password]@orders-db.internal:5432/orders now"
    )


def test_placeholders_and_prose_are_left_alone() -> None:
    text = "Set password=$DB_PASS from Vault. The password: <from vault>. Rotate the api_key weekly."
    result = redact(text)
    assert result.text == text
    assert result.total == 0


def test_a_key_value_parameter_after_p_is_not_a_password() -> None:
    command = "argocd app set delivery-dispatch -p resources.limits.memory=1Gi -p kafka.maxPollRecords=100"
    assert redact(command).text == command
    assert redact("redis-cli -a c2VjcmV0cGFzcw== ping").text == "redis-cli -a [REDACTED:cli-password] ping"


def test_disabled_redaction_changes_nothing() -> None:
    text, _ = SECRETS["aws-access-key"]
    assert redact(text, enabled=False).text == text


def test_counts_add_up_over_many_secrets() -> None:
    text = "\n".join(t for t, _ in SECRETS.values())
    result = redact(text)
    assert result.total >= len(SECRETS)
    for _, secret in SECRETS.values():
        assert secret not in result.text
