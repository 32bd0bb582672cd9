"""Fault injection: every bad input and fault of the reliability issue, run through the real `bench` command
on tiny demo data, and a table of what each did: `python tests/faults.py` (or `nox -s faults`).

For each case: the exit code, the one-line message, and what happened to the results directory: records
lost (a record there before is gone or changed), duplicated (two records of one cell), corrupt (a file that
is not a valid record), wrongly ok (a successful record that should not be, e.g. pretrained from weights
that did not load), files outside --results, and whether any output held a Python traceback. Every count
must be zero and no traceback appear; the script exits 1 otherwise.
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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

TINY = ["--methods", "resnet18", "--datasets", "demo:10", "--epochs", "1", "--device", "cpu"]
ABSOLUTE = Path("/tmp/bench-fault-absolute")  # the case that names an absolute dataset path writes nowhere here


@dataclass
class Outcome:
    code: int
    output: str
    results: Path
    before: dict[Path, bytes] = field(default_factory=dict)
    planted: set[Path] = field(default_factory=set)  # the case's own input files


@dataclass(frozen=True)
class Case:
    name: str
    prepare: Callable[[Path], list[str]]  # writes what the case needs under the folder, returns bench's arguments
    wrongly_ok: Callable[[dict], bool] = lambda record: False
    expect_failure: bool = True  # a clear refusal (exit != 0) is the right outcome
    signal_after_first_record: int | None = None
    wrong_output: str | None = None  # output that means a wrong outcome (e.g. a changed input skipped as done)


def bench(arguments: list[str], timeout: float = 600) -> tuple[int, str]:
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "bench.cli", *arguments], env=env, capture_output=True,
                          text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def records(results: Path) -> dict[Path, bytes]:
    return {path: path.read_bytes() for path in sorted(results.glob("*/*/*.json"))} if results.is_dir() else {}


def results_of(folder: Path) -> Path:
    return folder / "results"


def run(folder: Path, *extra: str) -> list[str]:
    return ["run", *TINY, "--results", str(results_of(folder)), *extra]


def paper_run_with_weights(folder: Path) -> list[str]:
    """resnet18 under the paper profile (full size, on demo images) from the weights file folder/w.pth."""
    return ["run", "--profile", "paper", "--methods", "resnet18", "--datasets", "demo:10", "--epochs", "1",
            "--device", "cpu", "--weights", f"resnet18={folder / 'w.pth'}", "--results", str(results_of(folder))]


def foreign_weights(folder: Path) -> list[str]:
    torch.save(torch.nn.Linear(10, 3).state_dict(), folder / "w.pth")
    return paper_run_with_weights(folder)


def random_bytes_weights(folder: Path) -> list[str]:
    (folder / "w.pth").write_bytes(os.urandom(4096))
    return paper_run_with_weights(folder)


def empty_claim(folder: Path) -> list[str]:
    claim = results_of(folder) / "demo_10" / "resnet18" / "demo-default-full-random-f1-s0-24310d3a.claim"
    claim.parent.mkdir(parents=True)
    claim.write_bytes(b"")
    return run(folder)


def malformed_records(folder: Path) -> list[str]:
    place = results_of(folder) / "demo_10" / "resnet18"
    place.mkdir(parents=True)
    (place / "bad.json").write_text('{"status": "ok", "spec": "oops", "schema": 1}')
    (place / "nospec.json").write_text('{"status": "ok", "schema": 1}')
    return run(folder)


def sixteen_bit_folder(folder: Path) -> list[str]:
    for k, name in enumerate(("a", "b")):
        (folder / "cutouts" / name).mkdir(parents=True)
        for i in range(6):
            ramp = np.arange(256, dtype=np.uint16).reshape(16, 16) * (100 + 40 * i + 30 * k)
            Image.fromarray(ramp).save(folder / "cutouts" / name / f"{i}.png")
    return ["run", "--methods", "resnet18", "--datasets", "folder", "--data-path", str(folder / "cutouts"),
            "--epochs", "1", "--device", "cpu", "--tasks", "classify", "--results", str(results_of(folder))]


def changed_data(folder: Path) -> list[str]:
    """A folder dataset run once, then one more image added: the rerun must not be skipped as done."""
    for k, name in enumerate(("a", "b")):
        (folder / "cutouts" / name).mkdir(parents=True)
        for i in range(6):
            image = Image.fromarray(np.full((16, 16, 3), 20 * i + 120 * k, np.uint8))
            image.save(folder / "cutouts" / name / f"{i}.png")
    arguments = ["run", "--methods", "resnet18", "--datasets", "folder", "--data-path", str(folder / "cutouts"),
                 "--epochs", "1", "--device", "cpu", "--tasks", "classify", "--results", str(results_of(folder))]
    bench(arguments)
    Image.fromarray(np.full((16, 16, 3), 7, np.uint8)).save(folder / "cutouts" / "a" / "6.png")
    return arguments


def non_utf8_prompts(folder: Path) -> list[str]:
    (folder / "prompts.json").write_bytes('{"Round Smooth": "caf\xe9"}'.encode("latin-1"))
    return ["run", "--methods", "galaxalign-vit16", "--variants", "clip", "--datasets", "demo:10", "--epochs", "1",
            "--device", "cpu", "--option", f"prompts={folder / 'prompts.json'}", "--results", str(results_of(folder))]


def results_is_a_file(folder: Path) -> list[str]:
    (folder / "results").write_text("not a folder")
    return ["run", *TINY, "--results", str(folder / "results")]


def sigterm(folder: Path) -> list[str]:
    return ["run", "--methods", "resnet18", "--datasets", "demo:10", "--seeds", "0,1,2,3", "--epochs", "1",
            "--device", "cpu", "--results", str(results_of(folder))]


def pretrained_ok(record: dict) -> bool:
    return record.get("status") == "ok" and (record.get("weights") or {}).get("init") == "pretrained"


CASES = [
    Case("1 foreign state_dict as weights", foreign_weights, wrongly_ok=pretrained_ok),
    Case("14 random bytes as weights", random_bytes_weights, wrongly_ok=pretrained_ok),
    Case("2 --epochs 0", lambda f: run(f, "--epochs", "0"), wrongly_ok=lambda r: r.get("status") == "ok"),
    Case("2 --epochs -1", lambda f: run(f, "--epochs", "-1"), wrongly_ok=lambda r: r.get("status") == "ok"),
    Case("2 --batch-size 0", lambda f: run(f, "--batch-size", "0")),
    Case("2 --seeds -1", lambda f: run(f, "--seeds", "-1")),
    Case("2 --seeds x", lambda f: run(f, "--seeds", "x")),
    Case("2 --fractions abc", lambda f: run(f, "--fractions", "abc")),
    Case("3 changed data under --data-path", changed_data, expect_failure=False, wrong_output="already done"),
    Case("4 --datasets ../../x", lambda f: ["run", "--methods", "resnet18", "--datasets", "../../x",
                                             "--results", str(results_of(f))]),
    Case("4 --datasets /absolute", lambda f: ["run", "--methods", "resnet18", "--datasets", str(ABSOLUTE),
                                               "--results", str(results_of(f))]),
    Case("4 --profile ../../../y", lambda f: run(f, "--profile", "../../../y")),
    Case("5 empty .claim", empty_claim, expect_failure=False),
    Case("7 malformed records", malformed_records, expect_failure=False),
    Case("8 task undefined (demo:6)", lambda f: ["run", "--methods", "resnet18", "--datasets", "demo:6",
                                                 "--epochs", "1", "--device", "cpu", "--results",
                                                 str(results_of(f))], expect_failure=False),
    Case("9 --device nosuch", lambda f: run(f, "--device", "nosuch")),
    Case("9 --device cuda:7", lambda f: run(f, "--device", "cuda:7")),
    Case("10 --results is a file", results_is_a_file),
    Case("11 SIGTERM mid-grid", sigterm, signal_after_first_record=signal.SIGTERM),
    Case("12 16-bit PNG folder", sixteen_bit_folder, expect_failure=False),
    Case("14 non-UTF-8 prompts file", non_utf8_prompts),
    Case("15 --option foo=bar on resnet18", lambda f: run(f, "--option", "foo=bar")),
    Case("15 --methods ,", lambda f: ["run", "--methods", ",", "--results", str(results_of(f))]),
    Case("15 --weights under the demo profile", lambda f: run(f, "--weights", f"resnet18={f / 'w.pth'}")),
]


def json_files(folder: Path) -> set[Path]:
    """Every JSON file the case's folder and the absolute-path case's folder hold."""
    return {*folder.parent.rglob("*.json"), *ABSOLUTE.rglob("*.json")}


def run_case(case: Case, folder: Path) -> Outcome:
    arguments = case.prepare(folder)
    results = results_of(folder)
    before, planted = records(results), json_files(folder)
    if case.signal_after_first_record is None:
        code, output = bench(arguments)
        return Outcome(code, output, results, before, planted)
    env = {**os.environ, "BENCH_NO_PROGRESS": "1", "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-m", "bench.cli", *arguments], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 300
    while not records(results) and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(case.signal_after_first_record)
    output, _ = process.communicate(timeout=120)
    return Outcome(process.returncode, output, results, before, planted)


def inspect(case: Case, outcome: Outcome, folder: Path) -> dict[str, object]:
    after = records(outcome.results)
    lost = sum(1 for path, content in outcome.before.items() if after.get(path) not in (content, None)
               or path not in after)
    corrupt, wrongly, cells = 0, 0, {}
    for path, content in after.items():
        try:
            record = json.loads(content)
            spec = record["spec"]
            key = json.dumps({k: v for k, v in spec.items() if k != "tasks"}, sort_keys=True)
        except (ValueError, KeyError, TypeError, AttributeError):
            corrupt += path not in outcome.before  # planted bad files are the case's input, not its damage
            continue
        cells[key] = cells.get(key, 0) + 1
        wrongly += case.wrongly_ok(record)
    wrongly += bool(case.wrong_output and case.wrong_output in outcome.output)
    outside = [p for p in json_files(folder) - outcome.planted if not p.is_relative_to(outcome.results)]
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    message = next((line for line in lines if "Fix:" in line or "error" in line.lower()), lines[-1] if lines else "")
    refused = outcome.code != 0
    return {
        "case": case.name, "exit": outcome.code, "message": message.strip()[:110],
        "lost": lost, "duplicated": sum(n - 1 for n in cells.values()), "corrupt": corrupt, "wrongly ok": wrongly,
        "outside": len(outside), "traceback": "Traceback" in outcome.output,
        "as expected": refused == case.expect_failure,
    }


def main() -> int:
    rows = []
    shutil.rmtree(ABSOLUTE, ignore_errors=True)
    for case in CASES:
        root = Path(tempfile.mkdtemp(prefix="bench-fault-"))
        folder = root / "case"
        folder.mkdir()
        try:
            rows.append(inspect(case, run_case(case, folder), folder))
        finally:
            shutil.rmtree(root, ignore_errors=True)
        print(" | ".join(str(value) for value in rows[-1].values()), flush=True)
    headers = list(rows[0])
    print("\n| " + " | ".join(headers) + " |\n|" + "---|" * len(headers))
    for row in rows:
        print("| " + " | ".join(str(row[h]).replace("|", "/") for h in headers) + " |")
    bad = [row for row in rows if row["traceback"] or not row["as expected"]
           or any(row[k] for k in ("lost", "duplicated", "corrupt", "wrongly ok", "outside"))]
    print(f"\n{len(rows) - len(bad)} of {len(rows)} cases clean")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
