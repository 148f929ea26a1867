#!/usr/bin/env python3
"""Fails when two sibling modules import each other's items.

Siblings are the modules (files or folders) of one parent. For every `crate::…` and `super::…`
path in a crate's sources (use declarations and inline paths), the reference from module A to
module B is charged to the two children of their lowest common ancestor that contain A and B.
A parent reaching into its children (mod.rs re-exports, `pipeline` calling `summarize::…`) and a
child reaching its parent's own items (`super::Thing` defined in the parent) are fine; a path
through a parent's `pub use child::Item` re-export counts as a reference to that child.

Usage: scripts/check_module_imports.py [CRATE_SRC_DIR ...]   (default: the workspace's crates)
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CRATES = [ROOT / "src", *sorted((ROOT / "crates").glob("*/src"))]
PATH_RE = re.compile(r"\b(crate|super)((?:::\w+)+)")
USE_RE = re.compile(r"\buse\s+([^;]+);", re.S)
PUB_USE_RE = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);", re.S)


def module_of(src: Path, file: Path):
    parts = list(file.relative_to(src).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    if parts and parts[0] == "bin":  # binaries are separate crates
        return None
    return tuple(parts)


def strip_comments_and_strings(text: str) -> str:
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', text)


def expand_use(tree: str):
    """`a::{b, c::{d, e}}` → ["a::b", "a::c::d", "a::c::e"] (whitespace removed)."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for index, char in enumerate(tree):
        if char == "{":
            if depth == 0:
                start = index
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1:index]
                items, level, last = [], 0, 0
                for position, c in enumerate(inner + ","):
                    if c in "{":
                        level += 1
                    elif c == "}":
                        level -= 1
                    elif c == "," and level == 0:
                        if inner[last:position]:
                            items.append(inner[last:position])
                        last = position + 1
                return [path for item in items for path in expand_use(prefix + item)]
    return [re.sub(r"\bas\w+$", "", tree)] if tree else []


def check(src: Path):
    modules = {}
    for file in src.rglob("*.rs"):
        module = module_of(src, file)
        if module is not None:
            modules[module] = strip_comments_and_strings(file.read_text())
    # A parent's `pub use child::Item` re-exports: (parent, Item) → child module.
    reexports = {}
    for module, text in modules.items():
        for tree in PUB_USE_RE.findall(text):
            for path in expand_use(tree):
                parts = [p for p in path.split("::") if p]
                if len(parts) >= 2 and parts[0] not in ("crate", "super", "self", "std"):
                    child = module + (parts[0],)
                    if child in modules:
                        reexports[(module, parts[-1])] = child
    edges = {}
    for module, text in modules.items():
        paths = [m.group(1) + m.group(2) for m in PATH_RE.finditer(text)]
        for tree in USE_RE.findall(text):
            paths += [p for p in expand_use(tree) if p.startswith(("crate::", "super::"))]
        for path in paths:
            parts = path.split("::")
            if parts[0] == "crate":
                base, rest = (), parts[1:]
            else:
                base, rest = module, parts
                while rest and rest[0] == "super":
                    base, rest = base[:-1], rest[1:]
            # The longest module prefix the path names.
            target = base
            for name in rest:
                if target + (name,) in modules:
                    target = target + (name,)
                else:
                    target = reexports.get((target, name), target)
                    break
            common = 0
            while common < min(len(module), len(target)) and module[common] == target[common]:
                common += 1
            if common == len(module) or common == len(target):
                continue  # parent ↔ own child or self: fine
            parent = module[:common]
            edges.setdefault((parent, module[common], target[common]), set()).add(path)
    failures = []
    for (parent, a, b), paths in sorted(edges.items()):
        if a < b and (parent, b, a) in edges:
            where = "::".join(("crate",) + parent)
            failures.append(
                f"{src}: siblings {a} and {b} of {where} import each other: "
                f"{a} → {sorted(paths)[:3]}, {b} → {sorted(edges[(parent, b, a)])[:3]}"
            )
    return failures, len(modules)


def main():
    crates = [Path(arg) for arg in sys.argv[1:]] or DEFAULT_CRATES
    failures, total = [], 0
    for src in crates:
        found, count = check(src)
        failures += found
        total += count
    for failure in failures:
        print(failure)
    print(f"{len(failures)} sibling import cycle(s) in {total} modules")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
