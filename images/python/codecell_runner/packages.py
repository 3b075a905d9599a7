"""Package installs, answered plainly: the sandbox has no network and no pip, so nothing can be
installed at run time. `%pip install x`, `!pip install x` and `%conda install x` say that, say
whether x is installed, and how to get it added; `pip list` and `pip freeze` list what is there.
The same hint is added as a notice to a run that failed on a missing module or on a library's
"pip install …" advice.
"""
from __future__ import annotations

import re

# `pip …`, `pip3 …`, `python -m pip …`, `conda …`, `mamba …` at the start of a shell command.
_SHELL_TOOL = re.compile(
    r"^\s*(?:sudo\s+)?(?:(?P<tool>pip3?(?:\.\d+)?|conda|mamba|micromamba)"
    r"|(?:python3?(?:\.\d+)?|/usr/bin/python3)\s+-m\s+(?P<module>pip))(?:\s+(?P<rest>.*))?$",
    re.DOTALL,
)
_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_ADVICE = re.compile(r"\bpip3? install\b|\buse pip or conda\b|\bconda install\b", re.IGNORECASE)
_MISSING_MODULE = re.compile(r"No module named '([^']+)'")
_OPTIONAL_DEPENDENCY = re.compile(r"Missing optional dependency '([^']+)'")
_OPTIONS_WITH_VALUE = {"-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url",
                       "--extra-index-url", "-f", "--find-links", "-t", "--target", "--prefix", "--channel",
                       "-n", "--name", "-p"}


def admin_advice(what: str) -> str:
    return f"ask the admin to add {what} to the image (README, \"Extra packages\")"


def answer_shell_command(command: str) -> bool:
    """Answers `!pip …` (and conda, mamba) itself; False for any other command."""
    match = _SHELL_TOOL.match(command)
    if match is None:
        return False
    tool = "pip" if match.group("module") else re.sub(r"[\d.]+$", "", match.group("tool"))
    rest = (match.group("rest") or "").split("&&")[0].split(";")[0].split("|")[0]
    import shlex  # only when a package manager is called

    try:
        arguments = shlex.split(rest)
    except ValueError:
        arguments = rest.split()
    answer(tool, arguments)
    return True


def answer(tool: str, arguments: list[str]) -> None:
    """What `tool arguments…` gets here, printed to stdout."""
    command = arguments[0] if arguments else ""
    names = _requested_names(arguments[1:])
    if command == "list" or (command == "freeze" and tool == "pip"):
        _print_installed(freeze=command == "freeze")
        return
    if command == "show" and names:
        for name in names:
            version = installed_version(name)
            print(f"Name: {name}\nVersion: {version}" if version else f"WARNING: Package(s) not found: {name}")
        return
    print(_install_message(tool, command, names), flush=True)


def installed_version(name: str) -> str | None:
    from importlib import metadata  # only when asked: it scans the installed packages

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def installed_packages() -> list[tuple[str, str]]:
    """(name, version) of every installed distribution, sorted by name."""
    from importlib import metadata

    found: dict[str, tuple[str, str]] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata.get("Name")
        if name:
            found.setdefault(re.sub(r"[-_.]+", "-", name).lower(), (name, distribution.version))
    return sorted(found.values(), key=lambda item: item[0].lower())


def hint_for_error(error: dict | None) -> str | None:
    """The notice for a run that failed on a missing package, or None."""
    if not error:
        return None
    text = f"{error.get('name', '')}: {error.get('message', '')}\n{error.get('traceback', '')}"
    missing = _MISSING_MODULE.search(text) or _OPTIONAL_DEPENDENCY.search(text)
    if missing is None and not _ADVICE.search(text):
        return None
    package = missing.group(1).split(".")[0] if missing else None
    if package is not None and missing.re is _MISSING_MODULE and _importable(package):
        return None  # a module missing inside an installed package: no install would help
    named = f"'{package}'" if package else "the package"
    return (
        f"pip and conda are not available here: this sandbox has no network access, so packages cannot be "
        f"installed at run time. Use what is installed (`%pip list` lists it), or {admin_advice(named)}."
    )


def _importable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _requested_names(arguments: list[str]) -> list[str]:
    names, skip = [], False
    for argument in arguments:
        if skip:
            skip = False
            continue
        if argument.startswith("-"):
            skip = argument in _OPTIONS_WITH_VALUE
            continue
        match = _REQUIREMENT_NAME.match(argument)
        if match:
            names.append(match.group(0).rstrip("."))
    return names


def _install_message(tool: str, command: str, names: list[str]) -> str:
    lines = [
        f"{tool} {command or ''}".rstrip() + ": this sandbox has no network access, so packages cannot be installed.",
    ]
    missing = []
    for name in names:
        version = installed_version(name)
        if version:
            lines.append(f"{name} is installed (version {version}): import it.")
        elif name.isidentifier() and _importable(name):
            lines.append(f"{name} can be imported (it is part of an installed package): import it.")
        else:
            lines.append(f"{name} is not installed.")
            missing.append(name)
    installed = installed_packages()
    lines.append(
        f"Installed packages include: {', '.join(name for name, _ in installed)} "
        f"({len(installed)} in all; `%pip list` shows their versions)."
    )
    if missing or not names:
        wanted = ", ".join(missing) if missing else "a package"
        lines.append(f"To use {wanted}, {admin_advice('them' if len(missing) > 1 else 'it')}.")
    return "\n".join(lines)


def _print_installed(freeze: bool) -> None:
    installed = installed_packages()
    if freeze:
        print("\n".join(f"{name}=={version}" for name, version in installed), flush=True)
        return
    width = max([len("Package")] + [len(name) for name, _ in installed])
    rows = [f"{'Package':<{width}} Version", f"{'-' * width} -------"]
    rows += [f"{name:<{width}} {version}" for name, version in installed]
    print("\n".join(rows), flush=True)
