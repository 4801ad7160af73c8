#!/usr/bin/env python3
"""function_lengths.py [--max N] [--report] PATH...

Lists the C++ functions under PATH (files or directories) longer than N lines
(default 120), from the line of the function's name to its closing brace,
lambdas and nested blocks included. Exits 1 when there is one. With --report,
prints the 20 longest functions instead and exits 0.

A function is a brace block at namespace or class scope whose header ends in
a parameter list (optionally followed by qualifiers, an initializer list or a
trailing return type); comments, strings and preprocessor lines are skipped.
This is a reviewer's ruler, not a parser: it errs on the side of counting.
"""
import os
import re
import sys

CONTROL = {"if", "for", "while", "switch", "catch", "do", "else", "return"}


def strip(text):
    """Blanks comments, string and character literals, keeping newlines."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif text.startswith('R"', i):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if m:
                end = text.find(")" + m.group(1) + '"', i)
                end = n if end < 0 else end + len(m.group(1)) + 2
                out.append(re.sub(r"[^\n]", " ", text[i:end]))
                i = end
            else:
                out.append(c)
                i += 1
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j]) + c)
            i = j + 1
        else:
            out.append(c)
            i += 1
    lines = "".join(out).split("\n")
    return "\n".join("" if l.lstrip().startswith("#") else l for l in lines)


def functions(path):
    text = strip(open(path, encoding="utf-8", errors="replace").read())
    results = []
    # Scope stack entries: "ns" (namespace/class/struct/enum/extern) or "fn".
    stack = []
    header_start = 0
    fn_start = None
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c == "{":
            header = text[header_start:i]
            in_fn = "fn" in stack
            kind = "block"
            if not in_fn:
                h = header.strip()
                words = re.findall(r"[A-Za-z_]\w*", h)
                if re.search(r"\b(namespace|class|struct|union|enum)\b", h) and \
                        not re.search(r"\)\s*(const|noexcept|override|final|\s)*$", h):
                    kind = "ns"
                elif h.startswith('extern') and '"' in h:
                    kind = "ns"
                elif re.search(r"\)\s*(const|noexcept|override|final|mutable|&|\s)*"
                               r"(->\s*[\w:<>,\s*&]+)?$", h) or \
                        re.search(r"\)\s*:\s*[\w:]+\s*[({]", h) or \
                        re.search(r"\)\s*:.*[)}]\s*$", h, re.S):
                    if not (words and words[0] in CONTROL) and "=" not in h.split("(")[0]:
                        kind = "fn"
                if kind == "fn":
                    name_match = re.search(r"([~\w:]+(?:<[^()]*>)?|operator\S+)\s*\(", h)
                    name = name_match.group(1) if name_match else "?"
                    start_line = text.count("\n", 0, header_start + len(header) -
                                            len(header.lstrip())) + 1
                    # The line of the name, not of leading template/attributes.
                    if name_match:
                        start_line = text.count("\n", 0, header_start + len(header) -
                                                len(header.lstrip()) +
                                                name_match.start()) + 1
                    fn_start = (name, start_line)
            stack.append(kind if kind != "block" else ("inner" if in_fn else "ns"))
            header_start = i + 1
        elif c == "}":
            if stack:
                kind = stack.pop()
                if kind == "fn" and fn_start:
                    end_line = text.count("\n", 0, i) + 1
                    results.append((fn_start[0], fn_start[1], end_line))
                    fn_start = None
            header_start = i + 1
        elif c == ";":
            header_start = i + 1
        elif c == ":" and "fn" not in stack:
            # Access specifiers (public:) end a header; '::' does not.
            if not (i + 1 < n and text[i + 1] == ":") and not (i and text[i - 1] == ":"):
                h = text[header_start:i].strip()
                if h in ("public", "private", "protected"):
                    header_start = i + 1
        i += 1
    return results


def main():
    args = sys.argv[1:]
    limit = 120
    report = False
    paths = []
    while args:
        a = args.pop(0)
        if a == "--max":
            limit = int(args.pop(0))
        elif a == "--report":
            report = True
        else:
            paths.append(a)
    files = []
    for p in paths:
        if os.path.isdir(p):
            for root, _, names in os.walk(p):
                files += [os.path.join(root, f) for f in names
                          if f.endswith((".cpp", ".h", ".c", ".inc"))]
        else:
            files.append(p)
    found = []
    for f in sorted(files):
        for name, start, end in functions(f):
            found.append((end - start + 1, f, start, name))
    found.sort(reverse=True)
    if report:
        for length, f, start, name in found[:20]:
            print(f"{length:5d}  {f}:{start}  {name}")
        return 0
    long_ones = [x for x in found if x[0] > limit]
    for length, f, start, name in long_ones:
        print(f"{f}:{start}: {name} is {length} lines (limit {limit})")
    return 1 if long_ones else 0


if __name__ == "__main__":
    sys.exit(main())
