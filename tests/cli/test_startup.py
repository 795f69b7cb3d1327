"""The command line starts without the data stack: ``indievalue --help``, every command's
``--help`` and every command's argument errors import no numpy, pandas, pyarrow, scipy,
matplotlib, torch or transformers (the library is imported inside each command). A structural
check, run in a fresh interpreter; the times are measured in benchmarks/bench_catalog.py."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from indievalue.cli import options, synth_cmd

HEAVY = ("numpy", "pandas", "pyarrow", "scipy", "sklearn", "matplotlib", "torch",
         "transformers", "datasets", "openai", "llama_cpp", "PIL")

# In a fresh interpreter: every command path of the app, run with --help and with an unknown
# option; after each, which heavy modules are loaded (the first offender is the culprit).
CHILD = textwrap.dedent("""
    import contextlib, io, json, sys
    import typer.main
    from indievalue.cli.main import app, main

    heavy = %r
    def paths(cmd, prefix):
        yield prefix
        if hasattr(cmd, "commands"):  # a group (typer vendors its own click)
            for name, sub in cmd.commands.items():
                yield from paths(sub, [*prefix, name])

    loaded = {}
    calls = [["--help"]] + [[*p, "--help"] for p in paths(typer.main.get_command(app), [])][1:]
    calls += [[*c[:-1], "--no-such-option"] for c in calls[1:]]
    for args in calls:
        sys.argv = ["indievalue", *args]
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                main()
            except SystemExit:
                pass
        loaded[" ".join(args)] = [m for m in heavy if m in sys.modules]
    print(json.dumps(loaded))
""")


def test_help_and_argument_errors_import_no_data_stack() -> None:
    done = subprocess.run([sys.executable, "-c", CHILD % (HEAVY,)], capture_output=True,
                          text=True, check=True, timeout=120)
    loaded = json.loads(done.stdout.splitlines()[-1])
    assert "--help" in loaded and "evaluate --help" in loaded and "run --no-such-option" in loaded
    assert len(loaded) > 20  # every command, twice
    offenders = {args: mods for args, mods in loaded.items() if mods}
    assert not offenders, f"first loaded by `indievalue {next(iter(offenders))}`: {offenders}"


def test_restated_defaults_agree_with_the_library() -> None:
    from indievalue.runs.config import EvalConfig
    from indievalue.synth.generate.default import DEFAULT_PERSONS

    library = {name: f.default for name, f in EvalConfig.model_fields.items()
               if not f.is_required() and name != "predictor_options"}
    assert library == options.DEFAULTS
    assert synth_cmd.DEFAULT_PERSONS == DEFAULT_PERSONS
