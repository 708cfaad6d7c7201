"""sympy under a deadline (symbolic/bounded.py)."""
import subprocess
import sys
import textwrap

from kanstudio.symbolic.bounded import run_bounded

# A computation that drops suspended generators past its deadline, as sympy's
# assumption system does: the garbage collector closes them, and an Overtime
# raised in that finalizer is printed ("Exception ignored in <generator>") and
# swallowed, after which Python turns tracing off and nothing stops the loop.
SCENARIO = textwrap.dedent("""
    import gc, sys
    from kanstudio.symbolic.bounded import Overtime, run_bounded

    def helper():
        return 1

    def gen():
        try:
            yield 1
            yield 2
        finally:
            helper()

    def work():
        while True:
            g = gen(); next(g)
            cycle = [g]; cycle.append(cycle)
            del g, cycle
            gc.collect()
            helper()

    try:
        run_bounded(work, seconds=0.3)
    except Overtime:
        print("stopped")
""")


def test_a_computation_past_its_deadline_stops_quietly():
    out = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "stopped"
    assert out.stderr == ""


def test_a_computation_within_its_deadline_returns_its_value():
    assert run_bounded(lambda a, b: a + b, 2, 3, seconds=5) == 5
