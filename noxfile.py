"""Sessions CI runs (tests, lint, typecheck) and the ones people run by hand (demo, perf)."""

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The CPU test suite (tiny models, synthetic data, no downloads) and its 15 slowest tests;
    `nox -s tests -- -m "not slow"` is the fast lane."""
    session.install("-e", ".[dev]")
    session.run("pytest", "--durations=15", *session.posargs, env={"BENCH_NO_PROGRESS": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", "bench", "baselines", "methods", "tests", "noxfile.py")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[dev]")
    session.run("mypy", "bench", "baselines", "methods")


@nox.session
def demo(session: nox.Session) -> None:
    """The README's first command: the paper grid on the bundled synthetic galaxies, then the leaderboard."""
    session.install("-e", ".")
    session.run("bench", "run", "--grid", "paper", "--profile", "demo")
    session.run("bench", "report")


@nox.session
def perf(session: nox.Session) -> None:
    """pytest-benchmark benchmarks of the metric kernels and the data pipeline, each beside its
    reference (scikit-learn, PIL/torchvision) on the CPU; not part of the test session."""
    session.install("-e", ".[dev]")
    session.run(
        "pytest", "tests/benchmarks", "-o", "python_files=bench_*.py", "-o", "addopts=", "--benchmark-enable",
        "--benchmark-group-by=group", "--benchmark-columns=min,mean,stddev,rounds", "--benchmark-sort=name",
        "--benchmark-min-rounds=3",
        *session.posargs, env={"BENCH_NO_PROGRESS": "1"},
    )


@nox.session
def faults(session: nox.Session) -> None:
    """Fault injection: every bad input and fault of the reliability issue through the real `bench`
    command on tiny demo data, as a table (tests/faults.py); fails when any case is not clean."""
    session.install("-e", ".[dev]")
    session.run("python", "tests/faults.py", env={"BENCH_NO_PROGRESS": "1"})
