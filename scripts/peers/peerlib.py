"""What the three peer labs share (scripts/peers/peers.py, apps/apps.py, web/web_peers.py):
picking free ports, starting a peer in its own session, waiting until it listens, and stopping
what a manifest lists. Loopback only; every wait is bounded."""

import json
import os
import signal
import socket
import subprocess
import time


def free_port(start, taken, host="127.0.0.1"):
    """The first port >= start that `host` can bind and that was not already handed out.
    Peers that take the port on every address (Orthanc, DCMTK) need host "0.0.0.0"."""
    port = start
    while port < 65000:
        if port not in taken:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            try:
                s.bind((host, port))
                taken.add(port)
                return port
            except OSError:
                pass
            finally:
                s.close()
        port += 1
    raise SystemExit("no free port")


def wait_tcp(port, proc, what, attempts=400):
    """Polls 127.0.0.1:port until it accepts (bounded: attempts x 50 ms); fails at once if the
    process has exited."""
    for _ in range(attempts):
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"{what} exited early (code {proc.returncode})")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port}")


def spawn(args, log, **kw):
    """Starts a peer in its own session (so kill() takes its children too), output to `log`."""
    return subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, **kw)


def kill(pid):
    """SIGTERM to the peer's process group, up to 2 s to go, then SIGKILL."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        return
    for _ in range(100):
        try:
            os.kill(pid, 0)
        except OSError:
            return
        # Reap if it is our child; otherwise poll until it is gone.
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def stop_manifest(state, name):
    """Kills every peer the manifest state/name lists, then removes the manifest."""
    path = os.path.join(state, name)
    if not os.path.exists(path):
        return
    with open(path) as f:
        data = json.load(f)
    for peer in data["peers"].values():
        kill(peer["pid"])
    os.remove(path)
