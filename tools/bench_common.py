"""Timing and output shared by the Python reference benchmarks: each prints the JSON line that
`nx run bench:perf` reads (the same format as our TypeScript benchmarks)."""
import json
import statistics
import time

LAST_CPU_SECONDS = []


def timed(fn, warmup, repeats):
    """Wall seconds per run; CPU seconds (all threads) of the same runs go to LAST_CPU_SECONDS."""
    for _ in range(warmup):
        fn()
    samples = []
    LAST_CPU_SECONDS.clear()
    for _ in range(repeats):
        c = time.process_time()
        t = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t)
        LAST_CPU_SECONDS.append(time.process_time() - c)
    return samples


def report(name, unit, higher, samples, params):
    print(json.dumps({'benchmark': name, 'value': statistics.median(samples), 'unit': unit,
                      'higherIsBetter': higher, 'samples': samples, 'params': params}), flush=True)
