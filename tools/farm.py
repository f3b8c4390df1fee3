#!/usr/bin/env python3
"""Sizes of the library's files and functions: the largest file, the largest
function bodies (lambdas count toward the function they are in), the tree.

  python3 tools/farm.py [ROOT=libactorflow/actorflow] [--top N]
"""
import os, re, sys

KEYWORDS = re.compile(r'\b(class|struct|namespace|enum|union)\b')
CONTROL = re.compile(r'^\s*(if|for|while|switch|catch|else|do|try)\b')


def strip(text):
    # Drop comments and string/char literals so braces inside them don't count.
    text = re.sub(r'//[^\n]*', '', text)
    text = re.sub(r'/\*.*?\*/', lambda m: '\n' * m.group(0).count('\n'), text, flags=re.S)
    text = re.sub(r'"(\\.|[^"\\\n])*"', '""', text)
    text = re.sub(r"'(\\.|[^'\\\n])*'", "''", text)
    return text


def functions(path):
    text = strip(open(path, encoding='utf-8').read())
    stack, out, head, line = [], [], '', 1
    for ch in text:
        if ch == '\n':
            line += 1
        if ch == '{':
            h = re.sub(r'template\s*<[^{;]*?>\s*(?=[a-z\[])', '', head.strip())
            h = re.sub(r'^\s*(requires|template)\b[^(]*', '', h)
            in_fn = any(kind == 'fn' for kind, *_ in stack)
            is_fn = (not in_fn and ')' in h and not KEYWORDS.search(h.split('(')[0])
                     and not CONTROL.match(h) and not h.endswith('='))
            name = ''
            if is_fn:
                m = re.findall(r'([~\w:<>]+)\s*\(', h.split('->')[0])
                name = m[0] if m else '?'
            stack.append(('fn' if is_fn else 'block', line, name))
            head = ''
        elif ch == '}':
            if stack:
                kind, start, name = stack.pop()
                if kind == 'fn':
                    out.append((line - start + 1, name, path, start))
            head = ''
        elif ch == ';':
            head = ''
        else:
            head = (head + ch)[-400:]
    return out


def main():
    argv = sys.argv[1:]
    top = 10
    if '--top' in argv:
        i = argv.index('--top')
        top = int(argv[i + 1])
        del argv[i:i + 2]
    args = argv
    root = args[0] if args else 'libactorflow/actorflow'
    files = []
    for d, _, names in os.walk(root):
        for n in names:
            if n.endswith(('.hpp', '.cpp', '.hpp.in')):
                p = os.path.join(d, n)
                files.append((sum(1 for _ in open(p, encoding='utf-8')), p))
    files.sort(reverse=True)
    fns = sorted((f for _, p in files if not p.endswith('.in') for f in functions(p)),
                 reverse=True)
    print(f'{len(files)} files, {sum(n for n, _ in files)} lines under {root}')
    print('largest files:')
    for n, p in files[:top]:
        print(f'  {n:5d}  {p}')
    print(f'functions over 80 lines: {sum(1 for f in fns if f[0] > 80)}')
    print('largest functions:')
    for n, name, p, start in fns[:top]:
        print(f'  {n:5d}  {name}  {p}:{start}')
    print('folders:')
    for d in sorted({os.path.dirname(p) for _, p in files}):
        count = sum(1 for _, p in files if os.path.dirname(p) == d)
        print(f'  {d}/  ({count} files)')


main()
