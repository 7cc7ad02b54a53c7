#!/usr/bin/env python3
"""Lists functions in src/ longer than the house limit (80 lines; main is exempt).

A function is found the way the code is laid out (clang-format, Google style): its definition
starts at column 0 (or at class indentation for an inline member) and ends at the first line
holding only "}" at that indentation. Exit status 1 when any function is too long.
"""
import re
import sys
from pathlib import Path

LIMIT = 80
START = re.compile(r"^(\s{0,2})(?!//|#|namespace|class|struct|enum|union|using|typedef|template\s*<[^>]*>\s*$)"
                   r"[A-Za-z_~][\w:<>,&*\s\[\]~!=+\-\"]*\([^;]*$")


def code_lines(text):
    """The file's lines with the inside of raw string literals blanked (SQL, YAML fixtures)."""
    out, in_raw = [], None
    for line in text.splitlines():
        if in_raw:
            end = line.find(in_raw)
            out.append("" if end < 0 else line[end + len(in_raw):])
            if end >= 0:
                in_raw = None
            continue
        m = re.search(r'R"([^(\s]*)\(', line)
        if m and line.find(")" + m.group(1) + '"', m.end()) < 0:
            in_raw = ")" + m.group(1) + '"'
            line = line[:m.start()]
        out.append(line)
    return out


def functions(path):
    lines = code_lines(path.read_text())
    i = 0
    while i < len(lines):
        m = START.match(lines[i])
        if not m or lines[i].rstrip().endswith(";"):
            i += 1
            continue
        indent = m.group(1)
        # The body opens on this line or one of the next few (a long parameter list).
        j = i
        while j < len(lines) and j < i + 8 and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
            j += 1
        if j >= len(lines) or "{" not in lines[j] or lines[j].rstrip().endswith("};"):
            i += 1
            continue
        if lines[j].count("{") <= lines[j].count("}"):  # a body on one line: `{}`, `{ return x; }`
            i = j + 1
            continue
        end = j
        closing = indent + "}"
        while end < len(lines) and lines[end].rstrip() != closing:
            end += 1
        if end >= len(lines):
            i += 1
            continue
        yield lines[i].strip(), i + 1, end - i + 1
        i = end + 1


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "src")
    long = []
    for path in sorted(root.rglob("*.cc")) + sorted(root.rglob("*.h")):
        for head, line, n in functions(path):
            if n > LIMIT and not head.startswith("int main("):
                long.append((n, f"{path}:{line}", head[:90]))
    for n, where, head in sorted(long, reverse=True):
        print(f"{n:4d} {where}  {head}")
    print(f"{len(long)} functions longer than {LIMIT} lines")
    return 1 if long else 0


if __name__ == "__main__":
    sys.exit(main())
