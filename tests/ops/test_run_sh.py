"""run.sh as operators use it: the session key file, the supervised job worker, the service user,
and gunicorn's control socket per instance (issue 12, defects 1, 4 and 11).

Real parts: the script itself run by bash, a real gunicorn and worker on the test database, the
real system user when the tests run as root (as ``./run.sh demo`` is run).
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from planning_gis.settings import PROJECT_ROOT, Settings, check_secret_key
from tests.ops.conftest import free_port, start_gunicorn

RUN_SH = PROJECT_ROOT / "run.sh"
VENV = Path(sys.executable).parent.parent


def control_socket_path(data_dir: Path, bind: str) -> Path:
    """Where each instance's control socket is expected: under its data folder, by address."""
    return data_dir / "run" / f"gunicorn-{bind.replace(':', '_')}.ctl"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLANNING_SECRET_KEY")}
    env.update(extra)
    return env


def test_run_sh_keeps_one_private_key_out_of_git(tmp_path):
    data = tmp_path / "data"
    first = subprocess.run(["bash", str(RUN_SH), "secret-key"], env=_env(PLANNING_DATA_DIR=str(data)),
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    key_file = data / "secret_key"
    assert first.stdout.splitlines()[-1] == str(key_file)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text().strip()
    check_secret_key(key)  # long and random enough for create_app
    again = subprocess.run(["bash", str(RUN_SH), "secret-key"], env=_env(PLANNING_DATA_DIR=str(data)),
                           capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and key_file.read_text().strip() == key  # stable across runs
    # The service reads it from the data folder; the default folder is ignored by git.
    assert Settings.from_env({"PLANNING_DATA_DIR": str(data)}).secret_key == key
    ignored = subprocess.run(["git", "check-ignore", "-q", "var/secret_key"], cwd=PROJECT_ROOT)
    assert ignored.returncode == 0, "var/secret_key would be committed"
    # An operator's own key is used as given: no file is made.
    other = tmp_path / "other"
    given = subprocess.run(["bash", str(RUN_SH), "secret-key"],
                           env=_env(PLANNING_DATA_DIR=str(other),
                                    PLANNING_SECRET_KEY="operator-key-" + "9f" * 16),
                           capture_output=True, text=True, timeout=60)
    assert given.returncode == 0 and not (other / "secret_key").exists()


@pytest.mark.db
def test_two_gunicorn_instances_keep_their_own_control_sockets(settings, tmp_path):
    """Two instances on one machine used one control socket path, and the second replaced
    (and on exit removed) the first one's."""
    import dataclasses

    s = dataclasses.replace(settings, data_dir=str(tmp_path / "data"))
    home = tmp_path / "home"  # gunicorn's own default would be $HOME/.gunicorn/gunicorn.ctl
    home.mkdir()
    ports = [free_port(), free_port()]
    procs = []
    try:
        for port in ports:
            procs.append(start_gunicorn(s, port, workers=1, threads=1, HOME=str(home),
                                        XDG_RUNTIME_DIR=""))
        sockets = [control_socket_path(Path(s.data_dir).resolve(), f"127.0.0.1:{p}")
                   for p in ports]
        deadline = time.monotonic() + 30
        while not all(p.exists() for p in sockets) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert all(stat.S_ISSOCK(p.stat().st_mode) for p in sockets), list(
            (s.data_path / "run").glob("*")) if (s.data_path / "run").exists() else "no run/"
        procs[0].terminate()
        procs[0].wait(timeout=30)
        assert not sockets[0].exists() and stat.S_ISSOCK(sockets[1].stat().st_mode)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> dict[int, str]:
    """Every process under ``pid`` with its command line."""
    tree, found, todo = _children(), {}, [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            try:
                found[child] = (Path(f"/proc/{child}/cmdline").read_bytes()
                                .replace(b"\0", b" ").decode())
            except OSError:
                continue
            todo.append(child)
    return found


def _uid(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid for {pid}")


def _health(port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=10) as r:
            return r.status
    except OSError:
        return 0


@pytest.fixture
def world_readable_data() -> Iterator[Path]:
    """A data folder the service user may reach (pytest's own tmp_path is root's alone)."""
    root = Path(tempfile.mkdtemp(prefix="planning-serve-"))
    root.chmod(0o755)
    yield root / "data"
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.db
def test_run_sh_serve_restarts_a_dead_worker_as_the_service_user(settings, world_readable_data,
                                                                tmp_path):
    port = free_port()
    # a metrics folder inherited from a root shell, which the service user cannot write: once
    # every request then failed (gunicorn_config makes its own folder instead)
    root_only = tmp_path / "root-metrics"
    root_only.mkdir(mode=0o700)
    env = _env(PLANNING_DATABASE_URL=settings.database_url,
               PLANNING_DATA_DIR=str(world_readable_data), PLANNING_VENV=str(VENV),
               PORT=str(port), WORKERS="1", THREADS="2",
               PROMETHEUS_MULTIPROC_DIR=str(root_only))
    proc = subprocess.Popen(["bash", str(RUN_SH), "serve"], env=env, cwd=PROJECT_ROOT,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 240  # a loaded 2-core machine: start-up took over 90 s once
        while _health(port) != 200:
            assert proc.poll() is None, f"run.sh serve exited ({proc.returncode})"
            assert time.monotonic() < deadline, "the service did not answer"
            time.sleep(0.5)
        procs = _descendants(proc.pid)
        master = [p for p, cmd in procs.items() if "gunicorn" in cmd
                  and int(Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[1])
                  == proc.pid]
        workers = [p for p, cmd in procs.items() if "import_maps.py jobs run" in cmd]
        assert len(master) == 1 and len(workers) == 1, procs
        key = world_readable_data / "secret_key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        sock = control_socket_path(world_readable_data.resolve(), f"127.0.0.1:{port}")
        assert stat.S_ISSOCK(sock.stat().st_mode)
        if os.geteuid() == 0:  # started as root: everything runs as the service user
            service = pwd.getpwnam("planning").pw_uid
            assert service != 0
            served = {p: (_uid(p), cmd) for p, cmd in procs.items()
                      if "gunicorn" in cmd or "import_maps.py" in cmd}
            assert len(served) >= 3 and {u for u, _ in served.values()} == {service}, served
            assert key.stat().st_uid == service

        # A dead worker is started again; gunicorn stays up.
        os.kill(workers[0], signal.SIGKILL)
        killed_at = time.monotonic()
        while True:
            again = [p for p, cmd in _descendants(proc.pid).items()
                     if "import_maps.py jobs run" in cmd and p != workers[0]]
            if again:
                break
            assert time.monotonic() - killed_at < 20, "the worker was not started again"
            time.sleep(0.2)
        print(f"\nworker restarted by run.sh after {time.monotonic() - killed_at:.1f} s")
        assert _health(port) == 200 and Path(f"/proc/{master[0]}").exists()

        # TERM stops everything: gunicorn, the worker and run.sh.
        everything = set(_descendants(proc.pid))
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 143
        time.sleep(0.5)
        left = {p for p in everything if Path(f"/proc/{p}").exists()}
        assert left == set()
        assert not sock.exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
