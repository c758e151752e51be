"""A local stand-in for GitHub's runner: play a workflow's jobs with its own ``run:`` scripts.

GitHub cannot be reached from the tests, so this plays what it would do with a
workflow file, as far as tfcanary's workflows use it: jobs in order of
``needs``, a matrix from an expression, job and step ``if:``, ``env:``,
``${{ }}`` expressions (contexts ``inputs``, ``matrix``, ``needs``, ``steps``,
``github``, ``runner``; ``always()``, ``success()``, ``fromJSON()``...),
``$GITHUB_OUTPUT`` and ``$GITHUB_STEP_SUMMARY``, job outputs, and each ``run:``
script executed by bash as GitHub does (``bash --noprofile --norc -eo pipefail``)
in the job's workspace.  The actions it meets are played by small stand-ins:
``actions/checkout`` clones the repository standing in for GitHub's,
``actions/setup-python`` leaves the runner's Python (first on PATH) as it is,
``actions/upload-artifact`` and ``download-artifact`` copy folders.  Anything
else is an error, so a workflow cannot use more than this plays.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
from fnmatch import fnmatch
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

_EXPR = re.compile(r"\$\{\{(.*?)\}\}", re.S)
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|<=|>=|[!<>(),])"
                    r"|(?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_*][\w-]*)*))")


def _text(value: Any) -> str:
    """An expression's value as GitHub writes it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def evaluate(expr: str, ctx: Dict[str, Any], status: Dict[str, bool]) -> Any:
    """One GitHub expression: translated to Python over ``ctx``, token by token."""
    funcs = {
        "always": lambda: True, "success": lambda: status["success"], "failure": lambda: not status["success"],
        "cancelled": lambda: False, "fromjson": lambda s: json.loads(s), "tojson": lambda v: json.dumps(v),
        "contains": lambda a, b: (b in a) if isinstance(a, (list, str)) else False,
        "startswith": lambda a, b: str(a).lower().startswith(str(b).lower()),
        "format": lambda f, *a: re.sub(r"\{(\d+)\}", lambda m: _text(a[int(m.group(1))]), f),
    }

    def lookup(path: str) -> Any:
        value: Any = ctx
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return value

    out, pos, src = [], 0, expr.strip()
    while pos < len(src):
        m = _TOKEN.match(src, pos)
        if not m or m.end() == pos:
            raise ValueError(f"cannot read the expression {expr!r} at {src[pos:]!r}")
        pos = m.end()
        if m.group("str") is not None:
            out.append(repr(m.group("str")[1:-1].replace("''", "'")))
        elif m.group("num") is not None:
            out.append(m.group("num"))
        elif m.group("op") is not None:
            out.append({"&&": " and ", "||": " or ", "!": " not "}.get(m.group("op"), m.group("op")))
        else:
            name = m.group("name")
            if name in ("true", "false", "null"):
                out.append({"true": "True", "false": "False", "null": "None"}[name])
            elif src[pos:].lstrip().startswith("(") and name.lower() in funcs:
                out.append(f"_f[{name.lower()!r}]")
            else:
                out.append(f"_get({name!r})")
    return eval("".join(out), {"__builtins__": {}}, {"_f": funcs, "_get": lookup})  # noqa: S307


def condition(cond: Any, ctx: Dict[str, Any], ok: bool) -> bool:
    """A job's or step's ``if:``: an expression, with or without ``${{ }}``, that holds
    ``success() && ...`` unless it calls a status function itself (GitHub's rule)."""
    text = str(cond).strip()
    whole = _EXPR.fullmatch(text)
    text = whole.group(1).strip() if whole else text
    if not re.search(r"\b(always|success|failure|cancelled)\(", text):
        text = f"success() && ({text})"
    return bool(evaluate(text, ctx, {"success": ok}))


def interpolate(text: Any, ctx: Dict[str, Any], status: Dict[str, bool]) -> Any:
    """``${{ }}`` in a string replaced by their values; a string that is one expression keeps its
    value's type (as GitHub does for ``strategy.matrix`` and ``if:``)."""
    if not isinstance(text, str):
        return text
    whole = _EXPR.fullmatch(text.strip())
    if whole:
        return evaluate(whole.group(1), ctx, status)
    return _EXPR.sub(lambda m: _text(evaluate(m.group(1), ctx, status)), text)


@dataclasses.dataclass
class Job:
    """One job run (one matrix value): its result, outputs, step summary and log."""

    id: str
    name: str
    result: str = "skipped"              # success | failure | skipped
    outputs: Dict[str, str] = dataclasses.field(default_factory=dict)
    summary: str = ""
    log: List[str] = dataclasses.field(default_factory=list)
    workspace: Optional[Path] = None


class Runner:
    """Plays one run of ``workflow`` (a reusable one: ``inputs`` as its caller passes them)."""

    def __init__(self, workflow: Path, inputs: Dict[str, Any], root: Path, origin: str, ref: str = "main",
                 env: Optional[Dict[str, str]] = None, repository: str = "user/repo", run_id: str = "1") -> None:
        self.doc = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        on = self.doc.get("on", self.doc.get(True))
        declared = on["workflow_call"]["inputs"]
        unknown = set(inputs) - set(declared)
        if unknown:
            raise ValueError(f"inputs the workflow does not declare: {sorted(unknown)}")
        missing = [k for k, d in declared.items() if d.get("required") and k not in inputs]
        if missing:
            raise ValueError(f"required inputs missing: {missing}")
        self.inputs = {k: inputs.get(k, d.get("default", False if d.get("type") == "boolean" else ""))
                       for k, d in declared.items()}
        self.root, self.origin, self.ref = Path(root), origin, ref
        self.env = dict(env or os.environ)
        self.github = {"repository": repository, "server_url": "https://github.com", "run_id": run_id,
                       "token": "stand-in-token", "ref": f"refs/heads/{ref}", "workspace": ""}
        self.artifacts = self.root / "artifacts"        # what upload-artifact kept, by name
        self.jobs: Dict[str, List[Job]] = {}

    # --- jobs -------------------------------------------------------------------------------

    def run(self) -> Dict[str, List[Job]]:
        for job_id, job in self.doc["jobs"].items():
            needs = job.get("needs", [])
            needs = [needs] if isinstance(needs, str) else needs
            assert all(n in self.jobs for n in needs), f"{job_id} needs a job that has not run"
            need_ctx = {n: {"result": self._result(n), "outputs": self._outputs(n)} for n in needs}
            ctx = {"inputs": self.inputs, "needs": need_ctx, "github": self.github}
            all_ok = all(self._result(n) == "success" for n in needs)
            if not condition(job.get("if", "success()"), ctx, all_ok):
                self.jobs[job_id] = [Job(job_id, job_id)]
                continue
            values: List[Optional[Dict[str, Any]]] = [None]
            strategy = (job.get("strategy") or {}).get("matrix")
            if strategy:
                (key, expr), = strategy.items()
                values = [{key: v} for v in interpolate(expr, ctx, {"success": True})]
            self.jobs[job_id] = [self._job(job_id, job, ctx, m) for m in values]
        return self.jobs

    def _result(self, job_id: str) -> str:
        results = {j.result for j in self.jobs[job_id]}
        return "failure" if "failure" in results else "skipped" if results == {"skipped"} else "success"

    def _outputs(self, job_id: str) -> Dict[str, str]:
        out: Dict[str, str] = {}
        for j in self.jobs[job_id]:
            out.update(j.outputs)
        return out

    def _job(self, job_id: str, job: Dict[str, Any], ctx: Dict[str, Any],
             matrix: Optional[Dict[str, Any]]) -> Job:
        label = f"{job_id}-{'-'.join(map(str, matrix.values()))}" if matrix else job_id
        ws = self.root / "jobs" / label
        temp = self.root / "temp" / label
        for d in (ws, temp):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True)
        ctx = {**ctx, "matrix": matrix or {}, "steps": {}, "runner": {"temp": str(temp), "os": "Linux"},
               "github": {**self.github, "workspace": str(ws)}}
        run = Job(job_id, str(interpolate(job.get("name", job_id), ctx, {"success": True})), workspace=ws)
        ok = True
        for i, step in enumerate(job["steps"]):
            if not condition(step.get("if", "success()"), ctx, ok):
                run.log.append(f"[skipped] {step.get('name') or step.get('uses') or step['run'][:60]}")
                continue
            env = {k: _text(interpolate(v, ctx, {"success": ok}))
                   for scope in (self.doc.get("env"), job.get("env"), step.get("env")) for k, v in (scope or {}).items()}
            if "uses" in step:
                passed = self._action(step, ctx, ok, ws, run)
                outputs: Dict[str, str] = {}
            else:
                passed, outputs = self._script(step["run"], env, ws, temp, run, i)
            if step.get("id"):
                ctx["steps"][step["id"]] = {"outputs": outputs}
            if not passed and not step.get("continue-on-error"):
                ok = False
        run.outputs = {k: _text(interpolate(v, ctx, {"success": ok})) for k, v in (job.get("outputs") or {}).items()}
        run.result = "success" if ok else "failure"
        return run

    # --- steps ------------------------------------------------------------------------------

    def _script(self, script: str, env: Dict[str, str], ws: Path, temp: Path, job: Job, i: int):
        output, summary = temp / f"output-{i}", temp / f"summary-{i}"
        output.touch()
        summary.touch()
        (temp / f"step-{i}.sh").write_text(script, encoding="utf-8")
        variables = {**self.env, **env, "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(output),
                     "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_WORKSPACE": str(ws), "RUNNER_TEMP": str(temp),
                     "GITHUB_REPOSITORY": self.github["repository"], "GITHUB_SERVER_URL": self.github["server_url"],
                     "GITHUB_RUN_ID": self.github["run_id"]}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(temp / f"step-{i}.sh")],
                              cwd=ws, env=variables, capture_output=True, text=True)
        job.log.append(f"$ {script.strip()}\n{proc.stdout}{proc.stderr}[exit {proc.returncode}]")
        job.summary += summary.read_text(encoding="utf-8")
        outputs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if "=" in line)
        return proc.returncode == 0, outputs

    def _action(self, step: Dict[str, Any], ctx: Dict[str, Any], ok: bool, ws: Path, job: Job) -> bool:
        name = step["uses"].split("@")[0]
        args = {k: _text(interpolate(v, ctx, {"success": ok})) for k, v in (step.get("with") or {}).items()}
        job.log.append(f"[uses] {name} {args}")
        here = lambda p: Path(p) if Path(p).is_absolute() else ws / p   # noqa: E731
        if name == "actions/checkout":
            assert args.get("persist-credentials") == "false", "a checkout must not keep the token"
            subprocess.run(["git", "clone", "-q", self.origin, str(ws)], check=True)
            subprocess.run(["git", "checkout", "-q", "--detach", args.get("ref") or self.ref], cwd=ws, check=True)
            return True
        if name == "actions/setup-python":
            return True                  # the runner's Python is the one first on PATH
        if name == "actions/upload-artifact":
            src, dst = here(args["path"]), self.artifacts / args["name"]
            assert not dst.exists(), f"two artifacts named {args['name']}"
            if not src.exists() or not any(src.rglob("*")):
                job.log.append(f"no files in {src}")
                return args.get("if-no-files-found", "warn") != "error"
            shutil.copytree(src, dst)
            return True
        if name == "actions/download-artifact":
            dst = here(args.get("path") or ".")
            names = sorted(p.name for p in self.artifacts.iterdir()) if self.artifacts.is_dir() else []
            if "name" in args:
                if args["name"] not in names:
                    job.log.append(f"no artifact {args['name']}")
                    return False
                shutil.copytree(self.artifacts / args["name"], dst, dirs_exist_ok=True)
            else:
                for n in (n for n in names if fnmatch(n, args.get("pattern", "*"))):
                    shutil.copytree(self.artifacts / n, dst / n, dirs_exist_ok=True)
            return True
        raise AssertionError(f"this stand-in does not play {step['uses']}")

