"""The transferability section of ``selector bench``'s final output (not a command itself).

One table per ranking (models with pretrained weights; architecture-only models apart),
with each model's position, mean rank, how often it stays first over bootstrap resamples,
its 95% rank interval and the three scores with their ranks; then the stability, the
comparison with the published accuracy and the data-need sentence. LogME is shown as a
value in nats per sample beside its rank, never as an accuracy.
"""

from __future__ import annotations

from typing import Any


def print_transfer(console, results: list) -> None:  # noqa: ANN001 - rich Console, ProbeResult
    from selector.core.transfer.session import rank_session

    session = rank_session(results)
    if session.empty:
        return
    if session.ranking is not None:
        console.print(_table("Transferability (frozen features on your data)", session.ranking,
                             session.rows))
        for line in _sentences(session):
            console.print(line, highlight=False)
    if session.random_ranking is not None:
        table = _table("Architecture-only (random weights): NOT a ranking of the pretrained models",
                       session.random_ranking, session.rows)
        table.caption += ("; these scores measure randomly initialised features and say nothing of the "
                          "pretrained models; get the weights (they were not on this machine) to rank")
        console.print(table)
    for model, why in session.excluded.items():
        console.print(f"{model}: not ranked: {why}", style="dim", highlight=False)
    console.print("LogME is in nats per sample and compares models on these samples only; k-NN "
                  "(leave-one-out) and linear probe (5-fold) are balanced accuracies.",
                  style="dim", highlight=False)


def _table(title: str, ranking: Any, rows: dict[str, dict[str, Any]]):  # noqa: ANN202
    from rich import box
    from rich.table import Table

    first = rows[ranking.candidates[0].model]
    features = "; ".join(f"{c.model}: {_features(rows[c.model])}" for c in ranking.candidates)
    caption = (f"{ranking.n_samples} samples in {ranking.n_classes} classes, the same for every "
               f"model; {first.get('precision', 'fp32')} features on {first.get('device', '?')} ("
               f"{features}). first: share of {ranking.n_boot} bootstrap resamples in which the "
               f"model ranks first; 95%: its range of positions over them")
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left",
                  box=box.SIMPLE_HEAD, padding=(0, 1), pad_edge=False, show_edge=False)
    for col in ("#", "model", "mean\nrank", "first", "95%", "LogME", "k-NN %", "linear %"):
        table.add_column(col, justify="left" if col == "model" else "right",
                         no_wrap=col != "model", overflow="fold")  # long ids fold, figures stay
    for c in ranking.candidates:
        interval = "—" if c.rank_interval is None else (
            f"{c.rank_interval[0]}" if c.rank_interval[0] == c.rank_interval[1]
            else f"{c.rank_interval[0]}–{c.rank_interval[1]}")
        table.add_row(
            str(c.position), c.model, f"{c.mean_rank:.2f}",
            "—" if c.top_fraction is None else f"{100 * c.top_fraction:.0f}%", interval,
            f"{c.scores['logme']:.3f} ({_rank(c.ranks['logme'])})",
            f"{100 * c.scores['knn']:.1f} ({_rank(c.ranks['knn'])})",
            f"{100 * c.scores['linear']:.1f} ({_rank(c.ranks['linear'])})")
    return table


def _rank(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _features(row: dict[str, Any]) -> str:
    dim = f"{row.get('n_features', '?')}-dim, "
    if row.get("from_cache"):
        return dim + "from cache"
    rate = row.get("samples_per_s")
    text = dim + ("?" if rate is None else f"{rate:.1f} samples/s")
    return text + (" (partial)" if row.get("partial") else "")


def _sentences(session: Any) -> list[str]:
    ranking = session.ranking
    lines = []
    if session.prior is not None:
        lines.append(session.prior.message)
    elif ranking.top_stability is not None and len(ranking.candidates) > 1:
        share = f"{ranking.top_stability:.0%} of {ranking.n_boot} bootstrap resamples of the samples"
        lines.append(f"That lead is not reliable: {ranking.top} ranks first in only {share}."
                     if ranking.top_stability < 0.5 else f"{ranking.top} ranks first in {share}.")
    if session.label_need is not None and len(ranking.candidates) > 1:
        lines.append("Data need: " + session.label_need.message)
    return lines
