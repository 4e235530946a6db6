"""Issue 31 items 4, 7, 10 and 11, re-run as a hostile user would: each case a real ``chipstack``
command in a subprocess (odd paths and locales, signals, a full stdout, a deleted working directory,
a memory limit, too few file descriptors, malformed manifests ...) with what the issue promises.

    .venv/bin/python tests/adversarial/issue31_cli.py        # prints each case, then "N cases, M as promised"

Also run by ``tests/adversarial/test_issue31_cli.py`` (marked slow: ~2 min). Read-only folders and a
full disk cannot be made here when the tests run as root (no folder refuses root; mounting a small file
system needs privileges): tests/test_one_line.py simulates those (EACCES, EROFS, ENOSPC) in-process.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(TESTS)]))
CHIPSTACK = [sys.executable, "-m", "model.cli"]
#: `chipstack sweep` with a model of tests/failing_model.py, named as the first argument
WITH_MODEL = ("import functools, sys; import model.cli as cli; from model.cli_commands import cmd_sweep; "
              "import failing_model; cli.cmd_sweep = functools.partial(cmd_sweep, "
              "model_cls=getattr(failing_model, sys.argv.pop(1))); sys.exit(cli.main())")
SMALL = """[experiment]
name = "small"
description = "issue 31 cases"
steps = 3
replications = 1
seed = 3
[parameters]
n_developers = 20
[levers]
export_regime = ["lagged", "open"]
[uncertainties]
method = "lhs"
n = 4
[uncertainties.ranges]
demand_growth = [0.3, 0.5]
"""


def experiment(folder: Path, name: str, n_developers: int, steps: int, replications: int) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(f'[experiment]\nname = "{name}"\nsteps = {steps}\nreplications = {replications}\n'
                    f'seed = 5\n[parameters]\nn_developers = {n_developers}\n'
                    f'[grid]\nexport_regime = ["lagged", "open"]\n')
    return path


def run(args: list[str], cwd: Path | str = ROOT, env: dict | None = None, stdout=subprocess.PIPE,
        prefix: list[str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([*(prefix or []), *CHIPSTACK, *args], cwd=cwd, env={**ENV, **(env or {})},
                          stdout=stdout, stderr=subprocess.PIPE, timeout=timeout)


def one_line(proc: subprocess.CompletedProcess, code: int, *words: str) -> str:
    """'' when ``proc`` exited ``code`` with exactly one error line holding ``words``, else what differs."""
    err = proc.stderr.decode("utf-8", "replace")
    lines = [line for line in err.splitlines() if line.startswith("chipstack: error:")]
    if proc.returncode != code:
        return f"exit {proc.returncode}, expected {code}: {err[-300:]}"
    if "Traceback" in err or "Exception ignored" in err:
        return f"a traceback: {err[-300:]}"
    if len(lines) != 1:
        return f"{len(lines)} error lines: {err[-300:]}"
    missing = [w for w in words if w not in lines[0]]
    return f"{missing} not in {lines[0]}" if missing else ""


def signalled(work: Path, model: str | None, toml: Path, send: Callable[[subprocess.Popen, list, Path], None],
              ready: Callable[[Path], bool], limit: float) -> tuple[int, float, str, Path]:
    """A sweep in its own session (as a terminal runs it), ``send`` once ``ready``: (exit code, seconds
    to end, stderr, its folder)."""
    import psutil

    out = work / f"out-{time.monotonic_ns()}"
    code = ["-c", WITH_MODEL, model] if model else ["-m", "model.cli"]
    proc = subprocess.Popen([sys.executable, *code, "sweep", str(toml), "--out", str(out), "--workers", "2"],
                            cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not (ready(out) and len(psutil.Process(proc.pid).children()) == 2):
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            return -1, 0.0, "never ready", out
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children()
    t0 = time.monotonic()
    send(proc, workers, out)
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _, err = proc.communicate()
        err += f"\n(did not end within {limit} s)"
    finally:
        for worker in workers:
            try:
                worker.kill()
            except psutil.Error:
                pass
    return proc.returncode, time.monotonic() - t0, err, out


def parts(out: Path) -> int:
    return len(list((out / ".parts").glob("part-*.parquet")))


def cases(work: Path) -> list[tuple[str, Callable[[], str]]]:
    small = work / "small.toml"
    small.write_text(SMALL)
    done = work / "done"
    assert run(["sweep", str(small), "--out", str(done), "--workers", "1"]).returncode == 0
    odd = Path(os.fsdecode(os.fsencode(str(work)) + b"/res\xff"))
    shutil.copytree(done, odd)
    (work / "ü").mkdir()
    shutil.copytree(done, work / "ü" / "ü")
    quick_hang = experiment(work, "hang", 50, 5, 3)
    long_runs = experiment(work, "long", 300, 20, 60)
    big_runs = experiment(work, "big", 200_000, 20, 1)
    sleepy = experiment(work, "sleepy", 20, 10, 1)  # SleepyModel: 'open' 20 s (its id first), 'lagged' 3 s

    def utf8(*args: str) -> str:
        return one_line(run(list(args)), 2, "not valid UTF-8")

    def dev_full(*args: str) -> str:
        with open("/dev/full", "w") as full:
            return one_line(run(list(args), stdout=full), 2, "standard output")

    def deleted_cwd(*args: str) -> str:
        gone = work / f"gone-{time.monotonic_ns()}"
        gone.mkdir()
        code = ("import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); from model.cli import main; "
                "sys.exit(main(sys.argv[2:]))")
        proc = subprocess.run([sys.executable, "-c", code, str(gone), *args], env=ENV, capture_output=True,
                              timeout=120)
        return one_line(proc, 2, "working directory no longer exists")

    def sigterm_hung() -> str:
        code, seconds, err, _ = signalled(work, "HangingModel", quick_hang,
                                          lambda p, w, o: (time.sleep(2), p.terminate()),
                                          lambda out: parts(out) >= 1, 10)
        ok = code == 143 and seconds < 10 and "Traceback" not in err and "runs are saved" in err
        return "" if ok else f"exit {code} after {seconds:.1f} s: {err[-300:]}"

    def two_ctrl_c_stopped() -> str:
        def send(proc, workers, out):
            workers[0].suspend()
            os.killpg(proc.pid, signal.SIGINT)
            time.sleep(1)
            os.killpg(proc.pid, signal.SIGINT)

        code, seconds, err, _ = signalled(work, None, long_runs, send, lambda out: parts(out) >= 1, 10)
        ok = code == 130 and seconds < 11 and "Traceback" not in err and "--resume" in err
        return "" if ok else f"exit {code} after {seconds:.1f} s: {err[-300:]}"

    def ctrl_c_keeps_runs() -> str:
        code, _, err, out = signalled(work, None, big_runs,
                                      lambda p, w, o: (time.sleep(1), os.killpg(p.pid, signal.SIGINT)),
                                      lambda out: (out / ".parts" / "experiment.json").exists(), 120)
        ok = code == 130 and "2 of 2 runs are saved" in err and parts(out) == 2
        return "" if ok else f"exit {code}, {parts(out)} parts: {err[-300:]}"

    def two_ctrl_c_keep_finished() -> str:
        def send(proc, workers, out):
            os.killpg(proc.pid, signal.SIGINT)
            # the short run (3 s of sleep after its worker starts) ends well before the long one (20 s more);
            # on a loaded machine starting the worker alone can take several seconds, and under the full
            # suite on 2 cores once took over 22 s: wait up to 50 s for its part (the wait ends at the part)
            deadline = time.monotonic() + 50
            while not parts(out) and time.monotonic() < deadline:
                time.sleep(0.05)
            os.killpg(proc.pid, signal.SIGINT)

        code, seconds, err, out = signalled(work, "SleepyModel", sleepy, send,
                                            lambda out: (out / ".parts" / "experiment.json").exists(), 60)
        ok = code == 130 and "1 of 2 runs are saved" in err and parts(out) == 1
        return "" if ok else f"exit {code} after {seconds:.1f} s, {parts(out)} parts: {err[-300:]}"

    def malformed(edit: Callable[[dict], None], key: str) -> str:
        folder = work / f"m-{time.monotonic_ns()}"
        shutil.copytree(done, folder)
        data = json.loads((folder / "manifest.json").read_text())
        edit(data)
        (folder / "manifest.json").write_text(json.dumps(data))
        t0 = time.monotonic()
        why = one_line(run(["replicate", str(folder / "manifest.json"), "--workers", "1"]), 2, key)
        return why or ("" if time.monotonic() - t0 < 20 else "took as long as a re-run")

    def stale_replicate_folder() -> str:
        tmp = work / "tmpdir"
        tmp.mkdir()
        stale = tmp / "chipstack-replicate-killed"
        stale.mkdir()
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True).stdout.strip()
        (stale / "owner.pid").write_text(dead)
        proc = run(["replicate", str(done / "manifest.json"), "--workers", "1"], env={"TMPDIR": str(tmp)})
        left = list(tmp.glob("chipstack-replicate-*"))
        return "" if proc.returncode == 0 and not left else f"exit {proc.returncode}, left {left}"

    def steps_max() -> str:
        ok = run(["run", "--steps", "1000", "--set", "n_developers=10", "--out", str(work / "s1000")])
        if ok.returncode != 0:
            return f"--steps 1000: exit {ok.returncode}: {ok.stderr[-300:]}"
        return one_line(run(["run", "--steps", "10000", "--out", str(work / "s10000")]), 2, "from 1 to 1000")

    def negative_steps() -> str:
        code = ("from model import ChipMarketModel\ntry:\n"
                "    ChipMarketModel(rng=1, n_developers=10).run(-3)\n"
                "except ValueError as e:\n    print('refused', e)\n")
        out = subprocess.run([sys.executable, "-c", code], env=ENV, capture_output=True, text=True).stdout
        return "" if out.startswith("refused") else f"run(-3) gave: {out[:200]}"

    def too_many_open_files() -> str:
        """Few descriptors: the pool's pipes run out while workers start; one line, and no worker left
        waiting for work (the sweep used to hang at exit). Where they run out depends on what the
        process inherited: the first limit of 16, 14, 12, 10 that fails the sweep counts."""
        for limit in (16, 14, 12, 10):
            proc = run(["sweep", "quick", "--out", str(work / f"emfile{limit}"), "--workers", "2"],
                       prefix=["prlimit", f"--nofile={limit}"], timeout=60)
            if proc.returncode != 0:
                return one_line(proc, 2, "too many open files", "ulimit -n")
        return "no limit made the sweep run out of file descriptors"

    def dask_one_worker() -> str:
        for i in range(3):
            out = str(work / f"dask{i}")
            proc = run(["sweep", "quick", "--scheduler", "local", "--workers", "1", "--out", out])
            if proc.returncode != 0 or b"Traceback" in proc.stderr:
                return f"exit {proc.returncode}: {proc.stderr.decode()[-300:]}"
        return ""

    def ascii_report() -> str:
        proc = run(["report", "ü"], cwd=work / "ü", env={"PYTHONIOENCODING": "ascii"})
        ok = proc.returncode == 0 and b"Traceback" not in proc.stderr and b"\\xfc" in proc.stdout
        return "" if ok else f"exit {proc.returncode}: {proc.stderr.decode()[-300:]}"

    return [
        ("4  sweep --out $'out\\xff'", lambda: utf8("sweep", "quick", "--out", str(work) + "/out\udcff")),
        ("4  replicate $'res\\xff'/manifest.json", lambda: utf8("replicate", str(odd / "manifest.json"))),
        ("4  report $'res\\xff'", lambda: utf8("report", str(odd))),
        ("4  sweep --resume --out $'res\\xff'", lambda: utf8("sweep", str(small), "--resume", "--out",
                                                                  str(odd))),
        ("4  PYTHONIOENCODING=ascii chipstack report ü", ascii_report),
        ("7  SIGTERM, hung workers: ends within 10 s, exit 143", sigterm_hung),
        ("7  two Ctrl-C, a stopped worker: ends within 10 s, exit 130", two_ctrl_c_stopped),
        ("7  Ctrl-C with 2 big runs in progress: 2 of 2 saved", ctrl_c_keeps_runs),
        ("7  two Ctrl-C: a run that finished behind a long one is saved", two_ctrl_c_keep_finished),
        ("10 report >/dev/full", lambda: dev_full("report", str(done))),
        ("10 robust >/dev/full", lambda: dev_full("robust", str(done))),
        ("10 discover >/dev/full", lambda: dev_full("discover", str(done), "--below", "0.3")),
        ("10 replicate >/dev/full", lambda: dev_full("replicate", str(done / "manifest.json"), "--workers",
                                                     "1")),
        ("10 validate >/dev/full", lambda: dev_full("validate", "arthur", "--quick", "--out",
                                                    str(work / "v"))),
        ("10 run >/dev/full", lambda: dev_full("run", "--steps", "2", "--out", str(work / "r"))),
        ("10 deleted cwd: sweep quick --out ABSOLUTE", lambda: deleted_cwd("sweep", "quick", "--out",
                                                                           str(work / "abs"))),
        ("10 deleted cwd: ui", lambda: deleted_cwd("ui", "--port", "1")),
        ("10 prlimit --as=2e9 run --set n_developers=5000000", lambda: one_line(
            run(["run", "--set", "n_developers=5000000", "--out", str(work / "mem")],
                prefix=["prlimit", "--as=2000000000"]), 1, "out of memory")),
        ("10 replicate a manifest with \"experiment\": null", lambda: malformed(
            lambda m: m.update(experiment=None), "experiment.spec")),
        ("10 replicate a manifest with a run id that is a list", lambda: malformed(
            lambda m: m["runs"][0].update(run_id=["a"]), "runs[0].run_id")),
        ("10 --steps: the maximum works, above it refused", steps_max),
        ("10 --scheduler local --workers 1: no shutdown traceback (3 times)", dask_one_worker),
        ("11 --out ''", lambda: one_line(run(["sweep", "quick", "--out", ""]), 2, "--out ''")),
        ("11 --out with a 300-byte name", lambda: one_line(
            run(["sweep", "quick", "--out", str(work / ("x" * 300))]), 2, "File name too long")),
        ("11 too many open files (prlimit --nofile=16..10): one line, no hang", too_many_open_files),
        ("11 discover --policy twice", lambda: one_line(run([
            "discover", str(done), "--below", "0.3", "--policy", "export_regime=lagged", "--policy",
            "export_regime=open"]), 2, "given twice")),
        ("11 run(-3) refused", negative_steps),
        ("11 a killed replicate's TMPDIR folder is removed by the next", stale_replicate_folder),
    ]


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="issue31-"))
    try:
        results = []
        for name, case in cases(work):
            t0 = time.monotonic()
            try:
                why = case()
            except Exception as exc:  # noqa: BLE001 - a case that crashes is not as promised
                why = f"{type(exc).__name__}: {exc}"
            results.append(not why)
            print(f"{'ok  ' if not why else 'FAIL'} {name} ({time.monotonic() - t0:.1f} s)"
                  + (f"\n     {why}" if why else ""), flush=True)
        print(f"{len(results)} cases, {sum(results)} as promised")
        return 0 if all(results) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
