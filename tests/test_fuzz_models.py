"""Broken model files: the loader checks the format, the metadata, every array the configuration calls for and
its shape, and the generation bank, and says what is wrong and which file, in one line, for every command
that takes ``--model`` (generate, inbetween, complete, intent, bench, batch). A pickle is never unpickled."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lmm_core.cli import main
from lmm_core.errors import LMMError
from lmm_core.model import tasks
from lmm_core.model.config import ModelConfig
from lmm_core.model.runtime import DEFAULT_MODEL, expected_arrays, load, write_segments

ROOT = Path(__file__).resolve().parents[1]
HOP = ROOT / "tests" / "data" / "cmu_131_03_hop_excerpt.bvh.xz"


@pytest.fixture(scope="module")
def shipped() -> tuple[dict, dict]:
    """The shipped model's arrays and record, with its segments inline (as `lmm train --export` writes a
    model): the shipped file keeps them in a file of their own, and the broken banks below are inline."""
    with np.load(DEFAULT_MODEL) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    with np.load(DEFAULT_MODEL.parent / meta.pop("segments_file")) as z:
        arrays |= {k: z[k] for k in z.files if k.startswith("bank_")}
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    return arrays, meta


def _save(path: Path, arrays: dict, meta=None, raw_meta: bytes | None = None) -> Path:
    arrays = dict(arrays)
    if raw_meta is not None:
        arrays["meta"] = np.frombuffer(raw_meta, dtype=np.uint8)
    elif meta is not None:
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def _config(meta: dict, **changes) -> dict:
    m = json.loads(json.dumps(meta))
    m["model_config"].update(changes)
    return m


class _Payload:
    def __init__(self, sentinel: Path):
        self.sentinel = sentinel

    def __reduce__(self):
        return (Path.touch, (self.sentinel,))


def test_expected_arrays_match_the_training_network_and_the_shipped_file(shipped):
    torch = pytest.importorskip("torch")  # noqa: F841  (the twin that names the parameters)
    from lmm_core.train.network import Network

    arrays, meta = shipped
    cfg = ModelConfig.from_dict(meta["model_config"])
    expected = expected_arrays(cfg)
    assert {k: v.shape for k, v in arrays.items() if k in expected} == expected
    for changes in ({}, {"velocity_inputs": True}, {"sampling": True, "layers": 2}):
        c = ModelConfig.from_dict({**meta["model_config"], **changes})
        net = {f"p.{k}": v.shape for k, v in Network(c).numpy_parameters().items()}
        assert net == {k: v for k, v in expected_arrays(c).items() if k.startswith("p.")}


BROKEN = {
    "truncated": ("truncated or damaged .npz", None),
    "empty": ("is empty", None),
    "npy": ("a single .npy array", None),
    "text": ("not a zip file", None),
    "pickle": ("a Python pickle", None),
    "meta_garbage": ("metadata is not JSON", None),
    "meta_list": ("not a JSON object", None),
    "no_meta": ("no meta record", None),
    "meta_format": ("has format 'lmm-model-99'", None),
    "no_config": ("model configuration is missing", None),
    "config_type": ("d_model must be a whole number", None),
    "config_negative": ("layers must be a whole number from 1", None),
    "config_heads": ("not a multiple of heads", None),
    "config_fps": ("fps must be a number from 0.1", None),
    "config_unknown": ("unknown key(s) colour", None),
    "config_actions": ("actions must be a non-empty list of names", None),
    "config_body": ("body record is incomplete or malformed", None),
    "missing_weight": ("lacks 1 array(s)", "p.l0_qkv_w"),
    "shape_weight": ("array p.in_w has shape (256, 211), expected (211, 256)", None),
    "nan_weight": ("array p.l1_ff1_w must hold finite", None),
    "string_weight": ("array p.cls must hold finite floating-point numbers", None),
    "std_zero": ("array std must be positive", None),
    "no_scale": ("lacks the correction scale", None),
    "mean_shape": ("array mean has shape (10,)", None),
    "bank_lengths": ("generation bank's arrays disagree", None),
    "bank_action": ("names actions or styles the model does not have", None),
    "bank_nan": ("bank_root must hold finite numbers", None),
    "objects": ("holds Python objects", None),
}


@pytest.fixture(scope="module")
def broken(shipped, tmp_path_factory) -> dict[str, Path]:
    arrays, meta = shipped
    d = tmp_path_factory.mktemp("models")
    raw = DEFAULT_MODEL.read_bytes()
    out = {}
    (d / "truncated.npz").write_bytes(raw[:9_000_000])
    (d / "empty.npz").write_bytes(b"")
    np.save(d / "npy.npy", np.zeros(3))
    (d / "text.npz").write_text("not a model")
    with open(d / "pickle.npz", "wb") as f:
        pickle.dump(_Payload(d / "PWNED"), f)
    out.update({k: d / f"{k}.npz" for k in ("truncated", "empty", "text", "pickle")}, npy=d / "npy.npy")
    drop = lambda *keys: {k: v for k, v in arrays.items() if k not in keys}  # noqa: E731
    out["meta_garbage"] = _save(d / "mg.npz", arrays, raw_meta=b"\xff{")
    out["meta_list"] = _save(d / "ml.npz", arrays, [1])
    out["no_meta"] = _save(d / "nm.npz", drop("meta"))
    out["meta_format"] = _save(d / "mf.npz", arrays, {**meta, "format": "lmm-model-99"})
    out["no_config"] = _save(d / "nc.npz", arrays, {k: v for k, v in meta.items() if k != "model_config"})
    for name, change in (("config_type", {"d_model": "wide"}), ("config_negative", {"layers": -1}),
                         ("config_heads", {"heads": 3}), ("config_fps", {"fps": float("nan")}),
                         ("config_unknown", {"colour": "blue"}), ("config_actions", {"actions": [1, 2]}),
                         ("config_body", {"body": {"names": ["a"]}})):
        out[name] = _save(d / f"{name}.npz", arrays, _config(meta, **change))
    out["missing_weight"] = _save(d / "mw.npz", drop("p.l0_qkv_w"))
    out["shape_weight"] = _save(d / "sw.npz", {**arrays, "p.in_w": arrays["p.in_w"].T.copy()})
    out["nan_weight"] = _save(d / "nw.npz", {**arrays, "p.l1_ff1_w": np.full_like(arrays["p.l1_ff1_w"], np.nan)})
    out["string_weight"] = _save(d / "stw.npz", {**arrays, "p.cls": np.array(["a"] * 256)})
    out["std_zero"] = _save(d / "sz.npz", {**arrays, "std": np.zeros_like(arrays["std"])})
    out["no_scale"] = _save(d / "ns.npz", drop("scale"))
    out["mean_shape"] = _save(d / "ms.npz", {**arrays, "mean": arrays["mean"][:10].copy()})
    out["bank_lengths"] = _save(d / "bl.npz", {**arrays, "bank_lengths": arrays["bank_lengths"] * 3})
    out["bank_action"] = _save(d / "ba.npz", {**arrays, "bank_action": np.full_like(arrays["bank_action"], 999)})
    out["bank_nan"] = _save(d / "bn.npz", {**arrays, "bank_root": np.full_like(arrays["bank_root"], np.nan)})
    objects = d / "objects.npz"
    with zipfile.ZipFile(objects, "w") as zf:
        for k, v in arrays.items():
            with zf.open(k + ".npy", "w") as f:
                np.lib.format.write_array(f, v)
        with zf.open("p.extra.npy", "w") as f:
            np.lib.format.write_array(f, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    out["objects"] = objects
    return out


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_the_loader_says_what_is_wrong_and_where(broken, name):
    needle, also = BROKEN[name]
    with pytest.raises(LMMError) as info:
        load(broken[name])
    message = str(info.value)
    assert str(broken[name]) in message and needle in message, message
    assert also is None or also in message
    assert "\n" not in message
    assert not (broken["pickle"].parent / "PWNED").exists()  # the pickle payload never ran


@pytest.mark.parametrize("command", ["generate", "inbetween", "complete", "intent", "bench"])
def test_every_model_command_refuses_a_broken_model_in_one_line(broken, tmp_path, capsys, command):
    out = tmp_path / "o.bvh"
    argv = {"generate": ["generate", "--action", "walk", "--method", "segments", "-o", out],
            "inbetween": ["inbetween", HOP, "--keys", "0,30", "-o", out],
            "complete": ["complete", HOP, "--frames", "10", "-o", out],
            "intent": ["intent", HOP], "bench": ["bench", "inbetween", "--test", HOP]}[command]
    for name in ("truncated", "missing_weight", "pickle"):
        status = main([str(a) for a in argv] + ["--model", str(broken[name])])
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2 and len(err) == 1 and err[0].startswith(f"lmm {command}: error: ")
        assert str(broken[name]) in err[0]
    assert not out.exists() and not (broken["pickle"].parent / "PWNED").exists()


def test_a_model_whose_segments_file_is_missing_or_wrong_says_so_when_segments_are_asked_for(shipped, tmp_path,
                                                                                             capsys):
    """A model may keep its segments in a file beside it (the shipped one does): only `--method segments`
    reads it, and a missing file, one written for another model, or a name that leads elsewhere is named."""
    arrays, meta = shipped
    apart = {k: v for k, v in arrays.items() if not k.startswith("bank_")}
    model = _save(tmp_path / "m.npz", apart, {**meta, "segments_file": "m_segments.npz"})
    load(model)  # loading does not read the segments: no error until they are asked for
    with pytest.raises(LMMError, match=r"segments file .*m_segments.npz \(the recorded segments of m.npz\) not found.*"
                                       r"the next-frame network \(the default method"):
        load(model).bank
    once = load(model)
    for _ in range(2):  # the failure is kept, not read again at every ask
        with pytest.raises(LMMError, match="not found"):
            once.bank
    assert once._bank_file is not None and once._bank_error is not None
    out = tmp_path / "o.bvh"
    # The next-frame network (the default) needs no segments; the segments method names the missing file.
    assert tasks.generate("walk", seconds=1.0, model=str(model)).num_frames == 30
    # The command refuses --model with the default method rather than pass over it (it chose segments before).
    assert main(["generate", "--action", "walk", "--seconds", "1", "--model", str(model), "-o", str(out)]) == 2
    assert "--model names a window model" in capsys.readouterr().err and not out.exists()
    assert main(["generate", "--action", "walk", "--method", "segments", "--model", str(model), "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "m_segments.npz" in err[0] and "not found" in err[0] and not out.exists()
    # Written for this model: read, and the same arrays as inline.
    cfg = load(DEFAULT_MODEL).cfg
    bank = {k: v for k, v in arrays.items() if k.startswith("bank_")}
    write_segments(tmp_path / "m_segments.npz", bank, cfg)
    got = load(model).bank
    assert set(got) == set(bank) and all(np.array_equal(got[k], bank[k]) for k in bank)
    # Written for another vocabulary.
    other = ModelConfig.from_dict({**meta["model_config"], "styles": list(cfg.styles) + ["stomping"]})
    write_segments(tmp_path / "m_segments.npz", bank, other)
    with pytest.raises(LMMError, match="was written for another model"):
        load(model).bank
    # Not a segments file at all.
    (tmp_path / "m_segments.npz").write_text("no")
    with pytest.raises(LMMError, match="not a zip file"):
        load(model).bank
    # A name that leads out of the model's folder is refused when the model loads.
    for name in ("../m_segments.npz", "/etc/passwd", 7):
        with pytest.raises(LMMError, match="must be named as a file beside it"):
            load(_save(tmp_path / "far.npz", apart, {**meta, "segments_file": name}))


def test_batch_dry_run_and_train_init_from_refuse_a_broken_model(broken, tmp_path, capsys):
    job = tmp_path / "job.toml"
    job.write_text(f'[job]\noutput = "{tmp_path / "out"}"\n[[task]]\ntype = "complete"\ninput = "{HOP}"\nframes = 5\n'
                   f'model = "{broken["shape_weight"]}"\n')
    assert main(["batch", str(job), "--dry-run"]) == 2
    err = capsys.readouterr()
    assert "WOULD FAIL" in err.out and "array p.in_w has shape" in err.err and len(err.err.strip().splitlines()) == 1
    pytest.importorskip("torch")
    r = subprocess.run([sys.executable, "-m", "lmm_core", "train", "--corpus", str(tmp_path / "none"), "--out",
                        str(tmp_path / "run"), "--init-from", str(broken["truncated"]), "--steps", "1"],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_an_npz_bomb_is_refused_before_it_is_read(tmp_path, monkeypatch):
    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("mean.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(4 << 20))  # 32 MiB of zeros, a few kB packed
    monkeypatch.setenv("LMM_MAX_ARRAY_BYTES", str(1 << 20))
    with pytest.raises(LMMError, match="more than the limit of 1,048,576.*LMM_MAX_ARRAY_BYTES"):
        load(bomb)
