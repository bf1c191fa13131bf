"""What the timing telemetry costs: rtc_runtime.profiling disabled against enabled, side by side.

1. Calls (microseconds): a plain function; the same under `@profile_method`, disabled and enabled;
   an empty `profile_section`, disabled and enabled; `record_timing`; and one executor tick's
   telemetry (its lateness recorded, its work in a section, as `Ticker(name=...)` does).
2. Inference: the built-in policy's `LeRobotPolicy.sample` (identity guidance, 25-row leftover), each
   round once with everything the policy node records per chunk (profiling enabled, the sample in a
   section, every /rtc/timing component recorded) and once without; overhead in % of inference time.
3. Executor ticks: a deadline loop at --rate Hz popping an ActionQueue (a 50-row chunk merged every 25
   ticks), alternating one-second blocks with telemetry on (Ticker named, profiling enabled) and off;
   tick lateness percentiles per condition. The loop asks for SCHED_FIFO as the executor does.
4. Memory: the profiling state of the driver's four components (robot.cycle, its lateness,
   get_observation, send_action) after 1 minute, 10 minutes and 1 hour's worth of 100 Hz samples
   (recorded as fast as they go, durations drawn like a loaded machine's), measured with tracemalloc.

Every comparison alternates the two conditions within one run, so a busy machine loads both alike.

    python bench/telemetry.py [--calls 200000] [--rounds 100] [--duration 20] [--rate 100]
Targets: disabled decorated call <= 1 us over a plain call, enabled <= 10 us; telemetry <= 2 % of
inference time; <= 20 us per executor tick; tick lateness p99 unchanged within noise.
"""
from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np

from rtc_runtime import profiling
from rtc_runtime.deadline_loop import Ticker
from rtc_runtime.profiling import profile_method, profile_section, record_timing


def plain(x):
    return x


decorated = profile_method(plain)


def per_call_us(fn, calls: int) -> float:
    started = time.perf_counter()
    for i in range(calls):
        fn(i)
    return (time.perf_counter() - started) / calls * 1e6


def section(_):
    with profile_section("bench.section"):
        pass


def record(_):
    record_timing("bench.record", 1e-3)


def tick_telemetry(_):
    """What a named Ticker adds to one tick."""
    record_timing("bench.tick.lateness", 1e-4)
    with profile_section("bench.tick"):
        pass


def bench_calls(calls: int, repeats: int = 7) -> None:
    cases = {"plain call": (plain, False), "@profile_method disabled": (decorated, False),
             "@profile_method enabled": (decorated, True), "profile_section disabled": (section, False),
             "profile_section enabled": (section, True), "record_timing enabled": (record, True),
             "executor tick telemetry enabled": (tick_telemetry, True)}
    results: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):  # every case once per repeat, in turn
        for name, (fn, enabled) in cases.items():
            profiling.enable_profiling() if enabled else profiling.disable_profiling()
            profiling.clear_profiling_stats()
            results[name].append(per_call_us(fn, calls))
    profiling.disable_profiling()
    base = statistics.median(results["plain call"])
    print(f"1. calls: median of {repeats} repeats x {calls} calls")
    print(f"   {'case':<34} {'us/call':>8} {'over plain':>11}")
    for name, values in results.items():
        us = statistics.median(values)
        print(f"   {name:<34} {us:>8.3f} {us - base:>+11.3f}")


def bench_inference(rounds: int) -> None:
    import torch

    from rtc_policy_node.builtin_policy import CAMERA_KEY, default_checkpoint_path
    from rtc_policy_node.lerobot_policy import GuidanceSettings, LeRobotPolicy
    from rtc_contract.timing_components import COMPONENTS

    torch.set_num_threads(1)
    policy = LeRobotPolicy(str(default_checkpoint_path()), "cpu", GuidanceSettings("identity"))
    rng = np.random.default_rng(0)
    state = rng.normal(size=6) * 10
    images = {CAMERA_KEY: rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)}
    leftover = policy.sample(state, images, None, 0).model_output[25:]

    def one(enabled: bool) -> float:
        profiling.enable_profiling() if enabled else profiling.disable_profiling()
        started = time.perf_counter()
        with profile_section("get_actions"):
            chunk = policy.sample(state, images, leftover, 4)
        for name in COMPONENTS.values():  # what the policy node records per chunk
            record_timing(name, chunk.inference_s)
        return (time.perf_counter() - started) * 1e3

    for _ in range(5):
        one(False), one(True)
    on, off = [], []
    for k in range(rounds):  # alternate which goes first
        first, second = (True, False) if k % 2 else (False, True)
        a, b = one(first), one(second)
        (on if first else off).append(a)
        (on if second else off).append(b)
    profiling.disable_profiling()
    diffs = [x - y for x, y in zip(on, off)]
    med_off = statistics.median(off)
    print(f"2. inference (built-in policy, identity, 1 torch thread): {rounds} rounds")
    print(f"   telemetry off  median {med_off:7.2f} ms   p90 {np.percentile(off, 90):7.2f} ms")
    print(f"   telemetry on   median {statistics.median(on):7.2f} ms   p90 {np.percentile(on, 90):7.2f} ms")
    print(f"   on - off, median of paired differences: {statistics.median(diffs):+.3f} ms "
          f"({100 * statistics.median(diffs) / med_off:+.2f} % of inference)")


def bench_ticks(duration_s: float, rate_hz: float) -> None:
    from rtc_executor.core.action_queue import ActionQueue
    from rtc_runtime.scheduling import request_realtime

    ticks_per_block = int(rate_hz)
    blocks = max(2, int(duration_s))
    window = ticks_per_block * blocks
    tickers = {True: Ticker(rate_hz, window, name="executor.tick"), False: Ticker(rate_hz, window)}
    chunk = np.zeros((50, 6))
    report = {}

    def loop() -> None:
        report["scheduling"] = str(request_realtime(50))
        queue = ActionQueue(6)
        chunk_id = 0
        for block in range(blocks):
            enabled = block % 2 == 1
            profiling.enable_profiling() if enabled else profiling.disable_profiling()
            stop, count = threading.Event(), [0]

            def on_tick(_tick: int) -> None:
                nonlocal chunk_id
                if count[0] % 25 == 0:
                    chunk_id += 1
                    queue.merge(chunk_id, chunk, source_step=queue.leftover().step)
                queue.pop()
                count[0] += 1
                if count[0] >= ticks_per_block:
                    stop.set()

            tickers[enabled].run(on_tick, stop)
        profiling.disable_profiling()

    thread = threading.Thread(target=loop)
    thread.start()
    thread.join()
    print(f"3. executor-like ticks at {rate_hz:g} Hz, {blocks} one-second blocks alternating; "
          f"control thread {report['scheduling']}")
    for enabled, ticker in tickers.items():
        s = ticker.stats()
        print(f"   telemetry {'on ' if enabled else 'off'}  ticks {s.ticks:5d}  lateness p50 {s.p50_ms:.3f}  "
              f"p99 {s.p99_ms:.3f}  max {s.max_ms:.3f} ms  missed {s.missed}")


def bench_memory(rate_hz: float = 100.0) -> None:
    import tracemalloc

    rng = np.random.default_rng(0)
    names = ("robot.cycle", "robot.cycle.lateness", "robot.get_observation", "robot.send_action")
    profiling.clear_profiling_stats()
    profiling.enable_profiling()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    print(f"4. memory of the profiling state, {len(names)} components at {rate_hz:g} Hz")
    recorded = 0
    for minutes in (1, 10, 60):
        target = int(minutes * 60 * rate_hz)
        for row in rng.lognormal(-6.0, 0.8, size=(target - recorded, len(names))).tolist():
            for name, seconds in zip(names, row):
                record_timing(name, seconds)
        recorded = target
        kib = (tracemalloc.get_traced_memory()[0] - base) / 1024
        print(f"   after {minutes:3d} min ({recorded:7d} samples per component): {kib:8.1f} KiB")
    tracemalloc.stop()
    profiling.disable_profiling()
    profiling.clear_profiling_stats()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of ticks, half of them with telemetry")
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--memory-only", action="store_true", help="only part 4")
    args = parser.parse_args()
    if not args.memory_only:
        bench_calls(args.calls)
        bench_inference(args.rounds)
        bench_ticks(args.duration, args.rate)
    bench_memory(args.rate)


if __name__ == "__main__":
    main()
