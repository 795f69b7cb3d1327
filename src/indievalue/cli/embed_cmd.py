"""``indievalue train value-model`` (train the value model once and save it) and
``indievalue embed`` (export every person's vector)."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from indievalue.cli.catalog_cmd import FormChoice
from indievalue.cli.console import err, out


def value_model_cmd(
    catalog: Path = typer.Option(..., "--catalog", help="Catalog directory."),
    out_dir: Path = typer.Option(..., "--out", help="Model directory to write."),
    seed: int = typer.Option(0, "--seed",
                             help="Seed of the eval set to leave out and of training "
                                  "(use the run's --seed)."),
    eval_size: int | None = typer.Option(
        None, "--eval-size", min=1,
        help="Size of the eval set to leave out (default: the catalog spec's; 800 for WVS-7)."),
    eval_ids: Path | None = typer.Option(None, "--eval-ids",
                                         help="File of eval person ids to leave out."),
    option: list[str] = typer.Option(
        [], "--option", help="value-model option KEY=VALUE (repeatable), e.g. epochs=12."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace --out."),
) -> None:
    """Train the value model on a catalog's training pool and save it for
    `--predictor value-model --option model_dir=DIR` and `indievalue embed`."""
    from indievalue.catalog.store import Catalog
    from indievalue.predictors.base import parse_option_pairs
    from indievalue.valuemodel.pretrain import train_value_model

    options = parse_option_pairs(option)
    cat = Catalog.load(catalog)  # a bad catalog fails before the progress bar
    start = time.perf_counter()
    report = train_value_model(cat, out_dir, seed, eval_size, eval_ids, options, overwrite)
    val = report.get("val") or {}
    held = "" if not val else (
        f"; held-out (d=200, polar demos) polar acc {100 * val['polar_acc']:.2f}, "
        f"refined acc {100 * val['refined_acc']:.2f}")
    out.print(f"value model trained on {report['n_train']:,} persons, "
              f"{report['epochs']} epochs, in {time.perf_counter() - start:.0f} s{held}")
    out.print(f"model directory: {out_dir}")


def register(app: typer.Typer) -> None:
    @app.command("embed")
    def embed_cmd(
        catalog: Path = typer.Option(..., "--catalog", help="Catalog directory."),
        model: Path = typer.Option(..., "--model", help="Directory of a trained value model."),
        out_file: Path = typer.Option(..., "--out",
                                      help="Output file: .parquet, .npz or .csv."),
        form: FormChoice = typer.Option(FormChoice.polar, "--form",
                                        help="Answer form the vectors are computed from."),
        plot: bool = typer.Option(True, "--plot/--no-plot",
                                  help="Also write a plot (PNG next to the output)."),
    ) -> None:
        """Export one vector per person (all their valid answers, encoded by the value model)
        and a plot: the persons on the Inglehart–Welzel culture map (a PCA for a catalog
        without countries of known position), coloured by continent."""
        from indievalue.valuemodel.embed import export_embeddings

        with err.status("encoding persons"):
            res = export_embeddings(catalog, model, out_file, form.value, plot)
        shown = "" if not res.plot else (
            f"; culture map {res.plot} (country means vs published positions, each country "
            f"left out of the fit: r = {res.culture.r_held_out[0]:.2f} and "
            f"{res.culture.r_held_out[1]:.2f})" if res.culture is not None else
            f"; PCA plot {res.plot} (PC1 {100 * res.explained[0]:.1f}%, "
            f"PC2 {100 * res.explained[1]:.1f}% of variance)")
        out.print(f"wrote {res.n_persons:,} person vectors ({res.dim}-d) to {res.path}{shown}")
