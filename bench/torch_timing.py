"""The timing loop shared by the PyTorch sides of the benches (sll_torch.py, layers_torch.py,
fft_torch.py): warm-up calls, then timed calls, printed as the one line `ms <t1> <t2> ...` (ms)
that bench/harness.ts's callers parse. One copy, so every PyTorch figure is timed the same way.
"""
import time


def print_step_times(step, repeats, warmup):
    """Calls step() `warmup` times untimed, then `repeats` times timed; prints `ms t1 t2 ...`."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    print("ms " + " ".join(f"{t:.3f}" for t in times), flush=True)
