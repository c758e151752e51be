#!/usr/bin/env python3
"""A stand-in for the GitHub CLI (GitHub cannot be reached from the tests).

Implements the few ``gh`` calls the nightly alert makes, on issues kept in the
JSON file named by ``$FAKE_GH_STATE``; every call is appended to its ``calls``.
"""

import json
import os
import sys
from pathlib import Path


def main(argv):
    state_path = Path(os.environ["FAKE_GH_STATE"])
    state = json.loads(state_path.read_text()) if state_path.exists() else {"issues": [], "calls": []}
    state["calls"].append(argv)
    opts = {argv[i]: argv[i + 1] for i in range(len(argv) - 1) if argv[i].startswith("--")}
    out = ""
    if argv[:2] == ["issue", "list"]:
        want = opts.get("--label")
        out = json.dumps([{k: i[k] for k in ("number", "title", "body")} for i in state["issues"]
                          if i["state"] == opts.get("--state", "open") and want in i["labels"]])
    elif argv[:2] == ["issue", "create"]:
        n = 1 + max([i["number"] for i in state["issues"]], default=0)
        state["issues"].append({"number": n, "title": opts["--title"], "labels": [opts["--label"]],
                                "body": Path(opts["--body-file"]).read_text(), "state": "open",
                                "comments": []})
    elif argv[:2] in (["issue", "edit"], ["issue", "comment"], ["issue", "close"]):
        issue = next(i for i in state["issues"] if i["number"] == int(argv[2]))
        if "--body-file" in opts:
            issue["body"] = Path(opts["--body-file"]).read_text()
        if "--title" in opts:
            issue["title"] = opts["--title"]
        for key in ("--body", "--comment"):
            if key in opts:
                issue["comments"].append(opts[key])
        if argv[1] == "close":
            issue["state"] = "closed"
    elif argv[:2] == ["label", "create"]:
        pass
    else:
        print(f"fake gh: unsupported {argv}", file=sys.stderr)
        return 1
    state_path.write_text(json.dumps(state))
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
