"""A fake SLURM for the tests: ``sbatch``, ``srun``, ``scontrol`` and ``sacct`` that record what they are
given and run a job array on this machine, one task after another.

``python fake_slurm.py COMMAND ARGS...`` acts as COMMAND (the ``fake_slurm`` fixture puts one wrapper
per command on PATH). State lives in ``$FAKE_SLURM_DIR``: ``calls.jsonl`` (every call, and the scripts
sbatch was given), ``states.json`` (each array task's state, as sacct reports it) and ``requeue-<id>``
markers that ``scontrol requeue`` leaves for the task runner. Each task gets the environment SLURM gives
an array task (its own ``SLURM_JOB_ID``, ``SLURM_ARRAY_JOB_ID``, ``SLURM_ARRAY_TASK_ID``,
``SLURM_RESTART_COUNT``, ``SLURM_PROCID``...); a task requeued while it ran is run again.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

FIRST_JOB = 4200
MAX_RESTARTS = 10


def state_dir() -> Path:
    return Path(os.environ["FAKE_SLURM_DIR"])


def log_call(command: str, argv: list[str], **extra: str) -> None:
    with (state_dir() / "calls.jsonl").open("a") as file:
        file.write(json.dumps({"command": command, "argv": argv, **extra}) + "\n")


def set_state(task: str, state: str) -> None:
    path = state_dir() / "states.json"
    states = json.loads(path.read_text()) if path.exists() else {}
    states[task] = state
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps(states))
    temp.replace(path)


def sbatch(argv: list[str]) -> int:
    script = Path(argv[-1]).read_text()
    log_call("sbatch", argv, script=script)
    match = re.search(r"^#SBATCH --array=0-(\d+)", script, re.MULTILINE)
    count = int(match[1]) + 1 if match else 1
    counter = state_dir() / "next_job"
    job = int(counter.read_text()) if counter.exists() else FIRST_JOB
    counter.write_text(str(job + 1))
    for index in range(count):
        set_state(f"{job}_{index}", "PENDING")
    subprocess.Popen([sys.executable, __file__, "run-array", str(job), str(count), argv[-1]],
                     start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(f"Submitted batch job {job}")
    return 0


def run_array(job: int, count: int, script: str) -> int:
    """Run the array's tasks one after another, each again while it was requeued during its run."""
    for index in range(count):
        task = f"{job}_{index}"
        for restart in range(MAX_RESTARTS):
            set_state(task, "RUNNING")
            env = {**os.environ, "SLURM_JOB_ID": str(job * 100 + index + 1), "SLURM_ARRAY_JOB_ID": str(job),
                   "SLURM_ARRAY_TASK_ID": str(index), "SLURM_RESTART_COUNT": str(restart), "SLURM_PROCID": "0",
                   "SLURM_LOCALID": "0", "SLURM_NODEID": "0", "SLURM_NTASKS": "1", "SLURM_JOB_NUM_NODES": "1",
                   "SLURM_JOB_NODELIST": socket.gethostname()}
            code = subprocess.run(["bash", script], env=env).returncode
            marker = state_dir() / f"requeue-{task}"
            if not marker.exists():
                set_state(task, "COMPLETED" if code == 0 else "FAILED")
                break
            marker.unlink()
    return 0


def srun(argv: list[str]) -> int:
    """Run the command after srun's options, its output to the --output and --error files."""
    log_call("srun", argv)
    files = {"--output": "", "--error": ""}
    while argv and argv[0].startswith("--"):
        option = argv.pop(0)
        if option in files:
            files[option] = argv.pop(0)
    names = {"%A": os.environ["SLURM_ARRAY_JOB_ID"], "%a": os.environ["SLURM_ARRAY_TASK_ID"],
             "%j": os.environ["SLURM_JOB_ID"], "%t": "0"}
    for option, name in files.items():
        for pattern, value in names.items():
            name = name.replace(pattern, value)
        files[option] = name
    with open(files["--output"], "a") as out, open(files["--error"] or files["--output"], "a") as err:
        return subprocess.run(argv, stdout=out, stderr=err).returncode


def scontrol(argv: list[str]) -> int:
    log_call("scontrol", argv)
    if argv[:1] == ["requeue"]:
        (state_dir() / f"requeue-{argv[1]}").touch()
    return 0


def sacct(argv: list[str]) -> int:
    """``sacct -o JobID,State,NodeList --parsable2 -j ID ...`` as submitit calls it."""
    log_call("sacct", argv)
    arrays = {argv[i + 1] for i, arg in enumerate(argv) if arg == "-j"}
    path = state_dir() / "states.json"
    states = json.loads(path.read_text()) if path.exists() else {}
    print("JobID|State|NodeList")
    for task, state in states.items():
        if task.split("_")[0] in arrays:
            print(f"{task}|{state}|{socket.gethostname()}")
    return 0


COMMANDS = {"sbatch": sbatch, "srun": srun, "scontrol": scontrol, "sacct": sacct}

if __name__ == "__main__":
    if sys.argv[1] == "run-array":
        sys.exit(run_array(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
