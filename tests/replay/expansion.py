"""Kubernetes `$(VAR)` expansion, as the kubelet applies it to `command`, `args` and `env` values.

The rules of k8s.io/kubernetes third_party/forked/golang/expansion: `$(NAME)` becomes the value of
NAME when NAME is defined, and stays as written when it is not; `$$` is an escaped `$`; any other
`$` is kept. An unterminated `$(` is kept as written.
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(text: str, variables: Mapping[str, str]) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char != "$" or i + 1 == len(text):
            out.append(char)
            i += 1
            continue
        following = text[i + 1]
        if following == "$":  # escaped: `$$(X)` is the literal `$(X)`
            out.append("$")
            i += 2
        elif following == "(":
            end = text.find(")", i + 2)
            if end == -1:
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            out.append(variables[name] if name in variables else text[i : end + 1])
            i = end + 1
        else:
            out.append(char)
            i += 1
    return "".join(out)
