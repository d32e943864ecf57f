"""Rich rendering for the CLI (the only place that prints)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from ..schema import TableSchema

console = Console(highlight=False)


def at_least(width: int, base: Console) -> Console:
    """``base``, widened to ``width`` columns (pipes and CI logs default to 80, truncating tables)."""
    return Console(
        file=base.file, width=max(base.width, width), highlight=False, no_color=base.no_color, stderr=base.stderr
    )


def render_schema(schema: TableSchema, out: Path) -> None:
    console.print(f"Schema written to {escape(str(out))}", soft_wrap=True)
    table = Table(show_lines=False)
    table.add_column("column")
    table.add_column("kind")
    table.add_column("role")
    table.add_column("public knowledge")
    for spec in schema.columns:
        role = "target" if spec.name == schema.target else ("sensitive" if spec.name in schema.sensitive else "")
        if not spec.kind.is_modelled:
            public = f"never modelled ({(spec.handling.value if spec.handling else 'drop')})"
        elif spec.bounds is not None or spec.categories is not None:
            public = "declared"
        else:
            public = "none yet (DP estimate, spends budget)"
        table.add_row(spec.name, spec.kind.value, role, public)
    console.print(table)
    console.print("Declare bounds and categories in the YAML to spend no privacy budget on them.")


def _privacy_line(spent: dict[str, Any]) -> str:
    if not spent["is_dp"]:
        return "[bold red]NOT differentially private[/bold red] (epsilon=none): do not share this output."
    line = f"privacy spent: epsilon = {spent['epsilon']:.4g}, delta = {spent['delta']:.3g} (RDP accountant)"
    if spent.get("unit") == "entity":
        return f"{line}, per entity (at most {spent.get('max_rows_per_entity')} rows each)"
    return f"{line}, per row"


def render_fit(synth: Any, out: Path) -> None:
    spent = synth.privacy_spent()
    console.print(f"Model written to [bold]{escape(str(out))}[/bold]", soft_wrap=True)
    console.print(_privacy_line(spent))
    result = synth.train_result_
    if result is not None and result.noise_multiplier is not None:
        console.print(
            f"DP-SGD: noise multiplier {result.noise_multiplier:.3f}, sample rate {result.sample_rate:.4f}, "
            f"{result.steps} steps, Poisson sampling"
        )


def render_sample(synth: Any, frame: Any, out: Path) -> None:
    console.print(f"Wrote {len(frame):,} synthetic rows to [bold]{out}[/bold]")
    console.print(_privacy_line(synth.privacy_spent()))


def render_budget(spent: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "epsilon": spent["epsilon"],
                    "delta": spent["delta"],
                    "is_dp": spent["is_dp"],
                    "unit": spent.get("unit", "row"),
                    "max_rows_per_entity": spent.get("max_rows_per_entity"),
                    "secure_randomness": spent.get("secure_randomness"),
                    "entries": spent["entries"],
                }
            )
        )
        return
    console.print(_privacy_line(spent))
    table = Table(title="Privacy ledger")
    table.add_column("#", justify="right")
    table.add_column("spend")
    table.add_column("mechanism")
    table.add_column("parameters")
    for i, entry in enumerate(spent["entries"], start=1):
        event = dict(entry["event"])
        kind = event.pop("type")
        table.add_row(
            str(i),
            entry["label"],
            kind,
            ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.items()),
        )
    console.print(table)


def render_store(store: dict[str, Any], *, as_json: bool) -> None:
    """A dataset's budget store: every release's reserved epsilon and what it became."""
    if as_json:
        console.print_json(json.dumps(store))
        return
    eps = store["epsilon_spent"]
    console.print(
        f"{store['path']}: epsilon {'none (a release without DP)' if eps is None else f'{eps:.4g}'} and "
        f"delta {store['delta_spent']:.3g} spent across {len(store['releases'])} release(s), {store['composition']}."
    )
    table = Table(title="Releases")
    for column in ("reserved at", "release", "epsilon", "delta", "status", "epsilon spent"):
        table.add_column(column)
    for r in store["releases"]:
        table.add_row(
            r["reserved_at"],
            r["label"],
            "none" if r["epsilon"] is None else f"{r['epsilon']:.4g}",
            f"{r['delta']:.3g}",
            r["status"],
            "-" if r["epsilon_spent"] is None else f"{r['epsilon_spent']:.4g}",
        )
    console.print(table)


class EpochBar:
    """A rich progress bar on stderr fed by ``Synthesizer.fit(callback=...)``: epoch, loss, epsilon, rows/s.

    The loss and rows/s are not DP: they are shown on the curator's terminal only.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._bar: Any = None
        self._task: Any = None

    def __call__(self, info: Any) -> None:
        if not self._enabled:
            return
        if self._bar is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("training"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task("train", total=info.n_epochs, status="")
            self._bar.start()
        eps = "no DP" if info.epsilon is None else f"ε={info.epsilon:.3f}"
        status = f"loss {info.loss:.3f}  {eps}  {info.rows_per_second:,.0f} rows/s"
        self._bar.update(self._task, completed=info.epoch, total=info.n_epochs, status=status)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


class ReleaseDisplay:
    """Draws a release's progress on stderr: stage lines, the training bar and the audit bar.

    Use as a context manager; :attr:`progress` is the callbacks object ``release`` takes.
    """

    def __init__(self) -> None:
        self._err = Console(stderr=True, highlight=False)
        self._epochs = EpochBar()
        self._audit: Any = None
        self._task: Any = None

    def _stage(self, index: int, total: int, description: str) -> None:
        self._epochs.close()
        self._close_audit()
        self._err.print(f"[bold]{index}/{total}[/bold] {escape(description)}", soft_wrap=True)

    def _audit_step(self, done: int, total: int, step: str) -> None:
        if self._audit is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
            self._audit = Progress(*columns, console=self._err, transient=False)
            self._task = self._audit.add_task("auditing", total=total)
            self._audit.start()
        label = "auditing" if step == "done" else f"auditing ({step})"
        self._audit.update(self._task, completed=done, total=total, description=label)

    def _close_audit(self) -> None:
        if self._audit is not None:
            self._audit.stop()
            self._audit = None

    @property
    def progress(self) -> Any:
        from ..pipeline import ReleaseProgress

        return ReleaseProgress(stage=self._stage, audit=self._audit_step, epoch=self._epochs)

    def __enter__(self) -> ReleaseDisplay:
        return self

    def __exit__(self, *exc: object) -> None:
        self._epochs.close()
        self._close_audit()
