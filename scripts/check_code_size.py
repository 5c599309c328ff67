#!/usr/bin/env python3
"""Checks the size limits that keep the round loop readable (issue 22): no class longer than
--max-class lines and no function longer than --max-function lines in the given C++ folders.

A brace-matching reading of the source, not a C++ parser: comments, string and character literals
are blanked; a `{` directly inside a namespace, class or the file opens a class (`class X`,
`struct X`), an initializer (`= {`), or otherwise a function body, whose length runs from the line
of its `{` to the line of its `}`. Lambdas and blocks count towards the function around them.
Exit status 1 when a limit is exceeded, listing each offender as path:line: what, length."""
import argparse
import pathlib
import re
import sys

LITERAL_OR_COMMENT = re.compile(
    r'//[^\n]*|/\*.*?\*/|R"(?P<d>[^(]*)\(.*?\)(?P=d)"|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
SCOPE_KEYWORD = re.compile(r'\b(namespace|extern\s+"C")\b[^;{}]*$')
CLASS_HEAD = re.compile(r'\b(class|struct|union)\s+(\w+)[^;{}()]*$')
ENUM_HEAD = re.compile(r'\benum\b[^;{}]*$')


def blank(match):
    return re.sub(r'[^\n]', ' ', match.group(0))


def blocks(text):
    """Yields (kind, name, first_line, last_line) for classes and functions at namespace/class scope."""
    text = LITERAL_OR_COMMENT.sub(blank, text)
    stack = []  # (kind, name, line of '{')
    head_start = 0  # where the text before the next '{' begins
    line = 1
    for i, ch in enumerate(text):
        if ch == '\n':
            line += 1
        elif ch == '{':
            head = text[head_start:i]
            outer = stack[-1][0] if stack else 'scope'
            if outer not in ('scope', 'class'):
                kind, name = 'inner', ''
            elif SCOPE_KEYWORD.search(head):
                kind, name = 'scope', ''
            elif CLASS_HEAD.search(head) and '(' not in head.split('\n')[-1]:
                kind, name = 'class', CLASS_HEAD.search(head).group(2)
            elif ENUM_HEAD.search(head) or re.search(r'=\s*$', head) or '(' not in head:
                kind, name = 'inner', ''
            else:
                kind = 'function'
                called = re.search(r'([\w:~]+)\s*\(', re.sub(r'\s+', ' ', head))
                name = called.group(1) if called else '?'
            stack.append((kind, name, line))
            head_start = i + 1
        elif ch == '}':
            if stack:
                kind, name, first = stack.pop()
                if kind in ('class', 'function'):
                    yield kind, name, first, line
            head_start = i + 1
        elif ch == ';':
            head_start = i + 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('folders', nargs='+')
    parser.add_argument('--max-class', type=int, default=250)
    parser.add_argument('--max-function', type=int, default=60)
    args = parser.parse_args()
    failures, longest = [], {'class': (0, ''), 'function': (0, '')}
    for folder in args.folders:
        for path in sorted(pathlib.Path(folder).rglob('*')):
            if path.suffix not in ('.cpp', '.hpp', '.h', '.cu'):
                continue
            for kind, name, first, last in blocks(path.read_text(encoding='utf-8')):
                length = last - first + 1
                where = f'{path}:{first}: {kind} {name}'
                longest[kind] = max(longest[kind], (length, where))
                limit = args.max_class if kind == 'class' else args.max_function
                if length > limit:
                    failures.append(f'{where}: {length} lines (limit {limit})')
    for kind, (length, where) in longest.items():
        print(f'longest {kind}: {length} lines ({where})')
    for failure in failures:
        print(failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
