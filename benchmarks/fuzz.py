"""Fuzzing kanstudio's readers with malformed CSVs and corrupt model / project files.

    python benchmarks/fuzz.py [--csv 1000] [--files 1000] [--seed 0] [--memory-gb 2] [--timeout 10]

Each case is made by a seeded generator from a valid file (so a run is
reproducible case by case), then read as a user would: a CSV is loaded and
turned into a Dataset; a ``.kan`` is loaded and evaluated; a ``.kanproj`` is
opened and its model evaluated on its data.  Outcomes:

* ``accepted``  read, and what was read is right (see below);
* ``refused``   one readable KanstudioError, as designed;
* ``crash``     any other exception: a bug;
* ``wrong``     read, but what was read is not what the file holds: a bug
  (content-preserving mutations -- another encoding, line ending, separator,
  quoting, odd characters inside text cells -- must give the original numbers;
  a model file with a flipped bit that still loads must compute what the
  original computed; a damaged table whose numbers the damage left alone, or
  changed in known rows, may lose rows but every row read must be one the
  file holds, finite, read at most as often as it is there: ``RowsFrom``);
* ``hang``      over --timeout seconds;
* ``memory``    over --memory-gb of resident memory, or a MemoryError under
  the address-space cap.

Cases run in worker processes with an address-space cap (RLIMIT_AS) a few GB
above what the worker holds after start-up, so a runaway allocation becomes a
MemoryError instead of the OS killing the machine; the peak resident memory of
each case is read from /proc (VmHWM, reset before every case).  The test suite
runs a reduced set in-process (tests/test_fuzz.py).
"""
from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import time
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

STARTUP_SECONDS = 300    # a worker's imports and seed files, on a loaded machine

HOSTILE_VALUES = [10**9, -1, 0, 2**63, -(2**63), 1e308, float("nan"), "x" * 5000, None, [], {}, [[[[[]]]]],
                  [10**7, 3, 1], "1e9", True, 3.5, [-5, 3, 1], {"a": 1}, "../../etc/passwd", "\u0000"]


# ------------------------------------------------------------------ valid seeds
def base_table(rng: random.Random, rows: int = 60):
    """A valid table: names, numeric columns (the last is the target), one text column."""
    n_in = rng.randint(1, 4)
    names = [f"x{k}" for k in range(n_in)] + ["label", "y"]
    X = [[round(rng.uniform(-5, 5), 6) for _ in range(n_in)] for _ in range(rows)]
    data = [row + [f"s{r}", round(sum(row) + 0.5, 6)] for r, row in enumerate(X)]
    return names, data


def table_text(names, data, sep=",", eol="\n", quote_text=False) -> str:
    def cell(v):
        if isinstance(v, str):
            return f'"{v}"' if quote_text else v
        return repr(v)
    return eol.join([sep.join(names)] + [sep.join(cell(v) for v in row) for row in data]) + eol


def numbers(names, data) -> np.ndarray:
    keep = [j for j, n in enumerate(names) if n != "label"]
    return np.array([[row[j] for j in keep] for row in data], dtype=np.float64)


# ------------------------------------------------------------------ CSV cases
def _preserving(rng, names, data):
    """(bytes, expected numbers): the same table written another way."""
    kind = rng.choice(["sep", "crlf", "cr", "bom", "utf16", "cp1252", "quotes", "incell", "spaces"])
    sep = {"sep": rng.choice([";", "\t", "|"])}.get(kind, ",")
    eol = {"crlf": "\r\n", "cr": "\r"}.get(kind, "\n")
    rows = [list(r) for r in data]
    names = list(names)
    if kind == "incell":                       # line-separator-like characters inside a text cell
        ch = rng.choice(["\u2028", "\u2029", "\x0c", "\x0b", "\x85", "\x1c", "\x1d", "\x1e"])
        for r in rows:
            r[names.index("label")] = f"a{ch}b"
    if kind == "cp1252":
        names[names.index("label")] = "labél €–"
    text = table_text(names, rows, sep, eol, quote_text=kind in ("quotes", "incell"))
    if kind == "spaces":
        text = text.replace(",", ", ")
    enc = {"utf16": "utf-16", "cp1252": "cp1252"}.get(kind, "utf-8")
    raw = text.encode(enc)
    if kind == "bom":
        raw = b"\xef\xbb\xbf" + raw
    return raw, numbers(names if kind != "cp1252" else [n if n != "labél €–" else "label" for n in names], rows)


class RowsFrom:
    """What an accepted damaged table may hold: rows each equal to one of
    ``rows`` (no row more often than it is there), every value finite.  The
    damage may cost rows or the whole table, never change a value or invent one."""

    def __init__(self, rows: np.ndarray):
        self.rows = rows

    def problem(self, got: np.ndarray):
        """None when ``got`` is honest, else what is wrong with it."""
        if not np.isfinite(got).all():
            return "a non-finite value was read"
        if got.shape[1] != self.rows.shape[1]:
            return f"read {got.shape[1]} columns, the file holds {self.rows.shape[1]}"
        pool = {}
        for r in map(tuple, self.rows):
            pool[r] = pool.get(r, 0) + 1
        for r in map(tuple, got):
            if not pool.get(r):
                return f"read a row the file does not hold: {r}"
            pool[r] -= 1
        return None


def _destructive(rng, names, data):
    """(bytes, RowsFrom or None for 'any honest outcome'): a damaged table.
    Where the damage leaves the numbers alone, or changes known rows, what may
    be read is known: the rows of the table as it was, or as changed."""
    text = table_text(names, data)
    intact = RowsFrom(numbers(names, data))
    b = bytearray(text.encode())
    kind = rng.choice(["truncate", "bytes", "flip", "longfield", "wide", "quote", "nan", "huge", "dupnames",
                       "cleaned", "empty", "header", "onecol", "binary", "controls", "ragged", "tiny", "magic"])
    if kind == "truncate":
        return bytes(b[:rng.randint(0, len(b))]), None
    if kind == "bytes":
        for _ in range(rng.randint(1, 20)):
            b.insert(rng.randrange(len(b) + 1), rng.randrange(256))
        return bytes(b), None
    if kind == "flip":
        for _ in range(rng.randint(1, 10)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b), None
    if kind == "longfield":
        rows = [list(r) for r in data]
        rows[rng.randrange(len(rows))][names.index("label")] = "z" * rng.choice([140_000, 300_000])
        return table_text(names, rows).encode(), intact
    if kind == "wide":
        n = rng.choice([3000, 20_000])
        return (",".join(f"c{k}" for k in range(n)) + "\n" + ",".join("1" for _ in range(n)) + "\n").encode(), None
    if kind == "quote":
        return text.replace("s1", 's"1', 1).encode(), intact
    if kind in ("nan", "huge"):
        rows = [list(r) for r in data]
        for _ in range(rng.randint(1, 5)):
            r = rows[rng.randrange(len(rows))]
            r[rng.choice([j for j, n in enumerate(names) if n != "label"])] = (
                rng.choice([float("nan"), float("inf"), -float("inf")]) if kind == "nan"
                else rng.choice([1.7e308, -1.7e308, 1e200, 5e-324]))
        # the changed rows may be read as changed (a subnormal is a number), never otherwise
        return table_text(names, rows).encode(), RowsFrom(np.vstack([numbers(names, data), numbers(names, rows)]))
    if kind == "dupnames":
        return table_text([names[0]] * len(names), data).encode(), intact
    if kind == "cleaned":                       # distinct names that clean to the same identifier
        alt = list(names)
        alt[0], alt[-1] = "temp 1", "temp-1"
        return table_text(alt, data).encode(), intact
    if kind == "empty":
        return rng.choice([b"", b"\n\n\n", b"   ", b","]), None
    if kind == "header":
        return (",".join(names) + "\n").encode(), None
    if kind == "onecol":
        return ("y\n" + "\n".join(str(r[-1]) for r in data)).encode(), None
    if kind == "binary":
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 4000))), None
    if kind == "controls":
        return text.replace("s", "\x01\x02", 5).encode(), intact
    if kind == "ragged":
        lines = text.splitlines()
        i = rng.randrange(1, len(lines))
        lines[i] += ",9,9,9"
        return "\n".join(lines).encode(), intact
    if kind == "tiny":
        return table_text(names, data[:rng.randint(1, 3)]).encode(), intact
    return rng.choice([b"PK\x03\x04", b"\x89PNG", b"%PDF", b"\x1f\x8b"]) + bytes(b), None


def csv_case(seed: int):
    """(bytes, expected numbers or None for 'any honest outcome')."""
    rng = random.Random(seed)
    names, data = base_table(rng)
    if rng.random() < 0.4:
        return _preserving(rng, names, data)
    return _destructive(rng, names, data)


# ------------------------------------------------------------------ model cases
_BASE_MODELS: dict = {}


def base_model(variant: int):
    """A small valid model (a few shapes, some symbolic edges) and its bytes."""
    if variant not in _BASE_MODELS:
        import torch
        from kanstudio.model import io as kio
        from kanstudio.model.network import KAN
        widths = [[2, 3, 1], [3, [2, 1], 1], [1, 2, 2, 1]]
        m = KAN(widths[variant % 3], grid=4 + variant % 3, seed=variant)
        m.fix_symbolic(0, 0, 0, ["sin", "x^2", "exp"][variant % 3])
        x = torch.linspace(-1, 1, 7 * m.n_inputs, dtype=torch.float64).reshape(7, m.n_inputs)
        _BASE_MODELS[variant] = (kio.to_bytes(m), x, m(x).detach())
    return _BASE_MODELS[variant]


def _edit_description(data: bytes, rng: random.Random, rehash: bool) -> bytes:
    from safetensors.torch import load as st_load, save as st_save
    from kanstudio.model import io as kio
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8:8 + n])["__metadata__"]["kanstudio_model"])
    desc = meta["description"]
    key = rng.choice(sorted(desc))
    desc[key] = rng.choice(HOSTILE_VALUES)
    if rng.random() < 0.3 and isinstance(desc.get("sym_names"), list) and desc["sym_names"]:
        desc["sym_names"] = [["no_such_fn"]] + desc["sym_names"][1:]
    t = st_load(data)
    meta.pop("sha256", None)
    if rehash:
        meta["sha256"] = kio._digest(meta, t)
    try:
        text = json.dumps(meta)
    except ValueError:
        text = json.dumps(meta, default=str)
    return st_save(t, metadata={"kanstudio_model": text})


def _edit_tensor(data: bytes, rng: random.Random) -> bytes:
    import torch
    from safetensors.torch import load as st_load, save as st_save
    from kanstudio.model import io as kio
    n = int.from_bytes(data[:8], "little")
    meta = json.loads(json.loads(data[8:8 + n])["__metadata__"]["kanstudio_model"])
    t = st_load(data)
    name = rng.choice(sorted(t))
    kind = rng.choice(["shape", "dtype", "value", "drop"])
    if kind == "shape":
        t[name] = torch.zeros(tuple(s + 1 for s in t[name].shape) or (2,), dtype=t[name].dtype)
    elif kind == "dtype":
        t[name] = t[name].to(torch.float32 if t[name].dtype != torch.float32 else torch.int64)
    elif kind == "value" and t[name].numel():
        flat = t[name].reshape(-1).clone()
        flat[rng.randrange(flat.numel())] = rng.choice([float("nan"), 1e300, -7, 10**6]) \
            if flat.is_floating_point() else rng.choice([-5, 99, 10**9])
        t[name] = flat.reshape(t[name].shape)
    else:
        t.pop(name)
    meta.pop("sha256", None)
    meta["sha256"] = kio._digest(meta, t)          # as an attacker would: the checks must hold without it
    return st_save(t, metadata={"kanstudio_model": json.dumps(meta)})


def kan_case(seed: int):
    """(bytes, expected (x, y) or None): a damaged .kan file."""
    rng = random.Random(seed)
    data, x, y = base_model(seed % 3)
    kind = rng.choice(["flip", "flip", "truncate", "desc", "desc_rehash", "tensor", "header", "garbage"])
    if kind == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 3)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b), (x, y)                  # loads only if it still computes the same
    if kind == "truncate":
        return data[:rng.randrange(len(data))], None
    if kind in ("desc", "desc_rehash"):
        return _edit_description(data, rng, kind == "desc_rehash"), None
    if kind == "tensor":
        return _edit_tensor(data, rng), None
    if kind == "header":
        big = rng.choice([2**40, 2**63 - 1, 0, len(data)])
        return big.to_bytes(8, "little") + data[8:], None
    return bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000))), None


# ------------------------------------------------------------------ project cases
_BASE_PROJECT: dict = {}


def base_project() -> bytes:
    if "bytes" not in _BASE_PROJECT:
        import tempfile
        from kanstudio.data import Dataset
        from kanstudio.model.network import KAN
        from kanstudio.project import Project, save_project
        rng = np.random.default_rng(0)
        X = rng.uniform(-1, 1, size=(80, 2))
        ds = Dataset.from_arrays(X, X[:, :1] * X[:, 1:], ["a", "b"], ["y"])
        with tempfile.TemporaryDirectory() as d:
            p = save_project(Project(dataset=ds, model=KAN([2, 3, 1], seed=0)), Path(d) / "p.kanproj")
            _BASE_PROJECT["bytes"] = p.read_bytes()
    return _BASE_PROJECT["bytes"]


def project_case(seed: int) -> bytes:
    rng = random.Random(seed)
    base = base_project()
    with zipfile.ZipFile(io.BytesIO(base)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    kind = rng.choice(["json", "json", "drop", "model", "data", "bomb", "truncate", "extra", "flip"])
    if kind == "truncate":
        return base[:rng.randrange(len(base))]
    if kind == "flip":
        b = bytearray(base)
        b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return bytes(b)
    if kind == "json":
        doc = json.loads(members["project.json"])
        section = rng.choice(["settings", "ui", "data", "history", "results", "model", "schema", "format"])
        target = doc.get(section)
        if isinstance(target, dict) and target and rng.random() < 0.8:
            target[rng.choice(sorted(target))] = rng.choice(HOSTILE_VALUES)
        else:
            doc[section] = rng.choice(HOSTILE_VALUES)
        members["project.json"] = json.dumps(doc, default=str).encode()
    elif kind == "drop":
        members.pop(rng.choice(sorted(members)))
    elif kind == "model":
        members["model.safetensors"] = kan_case(rng.randrange(10**6))[0]
    elif kind == "data":
        members["data.csv"] = csv_case(rng.randrange(10**6))[0]
    elif kind == "extra":
        members["../evil.txt"] = b"x"
    elif kind == "bomb":
        members.pop("data.csv", None)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, data in members.items():
            zf.writestr(n, data)
        if kind == "bomb":
            zf.writestr("data.csv", b"0" * rng.choice([30_000_000, 200_000_000]))
    return out.getvalue()


# ------------------------------------------------------------------ reading a case
def run_case(kind: str, data: bytes, expected, tmpdir: Path) -> tuple[str, str]:
    """(outcome, detail) of reading one case as a user would."""
    import torch
    from kanstudio.errors import KanstudioError
    try:
        if kind == "csv":
            from kanstudio.data import build_dataset, read_table_bytes
            raw = read_table_bytes(data, "case.csv")
            ds = build_dataset(raw)
            if isinstance(expected, RowsFrom):
                problem = expected.problem(np.column_stack([ds.X, ds.Y]))
                if problem:
                    return "wrong", problem
            elif expected is not None:
                got = np.column_stack([ds.X, ds.Y])
                want = expected
                # (the decimal text of a float reads back to within an ulp)
                if got.shape != want.shape or not np.allclose(got, want, rtol=4e-16, atol=0.0):
                    return "wrong", f"read {got.shape} values, the file holds {want.shape}"
            cleaned = {n: k for k, n in enumerate(ds.input_names + ds.target_names)}
            if len(cleaned) != len(ds.input_names) + len(ds.target_names):
                return "wrong", "two columns share a name"
        elif kind == "kan":
            from kanstudio.model import io as kio
            model = kio.from_bytes(data, source="case.kan")
            if expected is not None:
                x, y = expected
                with torch.no_grad():
                    out = model(x)
                if out.shape != y.shape or not torch.equal(out, y):
                    return "wrong", "a damaged model loaded and computes something else"
            else:
                with torch.no_grad():
                    model(torch.zeros(3, model.n_inputs, dtype=model.dtype))
        else:
            from kanstudio.project import load_project
            path = tmpdir / "case.kanproj"
            path.write_bytes(data)
            project = load_project(path)
            if project.model is not None and project.dataset is not None:
                x, _ = project.dataset.tensors("train")
                with torch.no_grad():
                    project.model(x[:5].to(project.model.dtype))
        return "accepted", ""
    except KanstudioError as exc:
        msg = str(exc)
        if "\n" in msg or not msg.strip():
            return "crash", f"a KanstudioError message of {len(msg.splitlines())} lines"
        return "refused", msg[:120]
    except MemoryError:
        return "memory", "MemoryError"
    except Exception as exc:  # noqa: BLE001 - the point of fuzzing: anything else is a bug
        return "crash", f"{type(exc).__name__}: {str(exc)[:160]}"


def make_case(kind: str, seed: int):
    if kind == "csv":
        return csv_case(seed)
    if kind == "kan":
        return kan_case(seed)
    return project_case(seed), None


# ------------------------------------------------------------------ worker processes
def _vm_kb(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _reset_peak():
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _worker(conn, memory_gb: float):
    import resource
    import tempfile
    import torch
    torch.set_num_threads(1)
    base_model(0), base_model(1), base_model(2), base_project()       # before the cap: the seeds
    cap = _vm_kb("VmSize") * 1024 + int(memory_gb * 2**30) + 2**30
    try:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    except (ValueError, OSError):
        pass
    conn.send("ready")          # start-up (imports, the seed files) is not a case's time
    with tempfile.TemporaryDirectory() as d:
        while True:
            job = conn.recv()
            if job is None:
                return
            kind, seed = job
            _reset_peak()
            rss0 = _vm_kb("VmRSS")
            data, expected = make_case(kind, seed)
            outcome, detail = run_case(kind, data, expected, Path(d))
            peak_mb = max(0, _vm_kb("VmHWM") - rss0) / 1024
            if peak_mb > memory_gb * 1024:
                outcome, detail = "memory", f"{peak_mb:.0f} MB"
            conn.send((outcome, detail, peak_mb))


def run(n_csv: int, n_files: int, seed: int, memory_gb: float, timeout: float, show: int = 5) -> Counter:
    import multiprocessing as mp
    ctx = mp.get_context("spawn")
    jobs = [("csv", seed + k) for k in range(n_csv)]
    jobs += [("kan" if k % 2 == 0 else "kanproj", seed + k) for k in range(n_files)]
    counts: Counter = Counter()
    bad: list = []
    worker = parent = None
    peak = 0.0
    t0 = time.perf_counter()
    for i, job in enumerate(jobs):
        if worker is None:
            parent, child = ctx.Pipe()
            worker = ctx.Process(target=_worker, args=(child, memory_gb), daemon=True)
            worker.start()
            if not parent.poll(STARTUP_SECONDS) or parent.recv() != "ready":
                raise RuntimeError("a fuzz worker did not start")
        parent.send(job)
        if parent.poll(timeout):
            try:
                outcome, detail, mb = parent.recv()
            except EOFError:
                outcome, detail, mb = "memory", "the worker died (killed by the OS?)", math.nan
                worker = None
        else:
            outcome, detail, mb = "hang", f"over {timeout:g} s", math.nan
            worker.kill()
            worker = None
        if worker is not None and not worker.is_alive():
            worker = None
        peak = max(peak, mb) if math.isfinite(mb) else peak
        counts[(job[0], outcome)] += 1
        if outcome in ("crash", "wrong", "hang", "memory"):
            bad.append((job, outcome, detail))
        if (i + 1) % 200 == 0:
            print(f"  {i + 1}/{len(jobs)} cases, {time.perf_counter() - t0:.0f} s", flush=True)
    if worker is not None:
        parent.send(None)
        worker.join(5)
    print(f"\n{len(jobs)} cases in {time.perf_counter() - t0:.0f} s; largest memory peak of a case {peak:.0f} MB")
    kinds = sorted({k for k, _ in counts})
    outcomes = ["accepted", "refused", "crash", "wrong", "hang", "memory"]
    print(f"{'':10s}" + "".join(f"{o:>10s}" for o in outcomes))
    for k in kinds:
        print(f"{k:10s}" + "".join(f"{counts[(k, o)]:10d}" for o in outcomes))
    for job, outcome, detail in bad[:show]:
        print(f"  {outcome}: {job[0]} seed {job[1]}: {detail}")
    return counts


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=int, default=1000)
    ap.add_argument("--files", type=int, default=1000, help=".kan and .kanproj cases (half each)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--memory-gb", type=float, default=2.0)
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args(argv)
    counts = run(args.csv, args.files, args.seed, args.memory_gb, args.timeout)
    failures = sum(v for (k, o), v in counts.items() if o in ("crash", "wrong", "hang", "memory"))
    print(f"failures: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
