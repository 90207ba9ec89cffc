"""Kubernetes manifests, ECS task definitions and compose files, read into workload specs.

Only the reading (issue #15): which image each container of a workload runs,
in which role (init containers run and exit; sidecars run beside the main
containers), how many replicas and on which node. Resolving the references
and counting bytes is done elsewhere, from these specs.

Files come as tools print them (``kubectl get -o yaml|json``, ``helm
template``, ``aws ecs describe-task-definition``, compose files), so a file is
recognised by its structure, not its name. Malformed input raises
:class:`BadInputError` with one line naming the file, the document and the
field; what is valid but holds no images (a Service, a ConfigMap, a CRD) is
reported in a warning, never dropped silently.

The walk visits only the known fields, and charges every list entry it visits
to a budget proportional to the text's size: YAML aliases can make a small
file hold exponentially many (shared) objects, which no real manifest needs.
"""

from __future__ import annotations

import os
import re
import sys

from ..errors import BadInputError, UsageError, os_error
from ..record import Record

TYPE_CHECKING = False  # typing costs more to import than this module needs
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

__all__ = ["ImageUse", "WorkloadSpec", "Workloads", "read_text", "read_workloads", "MAX_BYTES"]

MAX_BYTES = 64 << 20  # a larger file is no manifest: refused before it is read whole

# Kubernetes kinds with a pod spec -> the path to it
POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "ReplicationController": ("spec", "template", "spec"),
    "PodTemplate": ("template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
_REPLICATED = {"Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"}  # have spec.replicas
_CONTAINER_FIELDS = (("initContainers", "init"), ("containers", "container"),
                     ("ephemeralContainers", "ephemeral"))  # in the order a pod starts them
_ECS_INIT_CONDITIONS = {"COMPLETE", "SUCCESS"}  # the dependent starts after this container exits
_MAX_LIST_DEPTH = 32  # a List of Lists of ...: kubectl never nests them at all
_MAX_SKIPPED_SHOWN = 10
_MAX_INTERPOLATION_DEPTH = 10  # ${A:-${B:-...}}


class ImageUse(Record):
    """One container's image: ``role`` is "container", "init", "sidecar" or "ephemeral"."""

    __slots__ = ("name", "role", "ref")

    name: str  # the container's (or compose service's) name
    role: str
    ref: str  # as written in the file, stripped (compose: after ${VAR} interpolation)

    def __init__(self, name: str, role: str, ref: str) -> None:
        self.name = name
        self.role = role
        self.ref = ref


class WorkloadSpec(Record):
    """One pod template, ECS task definition or compose project, and the images its containers run."""

    __slots__ = ("name", "kind", "file", "document", "images", "replicas", "node")

    name: str  # unique among the workloads read together: Kind/NAMESPACE/NAME, ECSTaskDefinition/FAMILY:REV, ...
    kind: str  # the Kubernetes kind, "ECSTaskDefinition" or "ComposeProject"
    file: str  # the path as given ("-": standard input)
    document: int  # 0-based, in the file; the items of a List share its index
    images: list[ImageUse]  # init containers first, then containers, then ephemeral ones
    replicas: int | None  # spec.replicas when written; None for ECS and compose
    node: str | None  # a Pod's spec.nodeName

    def __init__(self, name: str, kind: str, file: str, document: int, images: list[ImageUse],
                 replicas: int | None, node: str | None) -> None:
        self.name = name
        self.kind = kind
        self.file = file
        self.document = document
        self.images = images
        self.replicas = replicas
        self.node = node


class Workloads(Record):
    """What a set of files holds: the workloads, and one line for each thing read but not used."""

    __slots__ = ("workloads", "warnings")

    workloads: list[WorkloadSpec]
    warnings: list[str]  # each starts with the file's name

    def __init__(self, workloads: list[WorkloadSpec], warnings: list[str]) -> None:
        self.workloads = workloads
        self.warnings = warnings


def read_workloads(paths: Sequence[str | os.PathLike[str]]) -> Workloads:
    """The workloads in ``paths`` (``"-"``: standard input), in order, their names made unique."""
    workloads: list[WorkloadSpec] = []
    warnings: list[str] = []
    stdin_read = False
    for path in paths:
        file = os.fsdecode(path)
        if file == "-":
            if stdin_read:
                raise UsageError("standard input is named twice: it can be read only once", where="-")
            stdin_read = True
        found = _File(file, _read(file)).read()
        workloads += found.workloads
        warnings += found.warnings
    return Workloads(_unique(workloads), warnings)


def read_text(text: str, file: str) -> Workloads:
    """The workloads in ``text``, read as the file named ``file`` would be (tests, standard input)."""
    found = _File(file, text).read()
    return Workloads(_unique(found.workloads), found.warnings)


def _read(file: str) -> str:
    """The file's text; at most MAX_BYTES are read, so a huge file fails without filling memory."""
    too_large = f"too large for a manifest (over {MAX_BYTES >> 20} MiB)"
    try:
        if file == "-":
            if sys.stdin is None:
                raise BadInputError("no standard input to read", where=file)
            data = sys.stdin.buffer.read(MAX_BYTES + 1)
        else:
            with open(file, "rb") as f:
                if os.fstat(f.fileno()).st_size > MAX_BYTES:
                    raise BadInputError(too_large, where=file)
                data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise os_error(e, "read", file) from None
    if len(data) > MAX_BYTES:
        raise BadInputError(too_large, where=file)
    # PowerShell's `kubectl ... > file` writes UTF-16 with a byte order mark; YAML and JSON allow it
    utf16 = data.startswith((b"\xff\xfe", b"\xfe\xff"))
    try:
        return data.decode("utf-16" if utf16 else "utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInputError(f"not {'UTF-16' if utf16 else 'UTF-8'} text (byte {e.start})", where=file) from None


def _unique(workloads: list[WorkloadSpec]) -> list[WorkloadSpec]:
    """Second and later uses of a name get " (2)", " (3)"...: a report keys its rows by name."""
    taken = {w.name for w in workloads}
    seen: set[str] = set()
    for w in workloads:
        if w.name in seen:
            n = 2
            while f"{w.name} ({n})" in taken:
                n += 1
            w.name = f"{w.name} ({n})"
            taken.add(w.name)
        seen.add(w.name)
    return workloads


_TYPE_NAMES = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
               float: "a number", type(None): "null", bytes: "binary data"}


def _a(value: Any) -> str:
    """What a YAML/JSON value is, for an error: "a mapping", "null", "a date"..."""
    return _TYPE_NAMES.get(type(value)) or f"a {type(value).__name__}"


def _at(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


_NON_PRINTABLE = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_DOCUMENT_START = re.compile(r"---(?:[ \t]|$)")


def _document_of_line(text: str, line: int) -> int:
    """The index of the document holding 0-based ``line``, counted from the ``---`` lines before it.

    For the reader's errors: PyYAML checks the characters of the whole text
    before it parses the first document. A ``---`` with nothing but comments
    before it starts the first document; ``...`` ends are not counted.
    """
    starts, content_first = 0, False
    for ln in text.split("\n", line)[:line]:
        if _DOCUMENT_START.match(ln):
            starts += 1
        elif not starts and ln.strip() and not ln.lstrip().startswith(("#", "%")):
            content_first = True
    return starts if content_first else max(starts - 1, 0)


class _Fail(Exception):
    """A malformed field: ``path`` (``spec.containers[1].image``) and what is wrong with it."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)


class _File:
    """One file's documents, walked into workload specs and warnings."""

    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.workloads: list[WorkloadSpec] = []
        self.warnings: list[str] = []
        self.skipped: list[str] = []  # Kubernetes objects with no pod template
        self.budget = 10_000 + len(text) // 8  # list entries the walk may visit (see the module's docstring)
        self.doc = 0

    def read(self) -> _File:
        try:
            self._parse()
        except RecursionError:
            raise BadInputError(f"document {self.doc}: nested too deeply", where=self.file) from None
        except _Fail as e:
            raise BadInputError(f"document {self.doc}: {e}", where=self.file) from None
        if self.skipped:
            shown = ", ".join(self.skipped[:_MAX_SKIPPED_SHOWN])
            if len(self.skipped) > _MAX_SKIPPED_SHOWN:
                shown += f", ... and {len(self.skipped) - _MAX_SKIPPED_SHOWN} more"
            n = len(self.skipped)
            self.warn(f"skipped {n} document{'s' if n > 1 else ''} with no pod template: {shown}")
        return self

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.file}: {message}")

    # --- parsing ---

    def _parse(self) -> None:
        text = self.text
        if self.file.lower().endswith(".json"):
            import json

            try:
                value = json.loads(text)
            except json.JSONDecodeError as e:
                raise _Fail("", f"not JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
            self.document(value)
            return
        if text.lstrip()[:1] in ("{", "["):  # JSON (kubectl -o json on stdin) parses far faster as such
            import json

            try:
                value = json.loads(text)
            except ValueError:
                pass  # YAML's flow style, or broken: YAML says which
            else:
                self.document(value)
                return
        import yaml  # only here: start-up time

        documents = yaml.load_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        while True:
            try:
                value = next(documents)
            except StopIteration:
                return
            except RecursionError:
                raise
            except yaml.YAMLError as e:
                raise _Fail("", f"not YAML: {self._yaml_problem(e)}") from None
            except Exception as e:  # PyYAML's constructors: `2021-13-45` is a ValueError, `!!bool x` a KeyError
                raise _Fail("", f"not YAML: {type(e).__name__}: {e}") from None
            self.document(value)
            self.doc += 1

    def _yaml_problem(self, e: Exception) -> str:
        """The parser's problem in one line, and where."""
        mark = getattr(e, "problem_mark", None)
        if mark is not None:
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
        bad = _NON_PRINTABLE.search(self.text)  # a ReaderError: raised before the first document
        problem = str(e).splitlines()[0] if str(e) else type(e).__name__
        if bad is None:
            return problem
        line = self.text.count("\n", 0, bad.start())
        self.doc = _document_of_line(self.text, line)
        column = bad.start() - (self.text.rfind("\n", 0, bad.start()) + 1)
        return f"{problem} (line {line + 1}, column {column + 1})"

    # --- typed access: each mistake is one _Fail naming the field ---

    def spend(self, n: int) -> None:
        self.budget -= n
        if self.budget < 0:
            raise _Fail("", "more objects than a file of this size can hold (YAML aliases repeating them?)")

    def get(self, mapping: dict, key: str, where: str, cls: type, *, required: bool = True) -> Any:
        """``mapping[key]`` checked to be a ``cls``; absent or null is ``None`` unless ``required``."""
        value = mapping.get(key)
        if value is None:
            if not required:
                return None
            raise _Fail(_at(where, key), "missing" if key not in mapping else f"expected {_TYPE_NAMES[cls]}, got null")
        if not isinstance(value, cls) or (cls is int and isinstance(value, bool)):
            raise _Fail(_at(where, key), f"expected {_TYPE_NAMES[cls]}, got {_a(value)}")
        return value

    def items(self, seq: list, where: str) -> list[tuple[int, dict, str]]:
        """(index, entry, path) of a list of mappings."""
        self.spend(len(seq))
        out = []
        for i, entry in enumerate(seq):
            if not isinstance(entry, dict):
                raise _Fail(f"{where}[{i}]", f"expected a mapping, got {_a(entry)}")
            out.append((i, entry, f"{where}[{i}]"))
        return out

    def image(self, container: dict, where: str) -> str:
        ref = self.get(container, "image", where, str).strip()
        if not ref:
            raise _Fail(_at(where, "image"), "expected an image reference, got an empty string")
        return ref

    # --- documents ---

    def document(self, value: Any) -> None:
        """One parsed document: a mapping recognised by its keys, or a list of them (ECS)."""
        if value is None:
            return  # `---` alone, comments only: helm template prints them
        if isinstance(value, list):
            self.spend(len(value))
            unknown = [i for i, item in enumerate(value) if not self.object(item, f"[{i}]", f".{i}")]
            if len(unknown) == len(value) and value:
                self.warn(f"document {self.doc}: not a Kubernetes object, ECS task definition or compose file: "
                          "skipped")
            elif unknown:
                shown = ", ".join(map(str, unknown[:_MAX_SKIPPED_SHOWN]))
                more = f" and {len(unknown) - _MAX_SKIPPED_SHOWN} more" if len(unknown) > _MAX_SKIPPED_SHOWN else ""
                self.warn(f"document {self.doc}: item{'s' if len(unknown) > 1 else ''} {shown}{more} of "
                          f"{len(value)}: not a Kubernetes object, ECS task definition or compose file: skipped")
        elif not self.object(value, "", ""):
            self.warn(f"document {self.doc}: not a Kubernetes object, ECS task definition or compose file: skipped")

    def object(self, value: Any, where: str, suffix: str) -> bool:
        """Read ``value`` if it is something this module knows; False if it is not."""
        if not isinstance(value, dict):
            return False
        if "kind" in value:
            self.kubernetes(value, where, suffix, None, 0)
        elif "taskDefinition" in value:
            self.ecs(self.get(value, "taskDefinition", where, dict), _at(where, "taskDefinition"), suffix)
        elif "containerDefinitions" in value:
            self.ecs(value, where, suffix)
        elif "services" in value and "apiVersion" not in value and isinstance(value["services"], (dict, type(None))):
            self.compose(value, where, suffix)
        else:
            return False
        return True

    # --- Kubernetes ---

    def kubernetes(self, obj: dict, where: str, suffix: str, default_kind: str | None, depth: int) -> None:
        kind = self.get(obj, "kind", where, str, required=default_kind is None) or default_kind
        if not kind:
            raise _Fail(_at(where, "kind"), "expected a kind, got an empty string")
        if kind == "List" or kind.endswith("List"):
            if depth >= _MAX_LIST_DEPTH:
                raise _Fail(_at(where, "items"), f"Lists nested more than {_MAX_LIST_DEPTH} deep")
            items = self.get(obj, "items", where, list, required=False) or []
            item_kind = kind[:-4] or None  # a PodList's items may leave out their kind
            for i, item, path in self.items(items, _at(where, "items")):
                self.kubernetes(item, path, f"{suffix}.{i}", item_kind, depth + 1)
            return
        path = POD_SPEC_PATHS.get(kind)
        if path is None:
            self.skipped.append(self.kubernetes_name(kind, obj, where, suffix, strict=False))
            return
        name = self.kubernetes_name(kind, obj, where, suffix, strict=True)
        spec, at = obj, where
        for key in path:
            spec = self.get(spec, key, at, dict)
            at = _at(at, key)
        images = []
        for field, role in _CONTAINER_FIELDS:
            containers = self.get(spec, field, at, list, required=field == "containers") or []
            for _, container, c_at in self.items(containers, _at(at, field)):
                c_name = self.get(container, "name", c_at, str)
                ref = self.image(container, c_at)
                sidecar = role == "init" and container.get("restartPolicy") == "Always"  # Kubernetes 1.28+
                images.append(ImageUse(c_name, "sidecar" if sidecar else role, ref))
        replicas = None
        if kind in _REPLICATED:
            replicas = self.get(obj["spec"], "replicas", _at(where, "spec"), int, required=False)
            if replicas is not None and replicas < 0:
                raise _Fail(_at(where, "spec.replicas"), f"expected a count, got {replicas}")
        node = (self.get(spec, "nodeName", at, str, required=False) or None) if kind == "Pod" else None
        self.workloads.append(WorkloadSpec(name, kind, self.file, self.doc, images, replicas, node))

    def kubernetes_name(self, kind: str, obj: dict, where: str, suffix: str, *, strict: bool) -> str:
        """``Kind/NAMESPACE/NAME``, ``Kind/NAME``; ``#DOC.ITEM`` for a missing name.

        Only a workload's metadata must be well formed: an object that is only
        listed in a warning is named as well as it can be.
        """
        if strict:
            meta = self.get(obj, "metadata", where, dict, required=False) or {}
            name = self.get(meta, "name", _at(where, "metadata"), str, required=False)
            namespace = self.get(meta, "namespace", _at(where, "metadata"), str, required=False)
        else:
            meta = obj.get("metadata")
            meta = meta if isinstance(meta, dict) else {}
            name, namespace = (v if isinstance(v, str) else None for v in (meta.get("name"), meta.get("namespace")))
        name = name or f"#{self.doc}{suffix}"
        return f"{kind}/{namespace}/{name}" if namespace else f"{kind}/{name}"

    # --- ECS ---

    def ecs(self, task: dict, where: str, suffix: str) -> None:
        """A task definition: describe-task-definition's ``taskDefinition``, or the register form."""
        family = self.get(task, "family", where, str, required=False)
        revision = self.get(task, "revision", where, int, required=False)
        if not family:
            name = f"ECSTaskDefinition/#{self.doc}{suffix}"
        else:
            name = f"ECSTaskDefinition/{family}" + (f":{revision}" if revision is not None else "")
        at = _at(where, "containerDefinitions")
        definitions = self.items(self.get(task, "containerDefinitions", where, list), at)
        run_first: set[str] = set()  # containers another one waits for to exit
        for _, container, c_at in definitions:
            depends = self.get(container, "dependsOn", c_at, list, required=False) or []
            for _, dep, d_at in self.items(depends, _at(c_at, "dependsOn")):
                target = self.get(dep, "containerName", d_at, str)
                if self.get(dep, "condition", d_at, str).upper() in _ECS_INIT_CONDITIONS:
                    run_first.add(target)
        images = []
        for _, container, c_at in definitions:
            c_name = self.get(container, "name", c_at, str)
            ref = self.image(container, c_at)
            essential = self.get(container, "essential", c_at, bool, required=False)
            role = "init" if c_name in run_first else "sidecar" if essential is False else "container"
            images.append(ImageUse(c_name, role, ref))
        self.workloads.append(WorkloadSpec(name, "ECSTaskDefinition", self.file, self.doc, images, None, None))

    # --- compose ---

    def compose(self, project: dict, where: str, suffix: str) -> None:
        """One compose file: every service with an image (profiles ignored), in the file's order."""
        name = self.get(project, "name", where, str, required=False)
        project_name = name.lower() if name else _directory_project_name(self.file)
        services = self.get(project, "services", where, dict, required=False) or {}
        self.spend(len(services))
        at = _at(where, "services")
        checked = []
        run_first: set[str] = set()  # services another one waits for to complete successfully
        for key, service in services.items():
            s_name = str(key)
            s_at = _at(at, s_name)
            if not isinstance(service, dict):
                raise _Fail(s_at, f"expected a mapping, got {_a(service)}")
            checked.append((s_name, service, s_at))
            depends = service.get("depends_on")
            if depends is None:
                continue
            if isinstance(depends, list):  # short syntax: condition service_started
                self.spend(len(depends))
                continue
            if not isinstance(depends, dict):
                raise _Fail(_at(s_at, "depends_on"), f"expected a list or a mapping, got {_a(depends)}")
            self.spend(len(depends))
            for target, how in depends.items():
                if how is None:
                    continue
                if not isinstance(how, dict):
                    raise _Fail(_at(s_at, f"depends_on.{target}"), f"expected a mapping, got {_a(how)}")
                if how.get("condition") == "service_completed_successfully":
                    run_first.add(str(target))
        images = []
        for s_name, service, s_at in checked:
            written = self.get(service, "image", s_at, str, required=False)
            if written is None:
                if "build" in service:
                    self.warn(f"service {s_name} has no image (build only): skipped")
                else:
                    self.warn(f"service {s_name} has no image: skipped")
                continue
            if not written.strip():
                raise _Fail(_at(s_at, "image"), "expected an image reference, got an empty string")
            try:
                ref = _interpolate(written, os.environ, 0).strip()
            except _Unset as e:
                self.warn(f"service {s_name}: image uses unset variable {e.variable}")
                continue
            except ValueError as e:
                raise _Fail(_at(s_at, "image"), str(e)) from None
            if not ref:
                self.warn(f"service {s_name}: image is empty after interpolation: skipped")
                continue
            images.append(ImageUse(s_name, "init" if s_name in run_first else "container", ref))
        display = project_name or f"#{self.doc}{suffix}"
        self.workloads.append(WorkloadSpec(f"ComposeProject/{display}", "ComposeProject", self.file, self.doc,
                                           images, None, None))


def _directory_project_name(file: str) -> str:
    """Compose's default project name: the directory holding the file, lower-cased, as compose
    normalises it (only ``a-z0-9_-`` kept, no leading ``_``/``-``); standard input: the working directory."""
    try:
        directory = os.path.basename(os.path.dirname(os.path.abspath(file)))
    except OSError:  # the working directory was removed
        return ""
    return re.sub(r"[^a-z0-9_-]", "", directory.lower()).lstrip("_-")


class _Unset(Exception):
    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (":-", "-", ":?", "?", ":+", "+")


def _interpolate(text: str, env: Any, depth: int) -> str:
    """Compose's ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
    ``${VAR:+alt}``/``${VAR+alt}``, ``$$`` (a ``$``). An unset variable without a default, or one
    required with ``:?``/``?``, raises :class:`_Unset`; a malformed one ValueError."""
    if depth > _MAX_INTERPOLATION_DEPTH:
        raise ValueError("interpolation nested too deeply")
    out = []
    i = 0
    while True:
        j = text.find("$", i)
        if j < 0:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:j])
        if text.startswith("$$", j):
            out.append("$")
            i = j + 2
            continue
        if not text.startswith("${", j):
            m = _NAME.match(text, j + 1)
            if m is None:
                raise ValueError(f"invalid interpolation at {text[j:j + 10]!r}")
            if m.group() not in env:
                raise _Unset(m.group())
            out.append(env[m.group()])
            i = m.end()
            continue
        end = _closing_brace(text, j + 2)
        if end < 0:
            raise ValueError(f"unterminated interpolation at {text[j:j + 10]!r}")
        body = text[j + 2:end]
        m = _NAME.match(body)
        if m is None:
            raise ValueError(f"invalid interpolation {text[j:end + 1]!r}")
        var, rest = m.group(), body[m.end():]
        value = env.get(var)
        if not rest:
            if value is None:
                raise _Unset(var)
            out.append(value)
        else:
            op = next((o for o in _OPERATORS if rest.startswith(o)), None)
            if op is None:
                raise ValueError(f"invalid interpolation {text[j:end + 1]!r}")
            arg = rest[len(op):]
            is_set = value is not None and (value != "" or not op.startswith(":"))
            if op in (":-", "-"):
                out.append(value if is_set else _interpolate(arg, env, depth + 1))
            elif op in (":?", "?"):
                if not is_set:
                    raise _Unset(var)
                out.append(value)
            else:
                out.append(_interpolate(arg, env, depth + 1) if is_set else "")
        i = end + 1


def _closing_brace(text: str, start: int) -> int:
    """The index of the ``}`` closing a ``${`` whose body starts at ``start``, nested ``${...}`` skipped; -1: none."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1
