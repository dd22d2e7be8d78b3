#!/usr/bin/env python3
"""An independent check of the manifest vectors: re-derives the canonical encoding of each
tests/data/manifest-*.json with Python's json module (PROTOCOL.md, "The manifest") and checks
that the committed bytes are exactly that and that the .id file is their SHA-256. Written apart
from proto/manifest.c, so that a change to the C encoder that moves the canonical form fails here
as well as in the C unit test."""
import glob
import hashlib
import json
import os
import sys

FILE_KEYS = ["path", "size", "mode", "sha256"]
SYSDIRS = ["System32", "SysWOW64"]


def canonical(doc):
    out = {"format": doc["format"], "packages": [], "libs": []}
    for p in sorted(doc["packages"], key=lambda p: p["name"].encode()):
        files = [{k: f[k] for k in FILE_KEYS} for f in sorted(p["files"], key=lambda f: f["path"].encode())]
        out["packages"].append({"name": p["name"], "version": p["version"], "vendor": p["vendor"], "files": files})
    for f in sorted(doc["libs"], key=lambda f: f["path"].encode()):
        lib = {k: f[k] for k in FILE_KEYS}
        lib["origin"] = f["origin"]
        out["libs"].append(lib)
    system = doc.get("system_files")
    if system:  # absent when empty
        keys = ["package", "path", "folder", "name", "rule"]
        out["system_files"] = [
            {k: s[k] for k in keys}
            for s in sorted(system, key=lambda s: (SYSDIRS.index(s["folder"]), s["name"].encode()))
        ]
    return json.dumps(out, separators=(",", ":"), ensure_ascii=False).encode()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    vectors = sorted(glob.glob(os.path.join(here, "manifest-*.json")))
    if not vectors:
        print("no manifest vectors found", file=sys.stderr)
        return 1
    failed = 0
    for path in vectors:
        data = open(path, "rb").read()
        want_id = open(path[: -len(".json")] + ".id").read().strip()
        again = canonical(json.loads(data))
        if again != data:
            print(f"{os.path.basename(path)}: not in canonical encoding", file=sys.stderr)
            failed += 1
        elif hashlib.sha256(data).hexdigest() != want_id:
            print(f"{os.path.basename(path)}: SHA-256 is not its .id", file=sys.stderr)
            failed += 1
        else:
            print(f"{os.path.basename(path)}: canonical, id {want_id[:12]}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
