# Managed by corral.cassandra.docker_engine: read by the role through one raw exec, no module.
"""Prints, as JSON, what the docker_engine role needs to know of a host: its operating system
(/etc/os-release, service manager, Python) and the engine state it compares with what it wants.

Arguments: the packages to look up. Standard library only (Python 3.6+), read-only.
"""
import grp
import json
import os
import pwd
import subprocess
import sys

DAEMON_JSON = "/etc/docker/daemon.json"


def run(argv):
    try:
        done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, check=False)
    except OSError as exc:
        return {"rc": 127, "stdout": "", "stderr": str(exc)}
    return {"rc": done.returncode, "stdout": done.stdout.strip(), "stderr": done.stderr.strip()}


def path_state(path):
    try:
        found = os.stat(path)
    except OSError:
        return None
    try:
        owner = pwd.getpwuid(found.st_uid).pw_name
    except KeyError:
        owner = str(found.st_uid)
    try:
        group = grp.getgrgid(found.st_gid).gr_name
    except KeyError:
        group = str(found.st_gid)
    return {"owner": owner, "group": group, "mode": "%04o" % (found.st_mode & 0o7777), "dir": os.path.isdir(path)}


def installed_packages(names):
    """{name: version} of the installed ones among names (dpkg, else rpm)."""
    if not names:
        return {}
    found = {}
    listing = run(["dpkg-query", "-W", "-f", "${Package}\t${db:Status-Abbrev}\t${Version}\n"] + names)
    if listing["rc"] != 127:
        for line in listing["stdout"].splitlines():
            fields = line.split("\t")
            if len(fields) == 3 and fields[1].startswith("ii"):
                found[fields[0]] = fields[2]
        return found
    listing = run(["rpm", "-q", "--qf", "%{NAME}\t%{VERSION}\n"] + names)
    for line in listing["stdout"].splitlines():
        fields = line.split("\t")
        if len(fields) == 2:
            found[fields[0]] = fields[1]
    return found


def os_release():
    found = {}
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            with open(path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            continue
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                found[key.strip()] = value.strip().strip("\"'")
        break
    return found


def service_manager():
    if os.path.isdir("/run/systemd/system"):
        return "systemd"
    try:
        with open("/proc/1/comm", encoding="utf-8") as handle:
            return handle.read().strip()
    except OSError:
        return "unknown"


def main():
    content = None
    try:
        with open(DAEMON_JSON, encoding="utf-8") as handle:
            content = handle.read()
    except OSError:
        pass
    state = {
        "os_release": os_release(),
        "service_mgr": service_manager(),
        "python_minor": sys.version_info[1],
        "packages": installed_packages(sys.argv[1:]),
        "dockerd_version": run(["dockerd", "--version"]),
        "etc_docker": path_state(os.path.dirname(DAEMON_JSON)),
        "daemon_json": path_state(DAEMON_JSON),
        "daemon_json_content": content,
        "service_active": run(["systemctl", "is-active", "docker.service"])["stdout"],
        "service_enabled": run(["systemctl", "is-enabled", "docker.service"])["stdout"],
    }
    print(json.dumps(state))


main()
