# Managed by corral.cassandra.cassandra_stack: read by the role through one raw exec per host, no module.
"""Prints, as JSON, what a host's nodes' data holds and what the host can take, before anything changes:
the cluster name and partitioner each node's data holds (and where that was read), the host's memory,
the ports that listen on it and the ports its running containers publish.

Argument: JSON {"network", "nodes": [{"name", "data_dir", "images"}]}. A running node is asked (nodetool
describecluster in its container) and its address on `network` taken from the engine; a node that does not
run (or is restarting) but whose data directory holds data is read offline: system.local's sstables (which
hold the address it was written under) dumped by a throwaway container of its container's image or else the
first of `images` on the host, with the data directory bound read-only and no network. Both are read for
all the host's nodes at once. Standard library only (Python 3.6+), read-only.
"""
import http.client
import json
import os
import socket
import subprocess
import sys
import time

SOCKET = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").replace("unix://", "", 1)
TIMEOUT = 120
# The image's own sstabledump if it has one (the official image: tools/bin), else the class it runs,
# started as the image's nodetool starts its JVM (this collection's lab images).
DUMP = r"""
shopt -s nullglob
files=(/var/lib/cassandra/data/system/local-*/*-Data.db)
[ ${#files[@]} -gt 0 ] || { echo "no sstable of system.local in the data directory" >&2; exit 3; }
home="${CASSANDRA_HOME:-/opt/cassandra}"
for tool in sstabledump "$home/tools/bin/sstabledump"; do
  if command -v "$tool" >/dev/null 2>&1; then
    for file in "${files[@]}"; do "$tool" "$file" || exit; done
    exit 0
  fi
done
[ -f "$home/bin/cassandra.in.sh" ] || { echo "the image has no sstabledump" >&2; exit 3; }
source "$home/bin/cassandra.in.sh"
OPTS=()
declare -F read_options >/dev/null && read_options jvm-clients.options "jvm$JAVA_MAJOR-clients.options"
for file in "${files[@]}"; do
  "$JAVA" -Xmx256m "${OPTS[@]}" -cp "$CLASSPATH" -Dcassandra.storagedir=/tmp \
    -Dlogback.configurationFile=logback-tools.xml org.apache.cassandra.tools.SSTableExport "$file" || exit
done
"""


def listening():
    """[[proto, port]] of every listening TCP socket and bound UDP socket of the host."""
    found = set()
    for proto, state, files in (("tcp", "0A", ("tcp", "tcp6")), ("udp", "07", ("udp", "udp6"))):
        for name in files:
            try:
                with open("/proc/net/" + name) as table:
                    lines = table.read().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if len(fields) > 3 and fields[3] == state:
                    found.add((proto, int(fields[1].rsplit(":", 1)[1], 16)))
    return sorted([list(item) for item in found])


def mem_total_kib():
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def run(argv):
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)


class _UnixConnection(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(SOCKET)


def api(path):
    """The engine's answer to GET path; None when there is no such object."""
    connection = _UnixConnection("localhost")
    connection.request("GET", path)
    response = connection.getresponse()
    body = response.read().decode("utf-8")
    if response.status == 404:
        return None
    if response.status != 200:
        raise SystemExit("the engine refused GET %s: %s" % (path, body.strip()))
    return json.loads(body)


def published():
    """[{container, host_ip, host_port, proto}] of the ports the running containers publish."""
    ports = []
    for container in api("/containers/json"):
        name = (container.get("Names") or ["?"])[0].lstrip("/")
        for port in container.get("Ports") or []:
            if port.get("PublicPort"):
                ports.append({
                    "container": name,
                    "host_ip": port.get("IP") or "",
                    "host_port": int(port["PublicPort"]),
                    "proto": port.get("Type") or "tcp",
                })
    return ports


def present_image(images):
    for image in images:
        if image and subprocess.run(["docker", "image", "inspect", image], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, check=False).returncode == 0:
            return image
    return None


def address_on(container, network):
    """The container's IPv4 address on the network ("" when it is not attached)."""
    endpoint = ((container.get("NetworkSettings") or {}).get("Networks") or {}).get(network) or {}
    return endpoint.get("IPAddress") or (endpoint.get("IPAMConfig") or {}).get("IPv4Address") or ""


def start_reads(nodes, network):
    """{name: (how it was read, process, known fields)} for every node that runs or whose data directory holds data."""
    reads = {}
    for node in nodes:
        container = api("/containers/%s/json" % node["name"]) or {}
        state = container.get("State") or {}
        if state.get("Running") and not state.get("Restarting"):
            address = address_on(container, network)
            reads[node["name"]] = (
                "the running node (nodetool describecluster in %s)" % node["name"],
                run(["docker", "exec", node["name"], "nodetool", "describecluster"]),
                {"address": address} if address else {},
            )
        elif os.path.isdir(os.path.join(node["data_dir"], "data", "system")):
            image = present_image([(container.get("Config") or {}).get("Image")] + node["images"])
            if image is None:
                reads[node["name"]] = ("its data directory %s" % node["data_dir"], None, {})
                continue
            reads[node["name"]] = (
                "its data directory %s, read offline (system.local dumped with %s)" % (node["data_dir"], image),
                run(["docker", "run", "--rm", "--network", "none", "--hostname", "localhost", "--user", "999:999",
                     "--entrypoint", "bash",
                     "-v", node["data_dir"] + ":/var/lib/cassandra:ro", image, "-c", DUMP]),
                {},
            )
    return reads


def finish(reads):
    """{name: {source, stdout} or {source, error}} (with the fields known without it), every process waited
    for up to TIMEOUT in all."""
    deadline = time.time() + TIMEOUT
    result = {}
    for name, (source, process, known) in reads.items():
        result[name] = dict(known)
        if process is None:
            result[name].update({"source": source, "error": "no image of the node is on this host to read it with"})
            continue
        try:
            stdout, stderr = process.communicate(timeout=max(1, deadline - time.time()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            result[name].update({"source": source, "error": "no answer in %d s" % TIMEOUT})
            continue
        if process.returncode != 0:
            lines = [line for line in (stderr or stdout).splitlines() if line.strip()]
            result[name].update({"source": source, "error": lines[-1] if lines else "exit code %d" % process.returncode})
        else:
            result[name].update({"source": source, "stdout": stdout})
    return result


request = json.loads(sys.argv[1])
pending = start_reads(request.get("nodes") or [], request.get("network") or "")
state = {
    "mem_total_kib": mem_total_kib(),
    "listening": listening(),
    "published": published(),
}
state["nodes"] = finish(pending)
print(json.dumps(state))
