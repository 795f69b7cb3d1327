"""Nothing in indievalue reaches for the network unless asked to.

The main job and the commands around it (``synth``, ``catalog build``, ``evaluate`` with the
statistical predictors and the value model, ``report``, ``analyze evenness``, ``run``) run in a
network namespace without interfaces, with no environment variable to keep any library
offline; and the ``openai`` predictor contacts its ``base_url`` and nothing else.

The commands run in one interpreter inside ``unshare -n`` (as root) or ``unshare -rn`` (where
the kernel lets other users make a namespace), under this module run as a script: it records
every name lookup and every internet socket connect (Python audit events) before running the
commands in-process through the console-script entry point. So an attempt that fails and is
quietly worked around is caught too, not only one that breaks a command. Where the kernel
forbids the namespace the tests skip and say so.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
UNREACHABLE = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never routed anywhere
PERSONS = 3_000
EVAL_SIZE = 12
LM_CATEGORY = "SE"  # the LM tests' category: 21 questions, short statements (3 probes a setup)
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


# -- inside the namespace (this file run as a script) ------------------------------------------

def _record_network(log: Path) -> None:
    """Append one JSON line to ``log`` per name lookup or internet connect from now on."""
    import socket

    inet = (socket.AF_INET, socket.AF_INET6)

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if not event.startswith("socket."):
            return
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args[0], args[1]
            if sock.family not in inet or not isinstance(address, tuple):
                return  # a local (AF_UNIX) socket
            host, port = address[0], address[1]
        elif event == "socket.getaddrinfo":
            host, port = args[0], args[1]
        elif event in ("socket.gethostbyname", "socket.gethostbyaddr"):
            host, port = args[0], None
        else:
            return
        if isinstance(host, bytes):
            host = host.decode(errors="replace")
        with log.open("a", encoding="utf-8") as f:
            f.write(json.dumps({"event": event, "host": host, "port": port,
                                "pid": os.getpid()}) + "\n")

    sys.addaudithook(hook)


def _loopback_up() -> None:
    """``ip link set lo up`` without needing iproute2 (SIOCGIFFLAGS / SIOCSIFFLAGS)."""
    import fcntl
    import socket
    import struct

    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        req = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(s, siocgifflags, req))[1]
        fcntl.ioctl(s, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _run_steps(steps: list[list[str]]) -> int:
    """Each step is ``indievalue ARGS`` run in this process; stops at the first failure."""
    from indievalue.cli.main import main

    for args in steps:
        print(f"== indievalue {' '.join(args)}", file=sys.stderr, flush=True)
        sys.argv = ["indievalue", *args]
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        if code:
            return code
    return 0


def _driver(plan_file: str) -> int:
    """Run the plan: ``{"steps": [[args...], ...], "log": FILE, "serve": GGUF or null,
    "server_log": FILE}``. With ``serve``, loopback is brought up and SmolLM2 served on it
    first; ``{base_url}`` in a step is replaced by the server's URL."""
    plan = json.loads(Path(plan_file).read_text(encoding="utf-8"))
    steps: list[list[str]] = plan["steps"]
    log = Path(plan["log"])
    if not plan.get("serve"):
        _record_network(log)
        return _run_steps(steps)
    sys.path.insert(0, str(TESTS))
    from llama_server_support import serve

    _loopback_up()
    with serve(Path(plan["serve"]), Path(plan["server_log"])) as base_url:
        _record_network(log)  # the commands' traffic only, not the readiness probe
        return _run_steps([[a.replace("{base_url}", base_url) for a in s] for s in steps])


if __name__ == "__main__":
    raise SystemExit(_driver(sys.argv[1]))


# -- the tests -----------------------------------------------------------------------------------

PROBE = f"""
import socket
try:
    socket.create_connection(("{UNREACHABLE}", 80), timeout=5)
    print("reachable")
except OSError as exc:
    print("unreachable" if exc.errno == {errno.ENETUNREACH} else f"other {{exc}}")
"""


@pytest.fixture(scope="module")
def netns() -> list[str]:
    """The command prefix that runs a process in a new network namespace; skips where the
    kernel (or a container's seccomp profile) forbids it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare command (util-linux) to make a network namespace")
    prefix = [unshare, "-n"] if os.geteuid() == 0 else [unshare, "-rn"]
    probe = subprocess.run([*prefix, sys.executable, "-c", PROBE], capture_output=True,
                           text=True, timeout=60)
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no message"])[-1]
        pytest.skip(f"the kernel forbids a new network namespace here ({' '.join(prefix)}: "
                    f"{reason})")
    # the namespace really has no way out: not even loopback is up
    assert probe.stdout.strip() == "unreachable", probe.stdout + probe.stderr
    return prefix


def offline_env() -> dict[str, str]:
    """The environment as it is, less proxy settings (a proxy is a place the client is told
    to contact) and with a wide terminal for readable output."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in PROXY_VARS}
    return {**env, "COLUMNS": "200"}


Attempts = list[dict[str, Any]]


def in_netns(netns: list[str], root: Path, steps: list[list[str | Path]], name: str,
             serve: Path | None = None,
             timeout: float = 600) -> tuple[subprocess.CompletedProcess[str], Attempts]:
    """Run ``steps`` (``indievalue`` arguments) in a fresh namespace, in ``root``; returns the
    process and the network attempts it made. With ``serve`` (a GGUF file), SmolLM2 is served
    on the namespace's loopback first and ``{base_url}`` in a step is its URL."""
    log = root / f"{name}.net.jsonl"
    plan = root / f"{name}.plan.json"
    plan.write_text(json.dumps({
        "steps": [[str(a) for a in s] for s in steps], "log": str(log),
        "serve": None if serve is None else str(serve),
        "server_log": str(root / f"{name}.server.log"),
    }), encoding="utf-8")
    proc = subprocess.run([*netns, sys.executable, __file__, str(plan)], capture_output=True,
                          text=True, timeout=timeout, env=offline_env(), cwd=root)
    attempts = [json.loads(ln) for ln in log.read_text("utf-8").splitlines()] \
        if log.exists() else []
    return proc, attempts


def evaluate_args(catalog: Path, predictor: str, out: Path, *options: str,
                  form: str = "polar", eval_size: int = EVAL_SIZE,
                  extra: tuple[str, ...] = ()) -> list[str | Path]:
    return ["evaluate", "--catalog", catalog, "--predictor", predictor, "--form", form,
            "--out", out, "--eval-size", str(eval_size), *extra,
            *(a for o in options for a in ("--option", o))]


VALUE_MODEL = ("epochs=1", "dim=4", "hidden=16", "pool_size=300", "calibrate=false", "threads=1")


@dataclass(frozen=True)
class OfflineJob:
    root: Path
    proc: subprocess.CompletedProcess[str]
    attempts: Attempts

    @property
    def catalog(self) -> Path:
        return self.root / "catalog"


@pytest.fixture(scope="module")
def offline_job(netns: list[str], tmp_path_factory: pytest.TempPathFactory) -> OfflineJob:
    """The main job's steps on a small synthetic population, in one namespace."""
    root = tmp_path_factory.mktemp("offline")
    runs = root / "runs"
    steps: list[list[str | Path]] = [
        ["synth", "--persons", str(PERSONS), "--seed", "1", "--out", root / "wvs.csv"],
        ["catalog", "build", "--wvs", root / "wvs.csv", "--out", root / "catalog"],
        evaluate_args(root / "catalog", "majority", runs / "majority"),
        evaluate_args(root / "catalog", "resemble", runs / "resemble", "top_k=5", "sweep=0",
                      form="refined"),
        evaluate_args(root / "catalog", "value-model", runs / "value-model", *VALUE_MODEL),
        ["report", runs / "majority", runs / "resemble", runs / "value-model",
         "--out", root / "report"],
        ["analyze", "evenness", "--catalog", root / "catalog", "--out", root / "evenness"],
        ["run", "--wvs", root / "wvs.csv", "--out", root / "main", "--eval-size", "40"],
    ]
    proc, attempts = in_netns(netns, root, steps, "job")
    return OfflineJob(root, proc, attempts)


def test_main_job_runs_without_network(offline_job: OfflineJob) -> None:
    job = offline_job
    assert job.proc.returncode == 0, job.proc.stderr[-4000:]
    assert "Traceback" not in job.proc.stderr
    assert job.attempts == [], "network use offline: " + json.dumps(job.attempts[:5])
    for run in ("majority", "resemble", "value-model"):
        summary = json.loads((job.root / "runs" / run / "summary.json").read_text())
        assert summary["complete"] is True and summary["n_persons"] == EVAL_SIZE, run
    assert (job.root / "report" / "report.html").stat().st_size > 10_000
    assert any((job.root / "evenness").iterdir())
    main = job.root / "main"
    assert "Global majority" in (main / "table.md").read_text()
    assert (main / "report" / "report.html").is_file()


def test_openai_contacts_only_its_base_url(netns: list[str], offline_job: OfflineJob) -> None:
    """An endpoint that cannot be reached: the one host tried is the base_url's, and the
    command fails with one error line (no traceback)."""
    if not offline_job.catalog.is_dir():
        pytest.skip("the offline job did not build its catalog")
    base_url = f"http://{UNREACHABLE}:8000/v1"
    steps = [evaluate_args(offline_job.catalog, "openai", offline_job.root / "openai-away",
                           "model=gpt-x", f"base_url={base_url}", "max_attempts=2",
                           "backoff=0", "cache=off", "timeout=5",
                           extra=("--protocol", "B", "--demos", "3"))]
    proc, attempts = in_netns(netns, offline_job.root, steps, "openai-away", timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "openai endpoint" in errors[0] and "connection" in errors[0], errors[0]
    assert attempts, "the client never tried its endpoint"
    assert {(a["host"], a["port"]) for a in attempts} == {(UNREACHABLE, 8000)}, attempts


@pytest.mark.slow
def test_openai_against_loopback_server_in_namespace(netns: list[str],
                                                     offline_job: OfflineJob) -> None:
    """SmolLM2 served by llama.cpp on 127.0.0.1 inside the namespace: two persons evaluated
    (protocol B on a catalog of the Security questions only, built with --statements-from, so
    there are 18 short requests), and every connection goes to the server's port."""
    from indievalue.catalog.spec_io import builtin_spec
    from indievalue.catalog.store import Catalog
    from llama_server_support import missing_server_module
    from smollm2_support import smollm2_gguf
    from wvs_testdata import write_reference_jsonl

    missing = missing_server_module()
    if missing is not None:
        pytest.skip(f"llama-cpp-python[server] is not installed (no {missing})")
    if not offline_job.catalog.is_dir():
        pytest.skip("the offline job did not build its catalog")
    gguf = smollm2_gguf()
    root = offline_job.root
    spec = builtin_spec()
    questions = spec.questions_in(LM_CATEGORY)
    category = next(c.name for c in spec.categories if c.key == LM_CATEGORY)
    write_reference_jsonl(root / "statements", {
        q.qid: (category, [list(o.codes) for o in q.polar], [list(o.codes) for o in q.refined])
        for q in questions})
    full = Catalog.load(offline_job.catalog)
    valid = (full.polar[:, [spec.index(q.qid) for q in questions]] >= 0).all(axis=1)
    ids = root / "openai-ids.txt"
    ids.write_text("".join(f"{int(p)}\n" for p in full.person_ids[valid][:2]))
    out = root / "openai-loopback"
    steps: list[list[str | Path]] = [
        ["catalog", "build", "--wvs", root / "wvs.csv", "--statements-from", root / "statements",
         "--out", root / "catalog-se"],
        ["evaluate", "--catalog", root / "catalog-se", "--predictor", "openai", "--form",
         "polar", "--protocol", "B", "--demos", "5", "--eval-ids", ids, "--out", out,
         *(a for o in ("model=smollm2", "base_url={base_url}", "max_new_tokens=16",
                       "retries=0", "cache=off", "timeout=300") for a in ("--option", o))],
    ]
    proc, attempts = in_netns(netns, root, steps, "openai-loopback", serve=gguf)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is True and summary["n_records"] == 2 * 3 * 3
    stats = json.loads((out / "lm_stats.json").read_text())
    assert stats["requests"] == 2 * 3 * 3 and stats["faults"] == {}
    assert attempts, "the client never reached its server"
    hosts = {(a["host"], a["port"]) for a in attempts}
    assert len(hosts) == 1 and next(iter(hosts))[0] == "127.0.0.1", attempts
