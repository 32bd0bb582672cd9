"""Scale-out: cells packed into array tasks, local workers, a SLURM job array through submitit (against a
fake SLURM that runs it here), requeue after SLURM's stop signals, claims across requeues, `bench status`."""

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
import submitit
import torch
from typer.testing import Result

from bench.api.errors import BenchError
from bench.api.spec import RunSpec
from bench.grid.array import HEADROOM, pack, too_long
from bench.grid.plan import Cell
from bench.run import claims
from bench.run.executors.local import worker_devices
from bench.run.executors.slurm import clock, minutes
from bench.run.executors.submissions import Submission
from bench.run.executors.task import ArrayTask, cell_devices
from bench.run.interrupt import Stopped, stop_signals

FAKE_SLURM = Path(__file__).with_name("fake_slurm.py")
RAN = re.compile(r"^running (\S+ \S+ \S+) \(pid \d+\)$", re.MULTILINE)
RunBench = Callable[[list[str]], Result]


def cells(seconds: list[float | None]) -> list[Cell]:
    return [Cell(RunSpec("resnet18", "demo", seed=i), "to run", s) for i, s in enumerate(seconds)]


def test_cells_are_packed_first_fit_decreasing_under_the_time_limit() -> None:
    rng = random.Random(0)
    for _ in range(50):
        times = [rng.choice([None, rng.uniform(1, 100)]) for _ in range(rng.randint(1, 30))]
        grid = cells(times)
        tasks = pack(grid, 100.0)
        assert Counter(id(c) for t in tasks for c in t.cells) == Counter(id(c) for c in grid)  # every cell once
        for task in tasks:
            if any(c.seconds is None for c in task.cells):
                assert len(task.cells) == 1  # nothing measured: a task of its own
            elif len(task.cells) > 1:
                assert sum(c.seconds or 0 for c in task.cells) <= HEADROOM * 100.0
        timed = sum(t for t in times if t is not None)
        assert sum(t.seconds is not None for t in tasks) <= 2 * timed / (HEADROOM * 100.0) + 1  # FFD's bound
    assert [len(t.cells) for t in pack(cells([50, 40, 30, 20]), 100.0)] == [2, 2]  # 50+40 | 30+20
    done = [Cell(RunSpec("resnet18", "demo", seed=9), "done", None)]
    assert pack(done, 100.0) == []
    long = pack(cells([150.0, 10.0]), 100.0)
    assert [c.seconds for c in too_long(long, 100.0)] == [150.0]


def test_time_limits_read_as_slurm_writes_them() -> None:
    assert [minutes(t) for t in ("240", "4:00", "04:00:00", "1-00:00:00", "0:30", "0:00:30")] == [
        240, 240, 240, 1440, 30, 1]
    assert clock(1500) == "1-01:00:00" and clock(30) == "00:30:00"
    for bad in ("", "four hours", "0", "0:00", "1:2"):
        with pytest.raises(BenchError, match="--time-limit"):
            minutes(bad)


def test_a_claim_from_an_earlier_run_of_this_slurm_job_is_stale(monkeypatch: pytest.MonkeyPatch) -> None:
    old = claims.Holder(1, "node-a", time.time(), slurm_job="77", slurm_restart=0)
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "1")
    assert "requeued" in (old.stale_reason(claims.STALE_AFTER_S) or "")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "0")  # the same run (another worker of it): live
    assert old.stale_reason(claims.STALE_AFTER_S) is None
    monkeypatch.setenv("SLURM_JOB_ID", "78")  # another job on another host: cannot tell, trusted
    monkeypatch.setenv("SLURM_RESTART_COUNT", "5")
    assert old.stale_reason(claims.STALE_AFTER_S) is None


def test_a_claim_says_which_slurm_run_made_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_JOB_ID", "77")
    monkeypatch.setenv("SLURM_RESTART_COUNT", "2")
    record = tmp_path / "cell.json"
    assert claims.acquire(record) is None
    held = claims.holder(record)
    assert held is not None and (held.slurm_job, held.slurm_restart, held.pid) == ("77", 2, os.getpid())
    assert "SLURM job 77" in held.describe()


def test_the_first_stop_signal_raises_and_later_ones_do_not_cut_its_clean_up_short() -> None:
    stops = {signal.SIGTERM, signal.SIGUSR2}
    cleaned = False
    with pytest.raises(Stopped) as stopped, stop_signals(list(stops)):
        try:
            signal.pthread_sigmask(signal.SIG_BLOCK, stops)
            for each in stops:
                os.kill(os.getpid(), each)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
            time.sleep(1)  # not reached
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # during clean-up: ignored
            cleaned = True
    assert cleaned and stopped.value.signum in stops
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored


def test_a_stop_signal_its_parent_left_blocked_still_stops_the_process() -> None:
    script = ("import sys, time\nfrom bench.run.interrupt import Stopped, sigterm_interrupts\ntry:\n"
              "    with sigterm_interrupts():\n        print('ready', flush=True)\n        time.sleep(60)\n"
              "except Stopped:\n    sys.exit(143)\n")
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                             preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM}))
    assert child.stdout is not None and child.stdout.readline() == "ready\n"
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 143  # blocked, it would sleep on


@pytest.mark.parametrize(("args", "message"), [
    (["--partition", "gpu"], "--partition only apply to --executor slurm"),
    (["--executor", "slurm", "--workers", "2"], "--workers only apply to --executor local"),
    (["--executor", "cluster"], "--executor 'cluster' is not local or slurm"),
    (["--executor", "slurm", "--time-limit", "soon"], "--time-limit 'soon' is not a time"),
    (["--executor", "slurm", "--sbatch", "constraint"], "--sbatch 'constraint' is not KEY=VALUE"),
    (["--workers", "2", "--devices", "cpu"], "1 --devices do not make 2 workers"),
])
def test_bad_scale_out_flags_get_one_line(run_bench: RunBench, tmp_path: Path, args: list[str], message: str) -> None:
    result = run_bench(["run", "--results", str(tmp_path), *args])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output


def test_workers_get_their_devices_in_groups_of_gpus_per_cell() -> None:
    cpu = torch.device("cpu")
    assert worker_devices(cpu, 2, [], per_cell=2) == [(cpu, cpu), (cpu, cpu)]
    listed = ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
    assert [tuple(map(str, g)) for g in worker_devices(cpu, None, listed, 2)] == [("cuda:0", "cuda:1"),
                                                                                    ("cuda:2", "cuda:3")]
    with pytest.raises(BenchError, match="do not make 3 workers"):
        worker_devices(cpu, 3, listed, 2)
    with pytest.raises(BenchError, match="do not make whole workers"):
        worker_devices(cpu, None, listed[:3], 2)
    assert cell_devices("auto", 1) == ("auto",)  # resolved on the node
    assert cell_devices("cuda", 2) == ("cuda:0", "cuda:1") and cell_devices("cpu", 2) == ("cpu", "cpu")


def test_a_slurm_array_plan_asks_for_gpus_per_cell_gpus_per_task(run_bench: RunBench, tmp_path: Path) -> None:
    args = ["run", "--datasets", "demo:10", "--results", str(tmp_path), "--executor", "slurm", "--dry-run",
            "--init", "random", "--methods", "vit16,resnet18"]
    two = run_bench([*args, "--gpus-per-cell", "2"])
    assert two.exit_code == 0 and "each task: 2 GPU(s), 8 CPUs, time limit 04:00:00" in two.output, two.output
    cpu = run_bench([*args, "--device", "cpu"])
    assert "each task: 0 GPU(s)" in cpu.output


@pytest.mark.slow
def test_an_array_task_trains_its_cells_on_the_ranks_it_is_given(tmp_path: Path, plugin_methods: None) -> None:
    """Under submitit's DebugExecutor (the task in this process): a cell on two gloo ranks, one record."""
    from bench.run.runner import RunSettings

    spec = RunSpec("tiny-convnet", "demo:4")
    task = ArrayTask([spec], RunSettings(results=tmp_path), ("cpu", "cpu"))
    assert submitit.DebugExecutor(folder=tmp_path / "submitit").submit(task).result() == {"ok": 1, "held elsewhere": 0}
    [record] = recorded(tmp_path)
    assert record["environment"]["world_size"] == 2  # type: ignore[index]


def test_without_slurm_on_path_a_submission_says_where_to_run(
    run_bench: RunBench, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    result = run_bench(["run", "--datasets", "demo:10", "--results", str(tmp_path / "r"), "--executor", "slurm",
                        "--init", "random"])
    assert result.exit_code == 2 and "sbatch and srun are not on PATH" in result.output


def test_status_counts_done_failed_running_and_pending_cells(
    tmp_path: Path, run_bench: RunBench, live_pid: int
) -> None:
    from bench.run.record import RunRecord
    from bench.run.store import ResultStore

    store = ResultStore(tmp_path)
    specs = [RunSpec("resnet18", "demo", seed=s) for s in range(4)]
    data = {"protocol": "demo", "train": 1, "train_full": 1, "val": 1, "test": 1}
    store.write(RunRecord(run_id=specs[0].run_id, spec=specs[0], status="ok", data=data))
    store.write(RunRecord(run_id=specs[1].run_id, spec=specs[1], status="failed", error="out of memory. Fix: x"))
    claim = claims.claim_path(store.path_for(specs[2]))
    claim.write_text(json.dumps({"pid": live_pid, "host": socket.gethostname(), "created": time.time()}))
    listed = [str(store.path_for(spec).relative_to(tmp_path)) for spec in specs]
    Submission.now("local", ["999999999"], [listed]).save(tmp_path)
    result = run_bench(["status", "--results", str(tmp_path)])
    assert result.exit_code == 0, result.output
    counts = re.search(r"│ (\d+)\s+│ (\d+)\s+│ (\d+)\s+│ (\d+)\s+│", result.output)
    assert counts is not None and counts.groups() == ("1", "1", "1", "1"), result.output
    assert "out of memory" in result.output and str(live_pid) in result.output and "ENDED 1" in result.output


def recorded(results: Path) -> list[dict[str, object]]:
    return [json.loads(path.read_text()) for path in sorted(results.glob("*/*/*.json"))]


@pytest.fixture
def fake_slurm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """sbatch, srun, scontrol and sacct on PATH, running job arrays here (tests/fake_slurm.py); its state folder."""
    bin_dir, state = tmp_path / "bin", tmp_path / "slurm-state"
    bin_dir.mkdir()
    state.mkdir()
    for command in ("sbatch", "srun", "scontrol", "sacct"):
        wrapper = bin_dir / command
        wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE_SLURM}" {command} "$@"\n')
        wrapper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SLURM_DIR", str(state))
    return state


def calls(state: Path, command: str) -> list[dict[str, object]]:
    lines = (state / "calls.jsonl").read_text().splitlines()
    return [call for call in map(json.loads, lines) if call["command"] == command]


def wait_for_array(state: Path, timeout_s: float = 300.0) -> dict[str, str]:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        states = json.loads((state / "states.json").read_text())
        if all(s in ("COMPLETED", "FAILED") for s in states.values()):
            return states
        time.sleep(0.5)
    raise AssertionError(f"the array did not finish: {states}")


STOPPED_ONCE = {"preempted-once": "plugins:PreemptedOnce", "timed-out-once": "plugins:TimedOutOnce",
                "terminated-once": "plugins:TerminatedOnce"}


@pytest.mark.slow
def test_a_slurm_array_requeues_stopped_tasks_and_runs_every_cell_once(
    fake_slurm: Path, tmp_path: Path, run_bench: RunBench, install_plugin: Callable[[dict[str, str]], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    install_plugin({"tiny-convnet": "plugins:TinyConvNet", **STOPPED_ONCE})
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(sys.path))
    monkeypatch.setenv("BENCH_TEST_STOP_MARKERS", str(tmp_path))
    results = tmp_path / "results"
    result = run_bench([
        "run", "--methods", ",".join(["tiny-convnet", *STOPPED_ONCE]), "--datasets", "demo:10",
        "--results", str(results), "--executor", "slurm", "--partition", "gpu", "--account", "astro", "--qos", "high",
        "--time-limit", "0:30", "--cpus-per-task", "2", "--mem-gb", "16", "--array-parallelism", "2",
        "--sbatch", "constraint=a100", "--setup", "echo setup-ran",
    ])
    assert result.exit_code == 0, result.output
    assert "submitted job array 4200: 4 tasks, 4 cells" in result.output and "bench status" in result.output
    [submitted] = calls(fake_slurm, "sbatch")
    script = str(submitted["script"])
    for line in ("--array=0-3%2", "--partition=gpu", "--account=astro", "--qos=high", "--time=30",
                 "--gpus-per-node=1", "--cpus-per-task=2", "--mem=16GB", "--constraint=a100", "--signal=USR2@90",
                 "--ntasks-per-node=1"):
        assert f"#SBATCH {line}\n" in script, script
    assert "\nexport OMP_NUM_THREADS=2\necho setup-ran\n" in script and str(results / "submitit") in script

    assert set(wait_for_array(fake_slurm).values()) == {"COMPLETED"}
    records = recorded(results)
    assert sorted(r["spec"]["method"] for r in records) == sorted(["tiny-convnet", *STOPPED_ONCE])  # type: ignore[index]
    assert {r["status"] for r in records} == {"ok"}
    assert sorted(c["argv"][1] for c in calls(fake_slurm, "scontrol")) == ["4200_1", "4200_2", "4200_3"]  # each once
    assert not list(results.glob("*/*/*.claim"))
    logs = "".join(path.read_text() for path in (results / "submitit").glob("*/*_log.err"))
    started = Counter(cell.split()[0] for cell in RAN.findall(logs))
    assert started == {"tiny-convnet": 1, **dict.fromkeys(STOPPED_ONCE, 2)}
    assert logs.count("nothing of it kept") == 3 and logs.count("goes back to the queue through submitit") == 3

    status = run_bench(["status", "--results", str(results)])
    assert "COMPLETED 4" in status.output and "4200" in status.output
    counts = re.search(r"│ (\d+)\s+│ (\d+)\s+│ (\d+)\s+│ (\d+)\s+│", status.output)
    assert counts is not None and counts.groups() == ("4", "0", "0", "0")


@pytest.mark.slow
def test_stopping_local_workers_keeps_nothing_of_their_cells_and_a_rerun_resumes(
    tmp_path: Path, plugin_methods: None
) -> None:
    results = tmp_path / "results"
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "bench.cli", "run", "--methods", "tiny-convnet", "--datasets", "demo:40",
               "--fractions", "0.2,0.4,0.6,0.8,1.0", "--seeds", "0,1", "--device", "cpu", "--results", str(results),
               "--executor", "local", "--workers", "2"]
    parent = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(results.glob("*/*/*.json")) and time.time() < deadline:
        time.sleep(0.2)
    parent.send_signal(signal.SIGTERM)
    log = parent.communicate(timeout=60)[1]
    assert parent.returncode == 143 and "interrupted: the workers stopped" in log, log
    assert not list(results.glob("*/*/*.claim"))  # every claim released
    outputs, records = ({p.with_suffix("") for p in results.glob(f"*/*/*.{kind}")} for kind in ("npz", "json"))
    assert outputs <= records  # no test outputs of a cell that was not recorded
    first = {path.name for path in results.glob("*/*/*.json")}
    assert 0 < len(first) < 10
    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert rerun.returncode == 0, rerun.stderr
    assert len(list(results.glob("*/*/*.json"))) == 10
    logs = "".join(path.read_text() for path in (results / "submitit").glob("*/*_log.err"))
    finished = Counter(cell for cell in RAN.findall(logs))
    assert len(finished) == 10  # every cell started; the ones done before the stop were not started again
    assert all(count == 1 for cell, count in finished.items() if f"{cell.split()[-1]}.json" in first)
    status = subprocess.run([sys.executable, "-m", "bench.cli", "status", "--results", str(results)], env=env,
                            capture_output=True, text=True, timeout=60)
    assert status.stdout.count("ENDED 2") == 2, status.stdout  # two submissions of two workers each
    assert re.search(r"│ 10\s+│ 0\s+│ 0\s+│ 0\s+│", status.stdout), status.stdout


def test_status_watch_refreshes_until_ctrl_c(tmp_path: Path, run_bench: RunBench,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.cli import status

    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(status.time, "sleep", sleep)
    result = run_bench(["status", "--results", str(tmp_path), "--watch", "--interval", "3"])
    assert result.exit_code == 0 and naps == [3.0, 3.0] and "done" in result.output
    missing = run_bench(["status", "--results", str(tmp_path / "nowhere")])
    assert missing.exit_code == 2 and "does not exist" in missing.output
