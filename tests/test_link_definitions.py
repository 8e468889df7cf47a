"""A Markdown link reference definition ("[1]: https://...") defines a link target and is never shown when the
page is rendered, so it is never a step of a draft or a line of an answer; a bracketed time that is followed by
a colon is not one."""

from __future__ import annotations

from kb.generation.candidates import blocks
from kb.text.steps import split_steps

PAGE = """## Mitigation

Refer to the [NodeFilesystemSpaceFillingUp][1] runbook.

[1]: https://example.org/runbooks/NodeFilesystemSpaceFillingUp.md
[defrag]: https://etcd.example.org/docs/maintenance/ "Maintenance"
[local]: ./other-runbook.md

- Free space on the node:

```shell
podman image prune -a
```

[08:47]: the alert fired again
"""


def test_link_definitions_are_never_steps() -> None:
    steps = [s.text for s in split_steps(PAGE)]
    assert not any("https://" in s or "./other-runbook.md" in s for s in steps), steps
    assert steps[0] == "Refer to the [NodeFilesystemSpaceFillingUp][1] runbook."
    assert any("podman image prune -a" in s for s in steps)
    assert "[08:47]: the alert fired again" in steps  # a time in brackets, not a link target
    joined = [b.text for b in blocks(PAGE)]
    assert any(b.startswith("- Free space on the node:") and "podman" in b for b in joined)
    assert not any(b.lstrip().startswith("[1]:") for b in joined)
