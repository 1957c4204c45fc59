"""The drift flow served on a real `prefect server start`: schedule registered, runs Completed and Failed, the event and the automation's webhook."""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import numpy as np
import pytest

from labelguard.server import free_port
from labelguard.tasks import drift
from labelguard.tasks.attacks import flip_labels
from labelguard.tasks.ledger import Ledger
from labelguard.tasks.manifest import ColumnSpec, load_signing_key, load_verify_key
from labelguard.tasks.simulate import DayPlan, make_day
from tests.conftest import QUIET, stop_group as _stop, wait_for_sigterm_handler

pytestmark = pytest.mark.flow
SPEC = ColumnSpec(positive_class=1)


class _Hook(http.server.BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).received.append(body.decode())
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


DRIVER = r'''
import json, sys, time
from prefect.deployments import run_deployment
from prefect.client.orchestration import get_client
from prefect.events.filters import EventFilter, EventNameFilter
from labelguard.flows.drift import create_alert

clean_day, poisoned_day, hook = sys.argv[1:4]
out = {"automation": create_alert("drift-alarm", webhook=hook)}
with get_client(sync_client=True) as client:
    deadline = time.monotonic() + 90
    while True:
        try:
            dep = client.read_deployment_by_name("labelguard-drift/drift")
            break
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    out["schedules"] = [s.schedule.cron for s in dep.schedules]
    for day in (clean_day, poisoned_day):
        run = run_deployment("labelguard-drift/drift", parameters={"since": day, "until": day}, timeout=180)
        out[day] = run.state.type.value
    deadline = time.monotonic() + 30
    while True:
        events = client.read_events(filter=EventFilter(event=EventNameFilter(name=["labelguard.guard.fired"])), limit=50).events
        if events or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    out["events"] = [{"resource": e.resource.id, "payload": e.payload} for e in events]
print("RESULT " + json.dumps(out, default=str))
'''


def test_served_drift_deployment_runs_fails_emits_and_alerts(prefect_server, tmp_path, keys):
    api = prefect_server
    root = tmp_path / "lake"
    from labelguard.tasks.storage import LocalStore

    store, book, key = LocalStore(root), Ledger(tmp_path / "ledger.jsonl"), load_signing_key(keys[0])
    days = [f"2026-04-{i:02d}" for i in range(1, 11)]
    for i, day in enumerate(days):
        frame = make_day(i, day, np.random.default_rng([31, i]), np.array([0.6, 0.8]), DayPlan())
        if i == 9:
            frame = flip_labels(frame, SPEC, attack="random", rate=0.2, seed=2).frame
        drift.ingest_partition(store, frame, SPEC, key, day=day, source={"kind": "test"}, holdout_fraction=0.3 if i == 0 else 0.0, ledger=book)
        if i == 8:  # nine clean days checked before the schedule starts: the poisoned tenth is the newest unchecked
            assert not any(r.alarm for r in drift.check_partitions(str(root), load_verify_key(keys[1]), signing_key=load_signing_key(keys[0]), ledger=book))
    hook_port = free_port()
    _Hook.received = []
    listener = http.server.HTTPServer(("127.0.0.1", hook_port), _Hook)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    env = {**os.environ, **QUIET, "PREFECT_API_URL": api, "LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0]), "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    watch = subprocess.Popen([sys.executable, "-m", "labelguard.cli", "watch", str(root), "--cron", "0 6 * * *", "--name", "drift", "--ledger", str(book.path)],
                             env=env, cwd=tmp_path, stdout=open(tmp_path / "watch.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        driver = subprocess.run([sys.executable, "-c", DRIVER, days[8], days[9], f"http://127.0.0.1:{hook_port}/hook"],
                                env=env, capture_output=True, text=True, timeout=420)
        line = next((ln for ln in driver.stdout.splitlines() if ln.startswith("RESULT ")), None)
        assert line, driver.stderr[-3000:] + (tmp_path / "watch.log").read_text()[-2000:]
        res = json.loads(line[7:])
        deadline = time.monotonic() + 30
        while not _Hook.received and time.monotonic() < deadline:
            time.sleep(0.5)
    finally:
        _stop(watch)
        listener.shutdown()
    assert res["schedules"] == ["0 6 * * *"]
    assert (res[days[8]], res[days[9]]) == ("COMPLETED", "FAILED")
    assert [e["resource"] for e in res["events"]] == [f"labelguard.partition.{root}/date=2026-04-10"]
    payload = res["events"][0]["payload"]
    assert payload["date"] == "2026-04-10" and "noise_rate" in payload["guards"]
    assert payload["statistics"]["noise_rate"]["z"] > payload["statistics"]["noise_rate"]["threshold"]
    assert len(_Hook.received) == 1
    posted = json.loads(_Hook.received[0])
    assert posted["event"] == "labelguard.guard.fired"
    assert posted["partition"] == f"labelguard.partition.{root}/date=2026-04-10"
    assert "noise_rate" in posted["guards"].split(",")


def test_watch_stops_on_sigterm_with_one_line(prefect_server, tmp_path, keys):
    """SIGTERM to `labelguard watch` printed Prefect's runner INFO lines on stderr; now one line on stdout, exit 0, the deployment paused."""
    import httpx

    from labelguard.tasks.storage import LocalStore

    root = LocalStore(tmp_path / "lake")
    for i, day in enumerate(["2026-04-01", "2026-04-02"]):
        frame = make_day(i, day, np.random.default_rng([41, i]), np.array([0.6, 0.8]), DayPlan(rows=300))
        drift.ingest_partition(root, frame, SPEC, load_signing_key(keys[0]), day=day, source={"kind": "test"}, holdout_fraction=0.3 if i == 0 else 0.0)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_LOGGING")}  # the console a user has
    env.update({"PREFECT_API_URL": prefect_server, "LABELGUARD_VERIFY_KEY": str(keys[1]), "LABELGUARD_SIGNING_KEY": str(keys[0])})
    watch = subprocess.Popen([sys.executable, "-m", "labelguard.cli", "watch", str(root.root), "--cron", "0 6 * * *", "--name", "quiet", "--ledger", "none"],
                             env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        url = f"{prefect_server}/deployments/name/labelguard-drift/quiet"
        while httpx.get(url).status_code != 200:  # served: the runner has registered the deployment
            assert watch.poll() is None and time.monotonic() < deadline, watch.communicate()
            time.sleep(0.5)
        wait_for_sigterm_handler(watch.pid)  # sent at once: watch pauses the deployment itself if the runner had not started
        watch.send_signal(signal.SIGTERM)
        stdout, stderr = watch.communicate(timeout=60)
    finally:
        _stop(watch)
    assert (watch.returncode, stderr) == (0, "")
    assert stdout.splitlines() == [
        f"serving labelguard-drift/quiet: drift checks of {root.root} on '0 6 * * *' against {prefect_server} (Ctrl-C stops)",
        "watch stopped: deployment labelguard-drift/quiet paused, no more scheduled runs",
    ]
    assert httpx.get(url).json()["paused"] is True
