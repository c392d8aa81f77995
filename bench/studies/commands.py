"""``bench scale`` and ``bench speed``: the side studies of cost (time and memory against size; Keras backends)."""

from __future__ import annotations

import time

from bench.errors import BenchError


def cmd_scale(args) -> int:
    from bench.data.datafiles import resolve_data_dir
    from bench.data.tasks import dataset_of
    from bench.studies import scale

    data_dir = resolve_data_dir(args.data_dir)
    for name in ("so_lang4_titles", "so_lang4"):
        if not (data_dir / dataset_of(name).filename).is_file():
            raise BenchError(
                f"missing data file {dataset_of(name).filename} in {data_dir}: pass --data-dir DIR or "
                "set PAIRBENCH_DATA_DIR"
            )
    started = time.perf_counter()
    paths = scale.run(data_dir, args.results_dir / "scale", sizes=args.sizes or scale.SIZES)
    print(f"scale done in {time.perf_counter() - started:.0f} s; table: {paths['md']}; plot: {paths['png']}")
    return 0


def cmd_speed(args) -> int:
    from bench.data.datafiles import resolve_data_dir
    from bench.studies import speed

    started = time.perf_counter()
    paths = speed.run(resolve_data_dir(args.data_dir), args.results_dir / "benchmarks")
    print(f"speed done in {time.perf_counter() - started:.0f} s; table: {paths['md']}")
    return 0
