"""A stub worker for the supervisor's tests: the real protocol, no TensorFlow.

Run as ``python stub_worker.py --plan PLAN --events-fd N --items-dir D --parent P [--meta]``,
like the engine's workers.  Each item of the plan is ``[name, variant, mode]``; the name
says what the item does:

- ``ok...``: an ``ok`` outcome;
- ``segv``, ``abort``, ``exit3``: kill the worker (SIGSEGV, SIGABRT, exit code 3);
- ``hang``: sleep far past any timeout; ``hang-child`` first starts a child that sleeps too
  and writes its pid to ``settings.pidfile``;
- ``quit-after``: an ``ok`` outcome, then the worker ends while idle.

``settings`` in the plan: ``item_s`` (seconds each ``ok`` item takes), ``fail_starts`` (die before ``ready`` this many times, counted in
``settings.counter``), ``slow_start`` (seconds before ``ready``).
"""

import json
import os
import signal
import subprocess
import sys
import time

from tfcanary._engine import worker
from tfcanary.outcome import Outcome, Status


def main(argv):
    args = worker.parser("stub").parse_args(argv)
    plan = worker.start(args)
    settings = plan.get("settings", {})
    events = worker.Events(args.events_fd)
    counter = settings.get("counter")
    if counter:
        n = int(open(counter).read()) if os.path.exists(counter) else 0
        with open(counter, "w") as f:
            f.write(str(n + 1))
        if n < settings.get("fail_starts", 0):
            print("stub: failing to start on purpose", flush=True)
            sys.exit(7)
    time.sleep(settings.get("slow_start", 0))
    if args.meta:
        events.emit({"event": "meta", "import_s": 0.0, "metadata": {"stub": True, "pid": os.getpid()}})
    items = plan["items"]
    quit_after = []

    def run(i, msg):
        nxt = msg.get("next")
        name, variant, mode = items[i]
        if name == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if name == "abort":
            print("Fatal Python error: Aborted on purpose", flush=True)
            os.abort()
        if name == "exit3":
            os._exit(3)
        if name == "hang-child":
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3600)"])
            with open(settings["pidfile"], "w") as f:
                f.write(str(child.pid))
        if name.startswith("hang"):
            time.sleep(3600)
        if name == "quit-after":
            quit_after.append(i)
        time.sleep(settings.get("item_s", 0))
        return Outcome(name, variant, mode, Status.OK, duration_s=0.0,
                       reason=f"pid {os.getpid()} next {nxt}").to_dict()

    if any(item[0] == "quit-after" for item in items):
        # serve() until the quit-after item is done, then end while idle
        events.emit({"event": "ready"})
        for line in sys.stdin:
            msg = json.loads(line)
            events.emit({"event": "start", "i": msg["i"]})
            events.emit({"event": "outcome", "i": msg["i"], "outcome": run(msg["i"], msg)})
            if quit_after:
                os._exit(0)
        return 0
    worker.serve(events, run)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
