from __future__ import annotations

import pytest

from kb.text.analysis import AnalyzerOptions, analyze


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("KubePodCrashLooping", ["kubepodcrashloop", "kube", "pod", "crash", "loop"]),
        ("node_filesystem_avail_bytes", ["nodefilesystemavailbyt", "node", "filesystem", "avail", "byte"]),
        ("checkout-7d9f8b6c5-x2k4p", ["checkout"]),
        ("HTTP 503", ["http", "503", "5xx"]),
        ("x509: certificate has expired", ["x509", "certif", "expir"]),
        (
            "etcdHighNumberOfFailedGRPCRequests",
            ["etcdhighnumberoffailedgrpcrequest", "etcd", "high", "number", "fail", "grpc", "request"],
        ),
        ("The pods were restarting", ["pod", "restart"]),
    ],
)
def test_sre_tokens(text: str, expected: list[str]) -> None:
    assert analyze(text) == expected


def test_alert_name_and_its_words_share_terms() -> None:
    assert {"kube", "pod", "crash", "loop"} <= set(analyze("a pod keeps crash looping")) | set(
        analyze("KubePodCrashLooping")
    ) & set(analyze("pod crash looping kube"))


def test_an_identifier_typed_in_lower_case_finds_it_written_in_camel_case() -> None:
    for typed, written in [("coredns", "CoreDNS"), ("oomkilled", "OOMKilled"), ("kubepodcrashlooping", "KubePodCrashLooping"),
                           ("pgbouncer", "PgBouncer")]:
        assert analyze(typed)[0] == analyze(written)[0], (typed, written)


def test_negated_states_and_down_are_terms_of_their_own() -> None:
    assert "readi" in analyze("node has been unready") and "readi" in analyze("KubeNodeNotReady")
    assert "avail" in analyze("the API is unavailable") and "uniqu" in analyze("unique")  # only known states
    assert analyze("KubeletDown") == ["kubeletdown", "kubelet", "down"] and "down" in analyze("checkout is down")
    assert analyze("unready", AnalyzerOptions(negated_states=False)) == ["unreadi"]


def test_each_choice_can_be_switched_off() -> None:
    assert analyze("KubePodCrashLooping", AnalyzerOptions(split_identifiers=False)) == ["kubepodcrashloop"]
    assert analyze("errors", AnalyzerOptions(stem=False)) == ["errors"]
    assert "the" in analyze("the pod", AnalyzerOptions(stopwords=False))
    assert analyze("HTTP 503", AnalyzerOptions(status_classes=False)) == ["http", "503"]
