#!/usr/bin/env python3
"""The rule that keeps a unity build (src/README.md, "Unity builds") the same program as the
normal build: no two .cc files of one module define a function of the same name in an anonymous
namespace. In a unity build they share a compiler run, where the same signature fails loudly but
a different one is an overload that a call in the other file may silently pick (graph.cc's
Escape(const std::string&) once took run_graph.cc's calls from its Escape(std::string_view),
which also escapes newlines). One check per module.

The reading is line-based, as the house style writes code: a definition starts at column 0
inside `namespace {` with its name and `(` on that line.

Usage: unity_names.py [REPO]   Ends with "unity-names: N passed, M failed".
"""
import collections
import os
import re
import sys

DEFINITION = re.compile(r"^(?:(?:static|inline|constexpr|template\s*<[^>]*>)\s+)*"
                        r"[\w:<>,\*&\s]+?[\s\*&](\w+)\s*\((?!\*)")
NOT_NAMES = {"if", "for", "while", "switch", "return", "operator", "sizeof", "decltype"}


def anonymous_functions(path):
    """Names of the functions `path` defines at column 0 inside an anonymous namespace."""
    names, stack = set(), []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if re.match(r"^namespace\s*\{", line):
                stack.append(True)
            elif re.match(r"^namespace\s+[\w:]+\s*\{", line):
                stack.append(False)
            elif re.match(r"^\}\s*//\s*namespace", line):
                if stack:
                    stack.pop()
            elif stack and stack[-1] and not line.startswith((" ", "\t", "#", "/", "}", "\n")):
                m = DEFINITION.match(line)
                if m and m.group(1) not in NOT_NAMES:
                    names.add(m.group(1))
    return names


def main():
    repo = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))))
    src = os.path.join(repo, "src")
    if not os.path.isdir(src):
        print(f"unity-names: no {src}")
        print("unity-names: 0 passed, 1 failed")
        return 1
    passed = failed = 0
    for module in sorted(os.listdir(src)):
        folder = os.path.join(src, module)
        if not os.path.isdir(folder):
            continue
        where = collections.defaultdict(list)
        for name in sorted(os.listdir(folder)):
            if name.endswith(".cc"):
                for fn in anonymous_functions(os.path.join(folder, name)):
                    where[fn].append(name)
        shared = {fn: files for fn, files in where.items() if len(files) > 1}
        if shared:
            failed += 1
            for fn, files in sorted(shared.items()):
                print(f"src/{module}: {fn} is defined in an anonymous namespace of "
                      f"{' and '.join(files)}: rename one, or share one in a header")
        else:
            passed += 1
    print(f"unity-names: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
