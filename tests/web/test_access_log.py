"""Access logs never hold a citizen's private link: no query strings, no referers.

A question's or request's private link is ``/hoi-dap/<code>?k=<key>``: whoever reads the key in
a log can open the page with the citizen's contact details.
"""

from __future__ import annotations

import re
from pathlib import Path

from planning_gis import cluster
from planning_gis.web import gunicorn_config


def test_gunicorn_logs_the_path_without_query_or_referer():
    fmt = gunicorn_config.access_log_format
    assert "%(U)s" in fmt  # the path
    for atom in ("%(q)s", "%(r)s", "%(f)s", "%(u)s"):  # query, request line, referer, user
        assert atom not in fmt, atom


def test_nginx_logs_the_path_without_arguments_or_referer(tmp_path: Path):
    conf = cluster.nginx_conf(tmp_path, "127.0.0.1:8080", ["127.0.0.1:8001"])
    log_format = re.search(r"log_format json .*?;", conf, re.S).group(0)
    assert "$uri" in log_format
    for var in ("$request_uri", "$request", "$args", "$query_string", "$http_referer"):
        assert not re.search(re.escape(var) + r"\b", log_format), var
