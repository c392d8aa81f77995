"""A run's time accounting: each process's record, and a run killed and resumed counted as one run in parts."""

import json

from bench.tuning import timing


def write(folder, name, role, wall, fit, studies=(), **extra):
    folder.mkdir(parents=True, exist_ok=True)
    seconds = {"embed": 1.0, "fit": fit, "predict": 2.0, timing.WAIT: 0.0, timing.COMPILE: 0.0}
    record = {"role": role, "pid": 1, "wall_seconds": wall, "seconds": seconds, "peak_rss_bytes": 10 * 2**20,
              "studies_trained": list(studies), **extra}
    (folder / f"{name}.json").write_text(json.dumps(record))


def test_a_killed_part_is_kept_and_the_resumed_run_adds_every_part_up(tmp_path):
    folder = tmp_path / "timing"
    assert timing.begin_part(tmp_path) == 0 and (folder / timing.UNFINISHED).exists()
    # The first part: pretraining 300 s, then killed after 1,000 s; its processes' last records remain.
    write(folder, "coordinator-a", "coordinator", 1000.0, 0.0, pretraining_seconds=300.0,
          peak_rss_bytes_total=3 * 2**30, peak_pss_bytes_total=2 * 2**30)
    write(folder, "worker-a1", "worker", 690.0, 600.0, ["s1", "s2"])
    write(folder, "worker-a2", "worker", 690.0, 500.0, ["s3"])
    assert timing.begin_part(tmp_path) == 1  # the resumed part finds the folder unfinished
    assert sorted(p.name for p in (folder / "part-1").iterdir()) == ["coordinator-a.json", "worker-a1.json",
                                                                       "worker-a2.json"]
    write(folder, "coordinator-b", "coordinator", 400.0, 0.0, pretraining_seconds=0.0)
    write(folder, "worker-b1", "worker", 390.0, 300.0, ["s2", "s4"])  # s2: resumed after the kill
    cost = timing.summary(tmp_path, 400.0, 2 * 2**30, 2)
    assert cost["run_wall_seconds"] == 400.0 and cost["work_seconds"]["fit"] == 300.0  # this part alone
    parts = cost["all_parts"]
    assert parts["parts"] == 2 and parts["part_wall_seconds"] == [1000.0, 400.0]
    assert parts["run_wall_seconds"] == 1400.0 and parts["wall_seconds_after_pretraining"] == 1100.0
    assert parts["work_seconds"]["fit"] == 1400.0 and parts["studies_trained"] == 4
    assert parts["peak_rss_bytes_total"] == 3 * 2**30 and parts["peak_pss_bytes_total"] == 2 * 2**30
    assert timing.summary(tmp_path, 400.0, 2 * 2**30, 2, 1 * 2**30)["peak_pss_bytes_total"] == 1 * 2**30
    timing.end_part(tmp_path)
    assert timing.begin_part(tmp_path) == 0  # a finished run's folder is emptied by the next run
    assert [p.name for p in folder.iterdir()] == [timing.UNFINISHED]
    assert "all_parts" not in timing.summary(tmp_path, 1.0, None, 1)


def test_a_folder_written_before_parts_were_kept_is_emptied(tmp_path):
    write(tmp_path / "timing", "coordinator-old", "coordinator", 50.0, 0.0)  # no marker: that run finished
    assert timing.begin_part(tmp_path) == 0
    assert not list((tmp_path / "timing").glob("*.json"))


def test_a_record_counts_the_running_timer_and_is_written_at_start_and_stop(tmp_path, monkeypatch):
    clock = [1000.0]  # a fixed clock: the record's seconds are exact, whatever the machine's load
    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock[0])
    recorder = timing.Recorder(tmp_path, "worker", extra=lambda: {"note": 1}, every=3600.0)
    recorder.start()
    path = next((tmp_path / "timing").glob("worker-*.json"))
    first = json.loads(path.read_text())
    assert first["note"] == 1 and first["role"] == "worker"
    before = timing.snapshot().get("fit", 0.0)
    with timing.timed("fit"):
        clock[0] += 2.5
        assert timing.snapshot()["fit"] == before + 2.5  # a fit in progress counts up to now
        recorder.stop()  # the final record, written while the fit still runs
    assert json.loads(path.read_text())["seconds"]["fit"] == round(before + 2.5, 2)
    assert abs(json.loads(path.read_text())["wall_seconds"] - (first["wall_seconds"] + 2.5)) <= 0.01
    recorder.stop()  # once


def test_the_sampler_counts_a_page_two_processes_map_once_in_pss(tmp_path):
    """A file both this process and a child map: the resident sizes count its pages in both, the proportional
    set sizes split them, so their sum is below the sum of resident sizes by about the file's size."""
    import mmap
    import os
    import subprocess
    import sys

    size = 64 * 2**20
    path = tmp_path / "shared.bin"
    path.write_bytes(os.urandom(size))
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
        assert sum(mapped[i] for i in range(0, size, 4096)) >= 0  # every page resident here
        child = subprocess.Popen(
            [sys.executable, "-c", "import mmap,sys\nf=open(sys.argv[1],'rb');m=mmap.mmap(f.fileno(),0,access=mmap.ACCESS_READ)\n"
             "s=sum(m[i] for i in range(0,len(m),4096));print('ready',flush=True);sys.stdin.read()", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        try:
            assert child.stdout.readline().strip() == "ready"
            pids = (os.getpid(), child.pid)
            rss = sum(timing.rss_bytes(p) for p in pids)
            pss = sum(timing.pss_bytes(p) for p in pids)
        finally:
            child.communicate("")
    assert 0 < pss < rss - size // 2
