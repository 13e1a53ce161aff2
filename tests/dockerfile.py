"""Read a Dockerfile into stages of instructions, and run a stage's steps without Docker.

`run_stage` plays a build stage on this machine: WORKDIR, ENV and COPY are applied under a
temporary root (an absolute path `/x` becomes `<root>/x`), COPY honours `.dockerignore`, and
each RUN command is run as written with `sh -c`, from the working directory, with the stage's
environment.
"""

from __future__ import annotations

import fnmatch
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case) and the rest of its line."""

    keyword: str
    argument: str


@dataclass
class Stage:
    """A build stage: its name and its instructions, FROM excluded."""

    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        """The arguments of every instruction with this keyword, in order."""
        return [i.argument for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(path: Path) -> list[Stage]:
    """The stages of a Dockerfile, continuation lines joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, argument = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = argument.split()
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(base=words[0], name=name))
        else:
            stages[-1].instructions.append(Instruction(keyword, argument.strip()))
    return stages


def env_pairs(argument: str) -> list[tuple[str, str]]:
    """The KEY=value pairs of an ENV instruction."""
    return [tuple(word.split("=", 1)) for word in shlex.split(argument)]  # type: ignore[misc]


def ignored(relative: str, patterns: list[str]) -> bool:
    """Whether `.dockerignore` patterns leave a context path out (the last match decides)."""
    parts = relative.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            verdict = not negated
    return verdict


def read_dockerignore(context: Path) -> list[str]:
    """The patterns of the context's `.dockerignore`."""
    lines = (context / ".dockerignore").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def reroot(value: str, root: Path) -> str:
    """An absolute path moved under `root`; anything else unchanged."""
    return str(root / value.lstrip("/")) if value.startswith("/") else value


def copy_into(context: Path, sources: list[str], dest: Path, patterns: list[str]) -> None:
    """COPY: each source (a file or a folder's content) into `dest`, minus ignored paths."""
    for source in sources:
        origin = context / source
        if origin.is_file():
            if ignored(source, patterns):
                raise FileNotFoundError(f"{source} is excluded by .dockerignore")
            target = dest / origin.name if str(dest).endswith("/") or dest.is_dir() else dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, target)
            continue
        for path in sorted(origin.rglob("*")):
            relative = path.relative_to(context).as_posix()
            if path.is_dir() or ignored(relative, patterns):
                continue
            target = dest / path.relative_to(origin)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)


def run_stage(
    stage: Stage,
    *,
    context: Path,
    root: Path,
    env: dict[str, str],
    drop_env: frozenset[str] = frozenset(),
) -> list[subprocess.CompletedProcess[str]]:
    """Apply a stage's WORKDIR, ENV and COPY under `root` and run its RUN commands, in order.

    Stops at the first RUN that fails and returns every RUN's result so far.
    """
    patterns = read_dockerignore(context)
    workdir = root
    results: list[subprocess.CompletedProcess[str]] = []
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = Path(reroot(instruction.argument, root))
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "ENV":
            for key, value in env_pairs(instruction.argument):
                if key not in drop_env:
                    env[key] = reroot(value, root).replace("$PATH", env.get("PATH", ""))
        elif instruction.keyword == "COPY":
            words = shlex.split(instruction.argument)
            assert not any(w.startswith("--") for w in words), "COPY --from in a build stage"
            *sources, dest = words
            target = workdir / dest if not dest.startswith("/") else Path(reroot(dest, root))
            if dest.endswith("/"):
                target.mkdir(parents=True, exist_ok=True)
            copy_into(context, sources, target, patterns)
        elif instruction.keyword == "RUN":
            done = subprocess.run(
                ["sh", "-c", instruction.argument],
                cwd=workdir,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            results.append(done)
            if done.returncode != 0:
                break
    return results
