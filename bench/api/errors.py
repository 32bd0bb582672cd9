"""The one error type users see: a single line saying what is wrong and how to fix it."""


class BenchError(Exception):
    """A user-facing failure: ``problem`` says what is wrong, ``fix`` what to do about it."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}. Fix: {fix}" if fix else problem)
