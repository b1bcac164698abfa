"""The user's text for the decoder probes (LoRA and perplexity read it through one helper):
a probe without ``--data`` stops with a message naming it; with a file, its notes reach the
probe's log and the data phase names the file."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from selector.core.errors import SelectorError
from selector.core.probes import ProbeSpec
from selector.core.probes.kinds.lora import read_user_text


class _Ctx:
    def __init__(self) -> None:
        self.phases: list[tuple[str, str]] = []
        self.logs: list[str] = []

    def phase(self, name: str, message: str = "") -> None:
        self.phases.append((name, message))

    def log(self, message: str) -> None:
        self.logs.append(message)


@pytest.mark.parametrize("probe", ["a decoder's fine-tune", "the perplexity probe"])
def test_no_text_names_the_probe(probe):
    ctx = _Ctx()
    with pytest.raises(SelectorError, match=f"^{probe} needs your text: --data FILE"):
        read_user_text(SimpleNamespace(data=None), ctx, probe)
    assert ctx.phases == []


def test_text_is_read_with_its_phase(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("\n\n".join(f"paragraph {i} with a few words in it." for i in range(20)),
                    encoding="utf-8")
    spec = ProbeSpec(kind="finetune", model="m", data={"source": str(path)})
    ctx = _Ctx()
    text = read_user_text(spec, ctx, "the perplexity probe")
    assert ctx.phases == [("data", f"reading {path}")]
    assert text.train and text.test
    assert ctx.logs == list(text.notes)


def test_pad_blocks_masks_and_ignores_the_padding():
    from selector.core.probes.kinds.lora import pad_blocks

    ids, mask, labels = pad_blocks([[5, 6, 7], [8]], "cpu")
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert labels.tolist() == [[5, 6, 7], [8, -100, -100]]
